/**
 * coild's CNI operations in IPAM mode (Coil §4.2-4.3, §7.4), as plain functions over their
 * dependencies ({@link CniDeps}) and domain values: a validated {@link CniCall} in (the endpoint
 * parses the wire request once), a CNI result or a `kind`-tagged error out (the endpoint turns it
 * into Coil's CNI error). The kernel work of one attachment lives in `attachment.ts`.
 */
import { err, ok, type Result } from "neverthrow";
import type { Changeset, KernelObserveError } from "../../../lib/changeset/index.js";
import { vethAttachmentResult, type CniCall, type CniResult, type CniSandboxCall } from "../../../lib/cni/index.js";
import { DEFAULT_POOL } from "../../../lib/constants.js";
import type { StoreError } from "../../../lib/ipam/index.js";
import { parseLinkAlias } from "../../../lib/plan/index.js";
import { observe, observeHost, ownedBy, planSetup, setUp, tearDown, tearDownObserved, type AttachError, type AttachmentKey } from "./attachment.js";
import type { CniDeps } from "./cni-deps.js";
import type { EgressHookError } from "../egress/hook.js";
import type { ExportError } from "./route-export.js";
import type { AllocateError } from "./state.js";
import type { StaticAddressError } from "./static-address.js";
import type { EgressOnlyAddError, EgressOnlyCheckError } from "./egress-only.js";

export type { AttachError, AttachmentKey } from "./attachment.js";

/** Why an ADD failed. */
export type AddError =
  | { readonly kind: "chained" }
  | EgressOnlyAddError
  | { readonly kind: "allocate-failed"; readonly cause: AllocateError }
  | { readonly kind: "egress-failed"; readonly cause: EgressHookError }
  | {
      /** Beyond Coil: the pod's static-address annotation could not be read or is invalid; nothing was taken. */
      readonly kind: "static-address-failed";
      readonly cause: StaticAddressError;
    }
  | AttachError;

/** Why a DEL failed (egress-only mode adds the NAT client's removal). */
export type DelError = AttachError | { readonly kind: "egress-failed"; readonly cause: EgressHookError };

/** Why a CHECK failed. */
export type CheckError =
  | AttachError
  | EgressOnlyCheckError
  | { readonly kind: "no-host-link" }
  | { readonly kind: "no-allocation" }
  | { readonly kind: "drift"; readonly drift: Changeset };

/** Why STATUS says the plugin cannot serve ADD (fully). */
export type StatusError =
  | { readonly kind: "starting" }
  | { readonly kind: "pool-exhausted"; readonly pool: string }
  | { readonly kind: "export-failed"; readonly cause: ExportError };

/** Why a GC left something behind: the host could not be read, or some attachments or blocks could not be removed. */
export type GcError =
  | { readonly kind: "observe-failed"; readonly cause: KernelObserveError }
  | {
      readonly kind: "incomplete";
      readonly attachments: readonly { readonly key: AttachmentKey; readonly cause: AttachError }[];
      readonly blocks?: StoreError;
    };

/**
 * ADD: addresses for the attachment, its pod network laid out, and for a pod annotated for Egresses
 * the NAT client (Coil §6.4); the CNI result. Coil refuses a chained call in IPAM mode. The Egress
 * gateways are resolved before anything is taken (a missing Egress fails with nothing to undo); a
 * NAT set-up that fails tears the attachment down and frees its addresses. Beyond Coil, a pod
 * annotated `coil-ts.cybozu.com/static-ip` gets that address (docs/static-addresses.md).
 */
export async function add(d: CniDeps, call: CniSandboxCall): Promise<Result<CniResult, AddError>> {
  if (call.chained !== undefined) return err({ kind: "chained" });
  return d.locks.run(call, async (): Promise<Result<CniResult, AddError>> => {
    const gateways = d.egress === undefined ? ok([]) : await d.egress.gateways(call.pod);
    if (gateways.isErr()) return err({ kind: "egress-failed", cause: gateways.error });
    const fixed = d.staticAddress === undefined ? ok(undefined) : await d.staticAddress(call.pod);
    if (fixed.isErr()) return err({ kind: "static-address-failed", cause: fixed.error });
    const pool = d.poolFor(call.pod.namespace === "" ? undefined : call.pod.namespace);
    const key = { pool, containerId: call.containerId, ifname: call.ifname };
    const pod = call.pod.name === "" ? undefined : call.pod;
    const a = fixed.value === undefined ? await d.node.allocate({ ...key, pod }) : await d.node.allocateStatic({ ...key, ...fixed.value, pod });
    if (a.isErr()) return err({ kind: "allocate-failed", cause: a.error });
    const veth = await setUp(d, call, pool, a.value);
    if (veth.isErr()) {
      await d.node.freeAndReturn(call.containerId, call.ifname);
      return err(veth.error);
    }
    const { ipv4, ipv6 } = a.value;
    if (d.egress !== undefined && gateways.value.length > 0) {
      const nat = await d.egress.setUp({ netns: call.netns, ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) }, gateways.value);
      if (nat.isErr()) {
        const undone = await tearDown(d, call);
        if (undone.isErr()) d.log.warn("tearing down after a failed NAT set-up failed", { "grpc.request.container_id": call.containerId, error: undone.error });
        return err({ kind: "egress-failed", cause: nat.error });
      }
    }
    return ok(vethAttachmentResult({ ifname: call.ifname, sandbox: call.netns, hostIfname: veth.value, ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) }));
  });
}

/** DEL: the attachment's links gone, its addresses freed (idempotent: nothing there is a success). */
export async function del(d: CniDeps, call: CniCall): Promise<Result<void, AttachError>> {
  return d.locks.run(call, () => tearDown(d, call));
}

/** CHECK: the attachment is laid out exactly as planned (sysctls aside: not observed, one process less). */
export async function check(d: CniDeps, call: CniSandboxCall): Promise<Result<void, CheckError>> {
  return d.locks.run(call, async (): Promise<Result<void, CheckError>> => {
    const host = await observe(d, "host");
    if (host.isErr()) return err(host.error);
    const link = host.value.links.find((l) => ownedBy(l, call));
    if (link === undefined) return err({ kind: "no-host-link" });
    const a = d.node.ipam.allocation(call.containerId, call.ifname);
    if (a === undefined) return err({ kind: "no-allocation" });
    const pod = await observe(d, "pod", call.netns);
    if (pod.isErr()) return err(pod.error);
    const plan = planSetup(d, call, a.pool, link.name, a, { host: host.value, pod: pod.value });
    if (plan.isErr()) return err(plan.error);
    const drift = { steps: plan.value.steps.map((s) => ({ ...s, netlink: s.netlink.filter((op) => op.kind !== "sysctl.set") })) };
    return drift.steps.some((s) => s.netlink.length > 0 || s.nft.length > 0) ? err({ kind: "drift", drift }) : ok(undefined);
  });
}

/** STATUS: ready, the default pool can serve an address, the export table is in step. */
export async function status(d: CniDeps): Promise<Result<void, StatusError>> {
  if (!d.isReady()) return err({ kind: "starting" });
  const pool = d.poolFor(undefined);
  if (await d.node.poolExhausted(pool)) return err({ kind: "pool-exhausted", pool });
  const exportError = d.node.lastExportError;
  return exportError === undefined ? ok(undefined) : err({ kind: "export-failed", cause: exportError });
}

/** The attachments (`containerId:ifname`) coild has that are not in `keep`: host links with a Coil alias, and allocations. */
async function staleAttachments(d: CniDeps, keep: readonly AttachmentKey[]): Promise<Result<AttachmentKey[], KernelObserveError>> {
  const key = (k: AttachmentKey): string => `${k.containerId}:${k.ifname}`;
  const valid = new Set(keep.map(key));
  const host = await observeHost(d);
  if (host.isErr()) return err(host.error);
  const fromLinks = host.value.links.flatMap((l) => parseLinkAlias(l.alias ?? "").match((a) => (a.pool === "" ? [] : [a]), () => []));
  const stale = new Map<string, AttachmentKey>();
  for (const k of [...fromLinks, ...d.node.ipam.allocations()]) {
    if (!valid.has(key(k))) stale.set(key(k), { containerId: k.containerId, ifname: k.ifname });
  }
  return ok([...stale.values()]);
}

/** GC: every attachment not in `keep` torn down, then the node's empty blocks returned. */
export async function gc(d: CniDeps, keep: readonly AttachmentKey[]): Promise<Result<void, GcError>> {
  const stale = await staleAttachments(d, keep);
  if (stale.isErr()) return err({ kind: "observe-failed", cause: stale.error });
  const failed: { key: AttachmentKey; cause: AttachError }[] = [];
  for (const k of stale.value) {
    const r = await d.locks.runForContainer(k.containerId, () => tearDownObserved(d, k));
    if (r.isErr()) failed.push({ key: k, cause: r.error });
    else d.log.info("gc removed a stale attachment", { "grpc.request.container_id": k.containerId, "grpc.request.ifname": k.ifname });
  }
  const blocks = await d.node.gcBlocks();
  if (failed.length === 0 && blocks.isOk()) return ok(undefined);
  return err({ kind: "incomplete", attachments: failed, ...(blocks.isErr() ? { blocks: blocks.error } : {}) });
}

/** The CNI operations over one set of dependencies (what the endpoint serves). */
export interface CniOperations {
  /** See {@link add}. */
  add(call: CniSandboxCall): Promise<Result<CniResult, AddError>>;
  /** See {@link del}. */
  del(call: CniCall): Promise<Result<void, DelError>>;
  /** See {@link check}. */
  check(call: CniSandboxCall): Promise<Result<void, CheckError>>;
  /** See {@link status}. */
  status(): Promise<Result<void, StatusError>>;
  /** See {@link gc}. */
  gc(keep: readonly AttachmentKey[]): Promise<Result<void, GcError>>;
}

/** {@link add}, {@link del}, {@link check}, {@link status} and {@link gc} bound to `d`. */
export function cniOperations(d: CniDeps): CniOperations {
  return { add: (c) => add(d, c), del: (c) => del(d, c), check: (c) => check(d, c), status: () => status(d), gc: (k) => gc(d, k) };
}

/** The default pool-for-namespace function: a mapping, else `default`. */
export function poolForNamespace(mapping: Readonly<Record<string, string>>): (ns: string | undefined) => string {
  return (ns) => (ns !== undefined && Object.hasOwn(mapping, ns) ? (mapping[ns] ?? DEFAULT_POOL) : DEFAULT_POOL);
}
