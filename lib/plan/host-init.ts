import { err, ok, type Result } from "neverthrow";
import {
  concatChangesets,
  diffSysctls,
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  step,
  type Changeset,
  type NetlinkOp,
  type NetnsState,
} from "../changeset/index.js";
import type { Family } from "../net/index.js";
import { POD_RULE_PRIO, POD_TABLE_ID } from "../constants.js";
import { MAX_U32, validateInt, type PlanError } from "./errors.js";

/** Options of {@link planHostInit}. */
export interface HostInitOptions {
  /** `--pod-table-id` (116). Egress-only deployments pass 0 (IPv4) / 255 (IPv6); see Coil §4.1. */
  readonly podTable?: number;
  /** `--pod-rule-prio` (2000). */
  readonly podRulePrio?: number;
  /** Families enabled on the node (default both). */
  readonly families?: readonly Family[];
  /** Observed host state: its rules decide whether the pod-table rule is added, its sysctls skip no-op writes. */
  readonly observed?: NetnsState;
}

/** The forwarding sysctl of a family. */
export function forwardingSysctl(family: Family): string {
  return family === 4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
}

/**
 * Plan coild's host initialisation (§4.1). Kernel end state (defaults):
 * ```
 * sysctl -w net.ipv4.ip_forward=1
 * sysctl -w net.ipv6.conf.all.forwarding=1
 * ip rule add from all lookup 116 priority 2000
 * ip -6 rule add from all lookup 116 priority 2000
 * ```
 * Why: the host routes pod traffic between veths and the uplink, so it must forward; the rule makes
 * the kernel consult table 116, which holds one route per local pod (see {@link planPodSetup}),
 * before the main table. Like Coil, a rule is added only when **no** rule of that family exists at
 * that priority (another component may own it); the rule is never deleted.
 */
export function planHostInit(opts: HostInitOptions = {}): Result<Changeset, PlanError> {
  const table = opts.podTable ?? POD_TABLE_ID;
  const prio = opts.podRulePrio ?? POD_RULE_PRIO;
  const checks = [validateInt("podTable", table, 0, MAX_U32), validateInt("podRulePrio", prio, 0, MAX_U32)];
  for (const c of checks) if (c.isErr()) return err(c.error);
  const families = opts.families ?? [4, 6];
  const observed = opts.observed ?? EMPTY_NETNS_STATE;
  const sysctls = diffSysctls(families.map((f) => [forwardingSysctl(f), "1"] as const), observed.sysctls);
  const rules: NetlinkOp[] = families
    .filter((family) => !observed.rules.some((r) => r.family === family && r.priority === prio))
    .map((family) => ({ kind: "rule.add", rule: { family, priority: prio, table } }));
  return ok(concatChangesets({ steps: [step(HOST_NETNS, [...sysctls, ...rules])] }));
}
