/**
 * A CNI attachment call (ADD, DEL, CHECK) as a node plugin's daemon receives it: Coil's `coil`
 * executable forwards the runtime's variables to coild as `CNIArgs` (container id, netns, ifname,
 * `CNI_ARGS` pairs plus `IS_CHAINED`, and prevResult's addresses and interfaces). {@link parseCniCall}
 * turns that request, once, into a validated {@link CniCall}; code behind it never reads the raw
 * pairs again.
 */
import { err, ok, type Result } from "neverthrow";
import { parseIp, type Ip } from "../net/index.js";
import { checkPodNames } from "./args.js";
import { CNI_ERROR, cniError, quoteValue, type CniError } from "./errors.js";
import { validateContainerId, validateIfName, validatePath } from "./names.js";
import type { PrevResultSummary } from "./prev-result.js";

/** The `CNIArgs.args` key telling the daemon whether the plugin runs after another one (Coil `constants.IsChained`). */
export const IS_CHAINED_KEY = "IS_CHAINED";

/** The pod a call is for: `K8S_POD_NAMESPACE` and `K8S_POD_NAME` of `CNI_ARGS`; `""` when the runtime did not send one. */
export interface PodRef {
  /** Namespace (an RFC 1123 label on ADD). */
  readonly namespace: string;
  /** Name (an RFC 1123 subdomain on ADD). */
  readonly name: string;
}

/** The fields of the wire request (`CNIArgs` of `proto/cni.proto`) that {@link parseCniCall} reads. */
export interface CniCallInput {
  /** `CNI_CONTAINERID`. */
  readonly containerId: string;
  /** `CNI_NETNS` (`""` when unset). */
  readonly netns: string;
  /** `CNI_IFNAME`. */
  readonly ifname: string;
  /** The `CNI_ARGS` pairs Coil forwards (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`, …) plus `IS_CHAINED`. */
  readonly args: Readonly<Record<string, string>>;
  /** prevResult's addresses, without prefix length (chained calls). */
  readonly ips?: readonly string[];
  /** prevResult's interfaces: name → whether it has a sandbox (chained calls). */
  readonly interfaces?: Readonly<Record<string, boolean>>;
}

/** The verbs that concern one attachment. */
export type CniAttachmentCommand = "ADD" | "DEL" | "CHECK";

/** A validated attachment call. */
export interface CniCall {
  /** `CNI_CONTAINERID` (the CNI spec's rule: `^[A-Za-z0-9][A-Za-z0-9_.-]*$`, at most 1024 characters). */
  readonly containerId: string;
  /** `CNI_IFNAME` (a Linux interface name, 1-15 bytes of `[A-Za-z0-9_.-]`). */
  readonly ifname: string;
  /** `CNI_NETNS`, an absolute path; absent only for a DEL sent without one. */
  readonly netns?: string;
  /** The pod (names checked on ADD, where they choose the pool; carried as sent on DEL and CHECK). */
  readonly pod: PodRef;
  /** ADD only: prevResult's addresses and interfaces when the plugin is called after another one (`IS_CHAINED`); absent when it runs first. */
  readonly chained?: PrevResultSummary;
}

/** An ADD or CHECK: the netns is always there. */
export interface CniSandboxCall extends CniCall {
  /** `CNI_NETNS`, an absolute path. */
  readonly netns: string;
}

const BOOL: Readonly<Record<string, boolean>> = { "1": true, t: true, T: true, TRUE: true, true: true, True: true, "0": false, f: false, F: false, FALSE: false, false: false, False: false };

/**
 * `IS_CHAINED` with Go's `strconv.ParseBool`, as Coil reads it; absent is false. A value that is
 * not a boolean is what Coil answers: 999 "failed to get CNI arguments".
 */
function chainedFlag(args: Readonly<Record<string, string>>): Result<boolean, CniError> {
  const v = args[IS_CHAINED_KEY];
  if (v === undefined) return ok(false);
  const b = BOOL[v];
  return b === undefined ? err(cniError(CNI_ERROR.INTERNAL, "failed to get CNI arguments", `${IS_CHAINED_KEY} ${quoteValue(v)} is not a boolean`)) : ok(b);
}

/** prevResult as forwarded: every address must parse. */
function prevSummary(input: CniCallInput): Result<PrevResultSummary, CniError> {
  const ips: Ip[] = [];
  for (const s of input.ips ?? []) {
    const ip = parseIp(s);
    if (ip.isErr()) return err(cniError(CNI_ERROR.DECODING_FAILURE, "failed to parse prevResult", `address ${quoteValue(s)} is not an IP address`));
    ips.push(ip.value);
  }
  return ok({ ips, interfaces: { ...input.interfaces } });
}

/**
 * Parse an attachment call. Every verb: `containerId` and `ifname` must be valid (code 4 naming
 * `CNI_CONTAINERID` / `CNI_IFNAME`), and `netns`, when given, an absolute path without control
 * characters (code 4 naming `CNI_NETNS`). ADD and CHECK need the netns (`""` → code 4). ADD also
 * checks the pod names (code 4 "failed to load CNI_ARGS") and reads `IS_CHAINED` (Go's
 * `ParseBool`; anything else → 999 "failed to get CNI arguments", as Coil) and, when chained,
 * prevResult's addresses (code 6 when one is not an address). DEL and CHECK ignore the chaining
 * keys, as Coil does. Nothing is echoed unbounded (values are quoted with `quoteValue`).
 */
export function parseCniCall(input: CniCallInput, command: "ADD" | "CHECK"): Result<CniSandboxCall, CniError>;
export function parseCniCall(input: CniCallInput, command: "DEL"): Result<CniCall, CniError>;
export function parseCniCall(input: CniCallInput, command: CniAttachmentCommand): Result<CniCall, CniError> {
  const ids = validateContainerId(input.containerId).andThen(() => validateIfName(input.ifname));
  if (ids.isErr()) return err(ids.error);
  if (command !== "DEL" || input.netns !== "") {
    const n = validatePath(input.netns, "CNI_NETNS");
    if (n.isErr()) return err(n.error);
  }
  const pod: PodRef = { namespace: input.args["K8S_POD_NAMESPACE"] ?? "", name: input.args["K8S_POD_NAME"] ?? "" };
  const call: CniCall = { containerId: input.containerId, ifname: input.ifname, ...(input.netns === "" ? {} : { netns: input.netns }), pod };
  if (command !== "ADD") return ok(call);
  const names = checkPodNames(pod.namespace, pod.name);
  if (names.isErr()) return err(names.error);
  const chained = chainedFlag(input.args);
  if (chained.isErr()) return err(chained.error);
  if (!chained.value) return ok(call);
  return prevSummary(input).map((prev) => ({ ...call, chained: prev }));
}
