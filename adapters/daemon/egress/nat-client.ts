/**
 * coild's NAT client inside a client pod's network namespace (Coil §6.3-6.4): policy routing
 * (rules 1800/1900/2000-2002/2100, tables 117/118) at ADD, then per gateway the tunnel to the
 * Egress Service ClusterIP (FoU as Coil, or VXLAN) with its table-117/118 routes, and
 * originating-only mode with connmark rules of the nftables or iptables backend. The same sync
 * (without the init) is what the EgressWatcher runs in a running pod when an Egress changes.
 * lib/plan plans every step from the observed namespace; this file observes and applies.
 */
import { err, ok, type Result } from "neverthrow";
import { netnsPath as pathRef, type Changeset, type KernelApplyError, type KernelObserveError, type Kernel, type NetnsState } from "../../../lib/changeset/index.js";
import { EGRESS_RULE_PRIO, EGRESS_TABLE_NARROW, EGRESS_TABLE_WIDE } from "../../../lib/constants.js";
import { clientTunnel, type NatGateway } from "../../../lib/egress/index.js";
import { ipFamily, type Family, type Ip } from "../../../lib/net/index.js";
import { originatingOnlyIptables, originatingOnlyLinks, planEgressClientInit, planEgressClientSync, planEgressClientTeardown, tunnelLinkName, tunnelLocal, type PlanError } from "../../../lib/plan/index.js";
import { deleteIptablesRules, ensureIptablesRules, runInNetns, type ExecError } from "../../kernel/index.js";

/** The node-wide NAT client settings (coild flags). */
export interface NatClientSettings {
  /** Kernel port. */
  readonly kernel: Kernel;
  /** `--egress-port` (5555): FoU/VXLAN UDP port. */
  readonly port: number;
  /** `--tunnel` (fou). */
  readonly tunnel: "fou" | "vxlan";
  /** `--backend` (iptables). */
  readonly backend: "iptables" | "nftables";
  /** `--enable-originating-only`. */
  readonly originatingOnly: boolean;
}

/** The client pod: its namespace file and addresses. */
export interface NatClientPod {
  /** Network namespace file of the pod. */
  readonly netns: string;
  /** The pod's IPv4 address. */
  readonly ipv4?: Ip;
  /** The pod's IPv6 address. */
  readonly ipv6?: Ip;
}

/** Why the NAT client could not be set up. */
export type NatClientError =
  | { readonly kind: "plan-failed"; readonly cause: PlanError; readonly message: string }
  | { readonly kind: "observe-failed"; readonly cause: KernelObserveError; readonly message: string }
  | { readonly kind: "apply-failed"; readonly cause: KernelApplyError; readonly message: string }
  | { readonly kind: "iptables-failed"; readonly cause: ExecError; readonly message: string }
  | { readonly kind: "not-initialised"; readonly message: string };

function families(p: NatClientPod): Family[] {
  return [...(p.ipv4 !== undefined ? [4 as const] : []), ...(p.ipv6 !== undefined ? [6 as const] : [])];
}

const applyFailed = (e: KernelApplyError, what = "set up"): NatClientError => ({
  kind: "apply-failed",
  cause: e,
  message: `failed to ${what} the NAT client: ${e.kind === "apply-failed" ? e.stderr.trim() || e.reason : e.kind}`,
});

const observeFailed = (e: KernelObserveError): NatClientError => ({ kind: "observe-failed", cause: e, message: `cannot read the pod's network: ${e.kind}` });

/**
 * The encap source port in `ip -d -j link show dev <link>` output, or undefined. iproute2 prints a
 * tunnel's encapsulation as `linkinfo.info_data.encap: { type, sport, dport, … }` with `sport` 0
 * for `encap-sport auto` (the text form's `encap-sport auto`), for ipip and ip6tnl alike.
 */
export function encapSportFromIpJson(stdout: string): number | undefined {
  try {
    const [l] = JSON.parse(stdout) as Array<{ linkinfo?: { info_data?: { encap?: { sport?: unknown } } } }>;
    const v = l?.linkinfo?.info_data?.encap?.sport;
    return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The encap source port of an existing FoU link (`ip -d -j link show`), when there is one. */
async function observedSport(netns: string, link: string): Promise<number | undefined> {
  const r = await runInNetns(pathRef(netns), ["ip", "-d", "-j", "link", "show", "dev", link]);
  return r.isErr() ? undefined : encapSportFromIpJson(r.value.stdout);
}

/** Whether the NAT client's policy routing is there for `family` (Coil's `IsInitialized`: the rules to 117 and 118). */
function initialised(observed: NetnsState, family: Family): boolean {
  const has = (priority: number, table: number): boolean => observed.rules.some((r) => r.family === family && r.priority === priority && r.table === table);
  return has(EGRESS_RULE_PRIO.narrow, EGRESS_TABLE_NARROW) && has(EGRESS_RULE_PRIO.wide, EGRESS_TABLE_WIDE);
}

async function iptablesConnmark(s: NatClientSettings, pod: NatClientPod, family: Family, observed: NetnsState, on: boolean): Promise<Result<void, NatClientError>> {
  const rules = originatingOnlyLinks(family, observed).flatMap((l) => (l.index === undefined ? [] : originatingOnlyIptables(family, l.name, l.index)));
  const ref = pathRef(pod.netns);
  const r = on ? await ensureIptablesRules(ref, rules) : await deleteIptablesRules(ref, rules);
  return r.isErr() ? err({ kind: "iptables-failed", cause: r.error, message: `iptables failed: ${r.error.kind === "exit-nonzero" ? r.error.stderr.trim() : r.error.kind}` }) : ok(undefined);
}

/**
 * Set up (`init`: at ADD, Coil's `NatClient.Init` first) or update (the EgressWatcher: the
 * policy routing must already be there, else `not-initialised`) the NAT client of a pod for
 * `gateways`. Gateways of a family the pod lacks are skipped (Coil's `ErrIPFamilyMismatch`).
 */
export async function syncNatClient(s: NatClientSettings, pod: NatClientPod, gateways: readonly NatGateway[], o: { readonly init: boolean }): Promise<Result<void, NatClientError>> {
  const ref = pathRef(pod.netns);
  const first = await s.kernel.observe(ref);
  if (first.isErr()) return err(observeFailed(first.error));
  if (o.init) {
    const plan = planEgressClientInit({ netnsPath: pod.netns, families: families(pod), observed: first.value });
    if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error, message: plan.error.message });
    const applied = await s.kernel.apply(plan.value);
    if (applied.isErr()) return err(applyFailed(applied.error));
  } else {
    const missing = families(pod).filter((f) => !initialised(first.value, f));
    if (missing.length > 0) return err({ kind: "not-initialised", message: `the NAT client of ${pod.netns} is not initialised (no rules to tables 117/118 for IPv${missing.join(", IPv")})` });
  }
  for (const gw of gateways) {
    const tunnel = clientTunnel(s, pod, gw);
    if (tunnelLocal(tunnel).isErr()) continue;
    const observed = await s.kernel.observe(ref);
    if (observed.isErr()) return err(observeFailed(observed.error));
    const nft = s.backend === "nftables" ? await s.kernel.observeNft(ref) : undefined;
    if (nft?.isErr() === true) return err({ kind: "observe-failed", cause: nft.error, message: `cannot list the pod's nftables: ${nft.error.kind}` });
    const link = tunnelLinkName(tunnel);
    const sport = tunnel.kind === "fou" && observed.value.links.some((l) => l.name === link) ? await observedSport(pod.netns, link) : undefined;
    const plan = planEgressClientSync({
      netnsPath: pod.netns,
      tunnel,
      destinations: gw.destinations,
      originatingOnly: s.originatingOnly,
      observed: observed.value,
      observedNft: nft?.isOk() === true ? nft.value.rules : [],
      ...(sport !== undefined ? { observedSport: sport } : {}),
    });
    if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error, message: plan.error.message });
    const cs: Changeset = s.backend === "nftables" ? plan.value : { steps: plan.value.steps.map((st) => ({ ...st, nft: [] })) };
    const applied = await s.kernel.apply(cs);
    if (applied.isErr()) return err(applyFailed(applied.error));
    if (s.backend === "iptables") {
      const r = await iptablesConnmark(s, pod, ipFamily(gw.gateway), observed.value, s.originatingOnly && gw.destinations.length > 0);
      if (r.isErr()) return r;
    }
  }
  return ok(undefined);
}

/**
 * Remove the NAT client from a pod (egress-only mode: at DEL, and when an ADD fails after the NAT
 * set-up began): lib/plan's `planEgressClientTeardown` over the observed namespace, then, with the
 * iptables backend, originating-only mode's connmark rules. Nothing there is a success.
 */
export async function removeNatClient(s: NatClientSettings, pod: NatClientPod): Promise<Result<void, NatClientError>> {
  const ref = pathRef(pod.netns);
  const observed = await s.kernel.observe(ref);
  if (observed.isErr()) return err(observeFailed(observed.error));
  const nft = s.backend === "nftables" ? await s.kernel.observeNft(ref) : undefined;
  if (nft?.isErr() === true) return err({ kind: "observe-failed", cause: nft.error, message: `cannot list the pod's nftables: ${nft.error.kind}` });
  const plan = planEgressClientTeardown({
    netnsPath: pod.netns,
    observed: observed.value,
    observedNft: nft?.isOk() === true ? nft.value.rules : [],
    fouPort: s.port,
    fouFamilies: families(pod),
  });
  if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error, message: plan.error.message });
  if (plan.value.steps.length > 0) {
    const applied = await s.kernel.apply(plan.value);
    if (applied.isErr()) return err(applyFailed(applied.error, "remove"));
  }
  if (s.backend === "iptables" && s.originatingOnly) {
    for (const family of families(pod)) {
      const r = await iptablesConnmark(s, pod, family, observed.value, false);
      if (r.isErr()) return r;
    }
  }
  return ok(undefined);
}
