/**
 * coild's CNI operations in egress-only mode (`--enable-ipam=false`, Coil §4.5): Coil runs chained
 * after another plugin (e.g. `ptp` + `host-local`), which owns the pod network and its addresses.
 * ADD takes the pod's addresses from prevResult (first IPv4, first IPv6), tags the host-side
 * interface prevResult names with the alias `COIL::<podUID>:<ifname>` (how the EgressWatcher and
 * CHECK find the pod again) and, for a pod annotated for Egresses, lays out the NAT client in the
 * pod's namespace; its result is empty (the `coil` executable prints prevResult). Beyond Coil, a
 * failed ADD and a DEL remove what coild added (the NAT client, the alias) and nothing of the other
 * plugin's. No IPAM part exists in this mode: no blocks, no pod table, no route export, no GC.
 */
import { access } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, netnsPath, type Kernel, type LinkState, type NetnsState } from "../../../lib/changeset/index.js";
import { chainedHostInterfaces, chainedPodAddresses, CURRENT_VERSION, type CniCall, type CniResult, type CniSandboxCall } from "../../../lib/cni/index.js";
import { cidrAddress, cidrFamily, type Ip } from "../../../lib/net/index.js";
import { formatLinkAlias, parseLinkAlias } from "../../../lib/plan/index.js";
import type { EgressHook, EgressHookError } from "../egress/hook.js";
import type { Logger } from "../log.js";
import type { AttachError } from "./attachment.js";
import type { AddError, CheckError, CniOperations, DelError, GcError, StatusError } from "./cni.js";
import type { AttachmentLocks } from "./cni-deps.js";

/** Why an egress-only ADD refused the call before touching anything. */
export type EgressOnlyAddError =
  | {
      /** The call carries no prevResult: coil must run after the plugin that makes the pod network. */
      readonly kind: "not-chained";
    }
  | {
      /** prevResult has no address (`no-ip`) or no host-side interface (`no-host-interface`). */
      readonly kind: "prev-result-unusable";
      readonly reason: "no-ip" | "no-host-interface";
    }
  | {
      /** None of prevResult's host-side interfaces exists in coild's network namespace. */
      readonly kind: "host-interface-missing";
      readonly names: readonly string[];
    }
  | {
      /** The alias could not be formed (the Pod has no usable UID) or set. */
      readonly kind: "alias-failed";
      readonly cause: AttachError;
    };

/** Why an egress-only CHECK failed. */
export type EgressOnlyCheckError =
  | { readonly kind: "egress-failed"; readonly cause: EgressHookError }
  | {
      /** No host link carries the pod's alias. */
      readonly kind: "no-aliased-link";
      readonly alias: string;
    };

/** What the egress-only operations use. */
export interface EgressOnlyDeps {
  /** The kernel port. */
  readonly kernel: Kernel;
  /** Logger. */
  readonly log: Logger;
  /** The Pod read, the NAT client set-up and its removal. */
  readonly egress: EgressHook;
  /** Per-attachment serialisation. */
  readonly locks: AttachmentLocks;
  /** False until start-up has finished. */
  readonly isReady: () => boolean;
  /** Whether a namespace file exists (a DEL whose namespace is gone has nothing left to remove); default: `access(2)`. */
  readonly netnsExists?: (path: string) => Promise<boolean>;
}

/** The empty ADD result (Coil: `current.Result{}`; the `coil` executable prints prevResult instead). */
const EMPTY_RESULT: CniResult = { cniVersion: CURRENT_VERSION, interfaces: [], ips: [], routes: [], dns: {} };

const fileExists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

async function observe(d: EgressOnlyDeps, netns: "host" | "pod", path?: string): Promise<Result<NetnsState, AttachError>> {
  const r = await d.kernel.observe(path === undefined ? HOST_NETNS : netnsPath(path));
  return r.mapErr((cause) => ({ kind: "observe-failed", netns, cause }));
}

async function setAlias(d: EgressOnlyDeps, link: string, alias: string): Promise<Result<void, AttachError>> {
  const r = await d.kernel.apply({ steps: [{ netns: HOST_NETNS, netlink: [{ kind: "link.set", name: link, alias }], nft: [] }] });
  return r.map(() => undefined).mapErr((cause) => ({ kind: "apply-failed", cause }));
}

/**
 * The host link to tag among prevResult's host-side interfaces: the first that exists here and is a
 * veth (with `bridge`, prevResult names the bridge before the pod's veth), else the first that exists.
 */
function hostLinkOf(links: readonly LinkState[], names: readonly string[]): LinkState | undefined {
  const present = names.flatMap((n) => links.filter((l) => l.name === n));
  return present.find((l) => l.kind === "veth") ?? present[0];
}

/** The first address of each family on `dev` (the pod's addresses, as the NAT client set-up got them from prevResult). */
function podAddresses(pod: NetnsState, dev: string): { ipv4?: Ip; ipv6?: Ip } {
  const on = pod.addrs.filter((a) => a.dev === dev);
  const ipv4 = on.find((a) => cidrFamily(a.cidr) === 4)?.cidr;
  const ipv6 = on.find((a) => cidrFamily(a.cidr) === 6)?.cidr;
  return { ...(ipv4 === undefined ? {} : { ipv4: cidrAddress(ipv4) }), ...(ipv6 === undefined ? {} : { ipv6: cidrAddress(ipv6) }) };
}

/**
 * ADD (Coil's `Add` with IPAM off). Checked before anything changes: prevResult is there, names an
 * address and a host-side interface that exists; the Pod is read (its UID) and its Egresses
 * resolved. Then the alias goes on the host link and, for an annotated pod, the NAT client into the
 * pod's namespace. A NAT set-up that fails is removed again and the link's previous alias put back.
 */
export async function addChained(d: EgressOnlyDeps, call: CniSandboxCall): Promise<Result<CniResult, AddError>> {
  const prev = call.chained;
  if (prev === undefined) return err({ kind: "not-chained" });
  const addrs = chainedPodAddresses(prev);
  if (addrs.ipv4 === undefined && addrs.ipv6 === undefined) return err({ kind: "prev-result-unusable", reason: "no-ip" });
  const names = chainedHostInterfaces(prev);
  if (names.length === 0) return err({ kind: "prev-result-unusable", reason: "no-host-interface" });
  return d.locks.run(call, async (): Promise<Result<CniResult, AddError>> => {
    const pod = await d.egress.resolve(call.pod);
    if (pod.isErr()) return err({ kind: "egress-failed", cause: pod.error });
    const alias = formatLinkAlias({ pool: "", containerId: pod.value.uid, ifname: call.ifname });
    if (alias.isErr()) return err({ kind: "alias-failed", cause: { kind: "plan-failed", cause: alias.error } });
    const host = await observe(d, "host");
    if (host.isErr()) return err(host.error);
    const link = hostLinkOf(host.value.links, names);
    if (link === undefined) return err({ kind: "host-interface-missing", names });
    const tagged = await setAlias(d, link.name, alias.value);
    if (tagged.isErr()) return err({ kind: "alias-failed", cause: tagged.error });
    if (pod.value.gateways.length === 0) return ok(EMPTY_RESULT);
    const target = { netns: call.netns, ...addrs };
    const nat = await d.egress.setUp(target, pod.value.gateways);
    if (nat.isOk()) return ok(EMPTY_RESULT);
    const removed = await d.egress.tearDown(target);
    if (removed.isErr()) d.log.warn("removing a failed NAT set-up failed", { "grpc.request.container_id": call.containerId, error: removed.error.message });
    const restored = await setAlias(d, link.name, link.alias ?? "");
    if (restored.isErr()) d.log.warn("restoring the host link's alias after a failed NAT set-up failed", { "grpc.request.container_id": call.containerId, link: link.name, error: restored.error });
    return err({ kind: "egress-failed", cause: nat.error });
  });
}

/** Whether `alias` is an egress-only alias of interface `ifname` (`COIL::<uid>:<ifname>`). */
function egressOnlyAliasOf(alias: string | undefined, ifname: string): boolean {
  return parseLinkAlias(alias ?? "").match((a) => a.pool === "" && a.ifname === ifname, () => false);
}

/**
 * DEL (beyond Coil, whose DEL does nothing with IPAM off): the NAT client removed from the pod's
 * namespace and the alias cleared from the host end of the pod interface's veth; the other plugin's
 * links, addresses and routes are left to it. Idempotent: no namespace (or a namespace gone, which
 * takes the veth with it) is a success.
 */
export async function delChained(d: EgressOnlyDeps, call: CniCall): Promise<Result<void, DelError>> {
  const netns = call.netns;
  if (netns === undefined || !(await (d.netnsExists ?? fileExists)(netns))) return ok(undefined);
  return d.locks.run(call, async (): Promise<Result<void, DelError>> => {
    const pod = await observe(d, "pod", netns);
    if (pod.isErr()) return err(pod.error);
    const removed = await d.egress.tearDown({ netns, ...podAddresses(pod.value, call.ifname) });
    if (removed.isErr()) return err({ kind: "egress-failed", cause: removed.error });
    const peer = pod.value.links.find((l) => l.name === call.ifname)?.peerIndex;
    if (peer === undefined) return ok(undefined);
    const host = await observe(d, "host");
    if (host.isErr()) return err(host.error);
    const link = host.value.links.find((l) => l.index === peer && egressOnlyAliasOf(l.alias, call.ifname));
    return link === undefined ? ok(undefined) : setAlias(d, link.name, "");
  });
}

/** CHECK (Coil's): the Pod's UID read, and a host link carries `COIL::<podUID>:<ifname>`. */
export async function checkChained(d: EgressOnlyDeps, call: CniSandboxCall): Promise<Result<void, CheckError>> {
  return d.locks.run(call, async (): Promise<Result<void, CheckError>> => {
    const uid = await d.egress.podUid(call.pod);
    if (uid.isErr()) return err({ kind: "egress-failed", cause: uid.error });
    const alias = formatLinkAlias({ pool: "", containerId: uid.value, ifname: call.ifname });
    if (alias.isErr()) return err({ kind: "plan-failed", cause: alias.error });
    const host = await observe(d, "host");
    if (host.isErr()) return err(host.error);
    return host.value.links.some((l) => l.alias === alias.value) ? ok(undefined) : err({ kind: "no-aliased-link", alias: alias.value });
  });
}

/** The egress-only operations over `d`: STATUS says ready once started; GC has nothing of its own to collect (the host links belong to the other plugin). */
export function egressOnlyOperations(d: EgressOnlyDeps): CniOperations {
  return {
    add: (c) => addChained(d, c),
    del: (c) => delChained(d, c),
    check: (c) => checkChained(d, c),
    status: () => Promise.resolve(d.isReady() ? ok(undefined) : err<void, StatusError>({ kind: "starting" })),
    gc: () => Promise.resolve(ok<void, GcError>(undefined)),
  };
}

