/**
 * The kernel work of one attachment (Coil §4.2-4.3): know the kernel state → ask lib/plan for a
 * changeset → apply it through the kernel port, keeping the host veth index in step.
 *
 * Hot path: set-up and tear-down do not observe the host. The {@link HostLinkIndex} knows coild's
 * host veths (filled at recovery, updated by every apply, refreshed after any failure); a fresh
 * attachment (no link with its alias, an unused veth name) is planned against an empty host and
 * pod, i.e. create + configure, and a tear-down deletes the indexed links. Everything else — a
 * repeated ADD (repair, Coil's cleanup of a stale link with the same alias), a name or interface
 * that turns out to exist (`exists`: e.g. the pod interface of a set-up interrupted by a kill,
 * which the full path recognises and redoes), a link to delete that is already gone
 * (`not-found`) — takes the full path: observe the host and the pod, plan the difference, apply.
 */
import { err, ok, type Result } from "neverthrow";
import {
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  netnsPath,
  type Changeset,
  type KernelApplyError,
  type KernelObserveError,
  type LinkState,
  type NetnsState,
} from "../../../lib/changeset/index.js";
import type { CniCall, CniSandboxCall } from "../../../lib/cni/index.js";
import type { Allocation } from "../../../lib/ipam/index.js";
import { formatLinkAlias, planPodSetup, planPodTeardown, unfinishedHostVeth, type PlanError } from "../../../lib/plan/index.js";
import type { CniDeps, VethNameError } from "./cni-deps.js";
import { coilAliasKey } from "./host-links.js";

/** Why the kernel side of an attachment could not be done. */
export type AttachError =
  | { readonly kind: "observe-failed"; readonly netns: "host" | "pod"; readonly cause: KernelObserveError }
  | { readonly kind: "no-veth-name"; readonly cause: VethNameError }
  | { readonly kind: "plan-failed"; readonly cause: PlanError }
  | { readonly kind: "apply-failed"; readonly cause: KernelApplyError };

/** An attachment: container and interface. */
export type AttachmentKey = Pick<CniCall, "containerId" | "ifname">;

/** Whether host link `l` carries the Coil alias of attachment `k`. */
export function ownedBy(l: LinkState, k: AttachmentKey): boolean {
  return coilAliasKey(l.alias) === `${k.containerId}:${k.ifname}`;
}

/** The host namespace as the kernel reports it. */
export async function observeHost(d: CniDeps): Promise<Result<NetnsState, KernelObserveError>> {
  return d.kernel.observe(HOST_NETNS);
}

/** The host (no `path`) or a pod namespace as the kernel reports it; a failure says which. */
export async function observe(d: CniDeps, netns: "host" | "pod", path?: string): Promise<Result<NetnsState, AttachError>> {
  const r = await d.kernel.observe(path === undefined ? HOST_NETNS : netnsPath(path));
  return r.mapErr((cause) => ({ kind: "observe-failed", netns, cause }));
}

/** An apply that failed only because a link to create already exists (nothing is left behind). */
function linkExists(e: KernelApplyError): boolean {
  return e.kind === "apply-failed" && e.rolledBack && e.reason === "exists" && e.failedOp.kind === "netlink" && e.failedOp.op.kind === "link.add-veth";
}

/** An apply that failed only because a link to delete is already gone. */
function linkGone(e: KernelApplyError): boolean {
  return e.kind === "apply-failed" && e.reason === "not-found" && e.failedOp.kind === "netlink" && e.failedOp.op.kind === "link.del";
}

/** The set-up changeset of `call` on host veth `hostVeth`, against the observed state (or nothing: a fresh attachment). */
export function planSetup(d: CniDeps, call: CniSandboxCall, pool: string, hostVeth: string, a: Allocation, observed: { readonly host: NetnsState; readonly pod: NetnsState }): Result<Changeset, AttachError> {
  const l = d.layout;
  return planPodSetup({
    netnsPath: call.netns,
    ifname: call.ifname,
    hostVeth,
    pool,
    containerId: call.containerId,
    ...(a.ipv4 === undefined ? {} : { ipv4: a.ipv4 }),
    ...(a.ipv6 === undefined ? {} : { ipv6: a.ipv6 }),
    ...(l.hostIPv4 === undefined ? {} : { hostIPv4: l.hostIPv4 }),
    ...(l.hostIPv6 === undefined ? {} : { hostIPv6: l.hostIPv6 }),
    ...(l.mtu === undefined ? {} : { mtu: l.mtu }),
    podTable: l.podTable,
    protocol: l.protocol,
    observed,
  }).mapErr((cause) => ({ kind: "plan-failed", cause }));
}

/** Index the host veth just set up for `call` (and forget the links it replaced). */
function recordSetup(d: CniDeps, call: CniSandboxCall, pool: string, veth: string, replaced: readonly LinkState[]): void {
  for (const l of replaced) d.links.delete(l.name);
  const alias = formatLinkAlias({ pool, containerId: call.containerId, ifname: call.ifname });
  d.links.set({ name: veth, kind: "veth", up: true, mtu: d.layout.mtu ?? 1500, peer: call.ifname, ...(alias.isOk() ? { alias: alias.value } : {}) });
}

async function applySetup(d: CniDeps, plan: Changeset): Promise<Result<void, AttachError>> {
  const applied = await d.kernel.apply(plan);
  if (applied.isOk()) return ok(undefined);
  d.links.markDirty();
  return err({ kind: "apply-failed", cause: applied.error });
}

/** A fresh attachment from the index alone; undefined when the full path must decide. */
async function fastSetup(d: CniDeps, call: CniSandboxCall, pool: string, a: Allocation): Promise<Result<string, AttachError> | undefined> {
  if ((await d.links.ensureFresh(() => observeHost(d))).isErr() || d.links.byAlias(call.containerId, call.ifname).length > 0) return undefined;
  const veth = d.vethName(call, (n) => d.links.has(n));
  if (veth.isErr() || d.links.has(veth.value)) return undefined;
  const plan = planSetup(d, call, pool, veth.value, a, { host: EMPTY_NETNS_STATE, pod: EMPTY_NETNS_STATE });
  if (plan.isErr()) return err(plan.error);
  const applied = await d.kernel.apply(plan.value);
  if (applied.isErr() && linkExists(applied.error)) return undefined;
  if (applied.isErr()) {
    d.links.markDirty();
    return err({ kind: "apply-failed", cause: applied.error });
  }
  recordSetup(d, call, pool, veth.value, []);
  return ok(veth.value);
}

/**
 * The host veth of `call` in the observed state: the one carrying its alias, else the host end of
 * a pair an interrupted set-up of this pod left behind (lib/plan's `unfinishedHostVeth`: created,
 * never aliased — coild was killed between the two lines), which the plan then recreates.
 */
function hostVethOf(d: CniDeps, call: CniSandboxCall, observed: { readonly host: NetnsState; readonly pod: NetnsState }): LinkState | undefined {
  const owned = observed.host.links.find((l) => ownedBy(l, call));
  if (owned !== undefined) return owned;
  const unfinished = unfinishedHostVeth(call.ifname, observed);
  if (unfinished !== undefined) d.log.info("redoing an interrupted pod set-up", { "grpc.request.container_id": call.containerId, "grpc.request.ifname": call.ifname, hostVeth: unfinished.name });
  return unfinished;
}

/** Observe the host and the pod, plan the difference, apply. */
async function fullSetup(d: CniDeps, call: CniSandboxCall, pool: string, a: Allocation): Promise<Result<string, AttachError>> {
  const host = await observe(d, "host");
  if (host.isErr()) return err(host.error);
  const pod = await observe(d, "pod", call.netns);
  if (pod.isErr()) return err(pod.error);
  const observed = { host: host.value, pod: pod.value };
  const existing = hostVethOf(d, call, observed);
  const veth = existing !== undefined ? ok(existing.name) : d.vethName(call, (n) => host.value.links.some((l) => l.name === n));
  if (veth.isErr()) return err({ kind: "no-veth-name", cause: veth.error });
  const plan = planSetup(d, call, pool, veth.value, a, observed);
  if (plan.isErr()) return err(plan.error);
  const applied = await applySetup(d, plan.value);
  if (applied.isErr()) return err(applied.error);
  recordSetup(d, call, pool, veth.value, host.value.links.filter((l) => ownedBy(l, call) || l.name === veth.value));
  return ok(veth.value);
}

/** Lay out `call`'s pod network with addresses `a` of `pool`; the host veth's name. */
export async function setUp(d: CniDeps, call: CniSandboxCall, pool: string, a: Allocation): Promise<Result<string, AttachError>> {
  return (await fastSetup(d, call, pool, a)) ?? fullSetup(d, call, pool, a);
}

/** Delete the links of attachment `k` found in `host` (observed, or the index's view) and free its addresses. */
async function deleteLinks(d: CniDeps, k: AttachmentKey, host: NetnsState, opts: { readonly retryIfGone: boolean }): Promise<Result<void, AttachError>> {
  const plan = planPodTeardown({ containerId: k.containerId, ifname: k.ifname, observed: host });
  if (plan.isErr()) return err({ kind: "plan-failed", cause: plan.error });
  const applied = await d.kernel.apply(plan.value);
  if (applied.isErr()) {
    d.links.markDirty();
    return opts.retryIfGone && linkGone(applied.error) ? tearDownObserved(d, k) : err({ kind: "apply-failed", cause: applied.error });
  }
  for (const l of host.links) if (ownedBy(l, k)) d.links.delete(l.name);
  d.node.free(k.containerId, k.ifname);
  return ok(undefined);
}

/** Tear attachment `k` down from a fresh observation of the host (GC, and whenever the index cannot be trusted). */
export async function tearDownObserved(d: CniDeps, k: AttachmentKey): Promise<Result<void, AttachError>> {
  const host = await observe(d, "host");
  return host.isErr() ? err(host.error) : deleteLinks(d, k, host.value, { retryIfGone: false });
}

/** Tear attachment `k` down: from the index (a link already gone behind coild's back → observe and retry). */
export async function tearDown(d: CniDeps, k: AttachmentKey): Promise<Result<void, AttachError>> {
  if ((await d.links.ensureFresh(() => observeHost(d))).isErr()) return tearDownObserved(d, k);
  const view = { ...EMPTY_NETNS_STATE, links: d.links.byAlias(k.containerId, k.ifname) };
  return deleteLinks(d, k, view, { retryIfGone: true });
}
