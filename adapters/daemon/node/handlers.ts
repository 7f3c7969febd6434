/**
 * coild's CNI operations in IPAM mode (Coil §4.2-4.3, §7.4), transport independent:
 * know the kernel state → ask lib/plan for a changeset → apply it through the {@link Kernel} port.
 * Each container's operations are serialised by a per-container lock (plus per pod in
 * compat-calico mode); nothing holds a global lock around kernel work.
 *
 * Hot path: ADD and DEL do not observe the host. coild's {@link HostLinkIndex} knows its host
 * veths (filled at recovery, updated by every apply, refreshed after any failure); a fresh ADD
 * (no link with this container's alias, an unused veth name) is planned against an empty host and
 * pod, i.e. create + configure, and a DEL deletes the indexed links. Everything else — a repeated
 * ADD (repair, Coil's cleanup of a stale link with the same alias), a name or interface that turns
 * out to exist (`File exists`), a DEL of a link that is already gone — takes the full path: observe
 * the host (and the pod), plan the difference, apply.
 *
 * Error codes follow Coil (nearly everything INTERNAL 999, with Coil's messages) except where a
 * retry can succeed: pool exhaustion, store I/O and transient kernel failures answer
 * TRY_AGAIN_LATER (11) — Coil reports those as 999 after a 10 s BlockRequest timeout.
 */
import { err, ok, type Result } from "neverthrow";
import {
  EMPTY_NETNS_STATE,
  HOST_NETNS,
  explain,
  netnsPath,
  type Changeset,
  type LinkState,
  type NetnsState,
} from "../../../lib/changeset/index.js";
import { CNI_ERROR, cniError, validateContainerId, validateIfName, validatePath, type CniError } from "../../../lib/cni/index.js";
import { DEFAULT_POOL } from "../../../lib/constants.js";
import type { Allocation } from "../../../lib/ipam/index.js";
import type { Ip } from "../../../lib/net/index.js";
import { formatLinkAlias, hostVethName, parseLinkAlias, planPodSetup, planPodTeardown } from "../../../lib/plan/index.js";
import type { ApplyError, Kernel } from "../../kernel/kernel.js";
import type { AddResponse, CNIArgs, GCRequest, StatusRequest } from "../../proto/gen/cni.js";
import type { Empty } from "../../proto/gen/google/protobuf/empty.js";
import { coilAliasKey, HostLinkIndex } from "./host-links.js";
import { KeyedMutex } from "../../common/key-mutex.js";
import type { Logger } from "../log.js";
import type { AllocateError, NodeState } from "./state.js";
import type { CniCallHandlers } from "../endpoint/server.js";

/** Options of {@link createHandlers}. */
export interface HandlerOptions {
  readonly node: NodeState;
  readonly kernel: Kernel;
  readonly log: Logger;
  readonly hostIPv4?: Ip;
  readonly hostIPv6?: Ip;
  /** MTU of both veth ends (detected at startup); kernel default when absent. */
  readonly mtu?: number;
  readonly podTable: number;
  readonly protocol: number;
  readonly compatCalico: boolean;
  /** The pool of a pod namespace (local store: `--namespace-pools`, else `default`). */
  readonly poolFor: (namespace: string | undefined) => string;
  /** 8 random hex digits for a host veth name. */
  readonly randomHex: () => string;
  /** False until startup (host init, recovery) has finished. */
  readonly isReady: () => boolean;
  /** coild's host veth index (recovery fills it); a new, dirty one when absent (refreshed on first use). */
  readonly hostLinks?: HostLinkIndex;
}

const INTERNAL = CNI_ERROR.INTERNAL;
const json = (x: unknown): string => JSON.stringify(x);

function allocateError(e: AllocateError): CniError {
  const msg = "failed to allocate address";
  if (e.kind === "ipam") return cniError(INTERNAL, msg, e.cause.message);
  switch (e.cause.kind) {
    case "pool-exhausted":
    case "store-io":
      return cniError(CNI_ERROR.TRY_AGAIN_LATER, msg, e.cause.message);
    case "pool-not-found":
    case "store-state-invalid":
      return cniError(INTERNAL, msg, e.cause.message);
  }
}

function applyError(msg: string, e: ApplyError): CniError {
  const detail = e.kind === "apply-failed" ? `${e.stderr.trim()} (rolled back: ${e.rolledBack})` : json(e.cause);
  return cniError(e.retryable ? CNI_ERROR.TRY_AGAIN_LATER : INTERNAL, msg, detail);
}

function matches(l: LinkState, containerId: string, ifname: string): boolean {
  return coilAliasKey(l.alias) === `${containerId}:${ifname}`;
}

/** An apply that failed only because a link to create already exists (nothing is left behind). */
function linkExists(e: ApplyError): boolean {
  return e.kind === "apply-failed" && e.rolledBack && e.reason === "exists" && e.failedOp.kind === "netlink" && e.failedOp.op.kind === "link.add-veth";
}

/** An apply that failed only because a link to delete is already gone. */
function linkGone(e: ApplyError): boolean {
  return e.kind === "apply-failed" && e.reason === "not-found" && e.failedOp.kind === "netlink" && e.failedOp.op.kind === "link.del";
}

/** The CNI result Coil returns (current format 1.1.0): both veth ends, one /32 and/or /128. */
function addResult(q: CNIArgs, hostVeth: string, a: Allocation): AddResponse {
  const ips = [
    ...(a.ipv4 === undefined ? [] : [{ address: `${a.ipv4}/32`, interface: 0 }]),
    ...(a.ipv6 === undefined ? [] : [{ address: `${a.ipv6}/128`, interface: 0 }]),
  ];
  const result = { cniVersion: "1.1.0", interfaces: [{ name: q.ifname, sandbox: q.netns }, { name: hostVeth }], ips };
  return { result: Buffer.from(JSON.stringify(result)) };
}

function validateCall(q: CNIArgs, needNetns: boolean): Result<void, CniError> {
  const c = validateContainerId(q.containerId);
  if (c.isErr()) return err(c.error);
  const i = validateIfName(q.ifname);
  if (i.isErr()) return err(i.error);
  if (needNetns || q.netns !== "") {
    const n = validatePath(q.netns, "CNI_NETNS");
    if (n.isErr()) return err(n.error);
  }
  return ok(undefined);
}

/** Build the CNI handlers. */
export function createHandlers(o: HandlerOptions): CniCallHandlers {
  const locks = new KeyedMutex();
  const locked = <T>(q: CNIArgs, fn: () => Promise<T>): Promise<T> => {
    const inner = o.compatCalico ? () => locks.run(`pod:${q.args["K8S_POD_NAMESPACE"]}/${q.args["K8S_POD_NAME"]}`, fn) : fn;
    return locks.run(`cid:${q.containerId}`, inner);
  };

  const observeHost = async (): Promise<Result<NetnsState, string>> =>
    (await o.kernel.observe(HOST_NETNS)).mapErr((e) => `observe host: ${json(e)}`);
  const links = o.hostLinks ?? new HostLinkIndex();
  /** The host links the index knows (for veth name picking). */
  const known = (): NetnsState => ({ ...EMPTY_NETNS_STATE, links: links.list() });
  const recordSetup = (q: CNIArgs, pool: string, veth: string, replaced: readonly LinkState[]): void => {
    for (const l of replaced) links.delete(l.name);
    const alias = formatLinkAlias({ pool, containerId: q.containerId, ifname: q.ifname });
    links.set({ name: veth, kind: "veth", up: true, mtu: o.mtu ?? 1500, peer: q.ifname, ...(alias.isOk() ? { alias: alias.value } : {}) });
  };

  const pickVeth = (q: CNIArgs, host: NetnsState, existing: LinkState | undefined): Result<string, CniError> => {
    if (existing !== undefined) return ok(existing.name);
    const bad = (m: string): Result<string, CniError> => err(cniError(INTERNAL, "failed to setup pod network IPAM", m));
    if (o.compatCalico) {
      const n = hostVethName({ compatCalico: true, podNamespace: q.args["K8S_POD_NAMESPACE"] ?? "", podName: q.args["K8S_POD_NAME"] ?? "" });
      return n.mapErr((e) => cniError(INTERNAL, "failed to setup pod network IPAM", e.message));
    }
    for (let i = 0; i < 8; i++) {
      const n = hostVethName({ random: o.randomHex() });
      if (n.isErr()) return bad(n.error.message);
      if (!host.links.some((l) => l.name === n.value)) return ok(n.value);
    }
    return bad("could not draw an unused host veth name");
  };

  const podPlan = (q: CNIArgs, pool: string, hostVeth: string, a: Allocation, host: NetnsState, pod: NetnsState): Result<Changeset, CniError> =>
    planPodSetup({
      netnsPath: q.netns,
      ifname: q.ifname,
      hostVeth,
      pool,
      containerId: q.containerId,
      ...(a.ipv4 === undefined ? {} : { ipv4: a.ipv4 }),
      ...(a.ipv6 === undefined ? {} : { ipv6: a.ipv6 }),
      ...(o.hostIPv4 === undefined ? {} : { hostIPv4: o.hostIPv4 }),
      ...(o.hostIPv6 === undefined ? {} : { hostIPv6: o.hostIPv6 }),
      ...(o.mtu === undefined ? {} : { mtu: o.mtu }),
      podTable: o.podTable,
      protocol: o.protocol,
      observed: { host, pod },
    }).mapErr((e) => cniError(INTERNAL, "failed to setup pod network IPAM", e.message));

  /** A fresh ADD from the index: undefined when the full path must decide. */
  const fastSetup = async (q: CNIArgs, pool: string, a: Allocation): Promise<Result<AddResponse, CniError> | undefined> => {
    if ((await links.ensureFresh(observeHost)).isErr() || links.byAlias(q.containerId, q.ifname).length > 0) return undefined;
    const veth = pickVeth(q, known(), undefined);
    if (veth.isErr() || links.has(veth.value)) return undefined;
    const plan = podPlan(q, pool, veth.value, a, EMPTY_NETNS_STATE, EMPTY_NETNS_STATE);
    if (plan.isErr()) return err(plan.error);
    const applied = await o.kernel.apply(plan.value);
    if (applied.isOk()) {
      recordSetup(q, pool, veth.value, []);
      return ok(addResult(q, veth.value, a));
    }
    if (linkExists(applied.error)) return undefined;
    links.markDirty();
    return err(applyError("failed to setup pod network IPAM", applied.error));
  };

  const fullSetup = async (q: CNIArgs, pool: string, a: Allocation): Promise<Result<AddResponse, CniError>> => {
    const host = await observeHost();
    if (host.isErr()) return err(cniError(CNI_ERROR.TRY_AGAIN_LATER, "failed to setup pod network IPAM", host.error));
    const existing = host.value.links.find((l) => matches(l, q.containerId, q.ifname));
    const veth = pickVeth(q, host.value, existing);
    if (veth.isErr()) return err(veth.error);
    let pod = EMPTY_NETNS_STATE;
    const seen = await o.kernel.observe(netnsPath(q.netns));
    if (seen.isErr()) return err(cniError(INTERNAL, "failed to setup pod network IPAM", `observe pod netns: ${json(seen.error)}`));
    pod = seen.value;
    const plan = podPlan(q, pool, veth.value, a, host.value, pod);
    if (plan.isErr()) return err(plan.error);
    const applied = await o.kernel.apply(plan.value);
    if (applied.isErr()) {
      links.markDirty();
      return err(applyError("failed to setup pod network IPAM", applied.error));
    }
    recordSetup(q, pool, veth.value, host.value.links.filter((l) => matches(l, q.containerId, q.ifname) || l.name === veth.value));
    return ok(addResult(q, veth.value, a));
  };

  const setup = async (q: CNIArgs, pool: string, a: Allocation): Promise<Result<AddResponse, CniError>> =>
    (await fastSetup(q, pool, a)) ?? fullSetup(q, pool, a);

  const add = async (q: CNIArgs): Promise<Result<AddResponse, CniError>> => {
    const v = validateCall(q, true);
    if (v.isErr()) return err(v.error);
    if (q.args["IS_CHAINED"] === "true") {
      return err(cniError(INTERNAL, "coil must be called as the first plugin when IPAM related features are enabled"));
    }
    return locked(q, async () => {
      const pool = o.poolFor(q.args["K8S_POD_NAMESPACE"]);
      const a = await o.node.allocate({ pool, containerId: q.containerId, ifname: q.ifname });
      if (a.isErr()) return err(allocateError(a.error));
      const r = await setup(q, pool, a.value);
      if (r.isErr()) await o.node.free(q.containerId, q.ifname);
      return r;
    });
  };

  /** Delete the links of `containerId:ifname` in `host` (observed, or the index's view) and free the addresses. */
  const teardown = async (containerId: string, ifname: string, host: NetnsState, opts: { readonly retryIfGone?: boolean } = {}): Promise<Result<void, CniError>> => {
    const plan = planPodTeardown({ containerId, ifname, observed: host });
    if (plan.isErr()) return err(cniError(INTERNAL, "failed to destroy pod network", plan.error.message));
    const applied = await o.kernel.apply(plan.value);
    if (applied.isErr()) {
      links.markDirty();
      if (opts.retryIfGone === true && linkGone(applied.error)) return fullTeardown(containerId, ifname);
      return err(applyError("failed to destroy pod network", applied.error));
    }
    for (const l of host.links) if (matches(l, containerId, ifname)) links.delete(l.name);
    await o.node.free(containerId, ifname);
    return ok(undefined);
  };

  const fullTeardown = async (containerId: string, ifname: string): Promise<Result<void, CniError>> => {
    const host = await observeHost();
    if (host.isErr()) return err(cniError(CNI_ERROR.TRY_AGAIN_LATER, "failed to destroy pod network", host.error));
    return teardown(containerId, ifname, host.value);
  };

  const del = async (q: CNIArgs): Promise<Result<Empty, CniError>> => {
    const v = validateCall(q, false);
    if (v.isErr()) return err(v.error);
    return locked(q, async () => {
      if ((await links.ensureFresh(observeHost)).isErr()) return (await fullTeardown(q.containerId, q.ifname)).map(() => ({}));
      const view = { ...EMPTY_NETNS_STATE, links: links.byAlias(q.containerId, q.ifname) };
      return (await teardown(q.containerId, q.ifname, view, { retryIfGone: true })).map(() => ({}));
    });
  };

  const check = async (q: CNIArgs): Promise<Result<Empty, CniError>> => {
    const v = validateCall(q, true);
    if (v.isErr()) return err(v.error);
    return locked(q, async () => {
      const failed = (details: string): Result<Empty, CniError> => err(cniError(INTERNAL, "check failed", details));
      const host = await observeHost();
      if (host.isErr()) return failed(host.error);
      const link = host.value.links.find((l) => matches(l, q.containerId, q.ifname));
      if (link === undefined) return failed(`no host link with alias for ${q.containerId}:${q.ifname}`);
      const a = o.node.ipam.allocation(q.containerId, q.ifname);
      if (a === undefined) return failed(`no address allocated to ${q.containerId}:${q.ifname}`);
      const pod = await o.kernel.observe(netnsPath(q.netns));
      if (pod.isErr()) return failed(`observe pod netns: ${json(pod.error)}`);
      const plan = podPlan(q, a.pool, link.name, a, host.value, pod.value);
      if (plan.isErr()) return err(plan.error);
      // Sysctls are not observed here (one more process per CHECK); everything else must match.
      const drift = { steps: plan.value.steps.map((s) => ({ ...s, netlink: s.netlink.filter((op) => op.kind !== "sysctl.set") })) };
      const missing = drift.steps.some((s) => s.netlink.length > 0 || s.nft.length > 0);
      return missing ? failed(`pod network differs from the plan:\n${explain(drift)}`) : ok({});
    });
  };

  const status = async (_q: StatusRequest): Promise<Result<Empty, CniError>> => {
    if (!o.isReady()) return err(cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, "coild is starting"));
    const pool = o.poolFor(undefined);
    if (await o.node.poolExhausted(pool)) {
      return err(cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE, `pool ${pool} is exhausted`, "every block of the node is full and the pool has no free block"));
    }
    if (o.node.lastExportError !== undefined) {
      return err(cniError(CNI_ERROR.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY, "route export failed", o.node.lastExportError));
    }
    return ok({});
  };

  const gc = async (q: GCRequest): Promise<Result<Empty, CniError>> => {
    const valid = new Set(q.validAttachments.map((x) => `${x.containerId}:${x.ifname}`));
    const host = await observeHost();
    if (host.isErr()) return err(cniError(CNI_ERROR.TRY_AGAIN_LATER, "gc failed", host.error));
    const stale = new Set<string>();
    for (const l of host.value.links) {
      parseLinkAlias(l.alias ?? "").map((a) => a.pool !== "" && !valid.has(`${a.containerId}:${a.ifname}`) && stale.add(`${a.containerId}:${a.ifname}`));
    }
    for (const a of o.node.ipam.allocations()) if (!valid.has(`${a.containerId}:${a.ifname}`)) stale.add(`${a.containerId}:${a.ifname}`);
    const problems: string[] = [];
    for (const key of stale) {
      const cut = key.lastIndexOf(":");
      const [cid, ifname] = [key.slice(0, cut), key.slice(cut + 1)];
      const r = await locks.run(`cid:${cid}`, () => fullTeardown(cid, ifname));
      if (r.isErr()) problems.push(`${key}: ${r.error.msg} ${r.error.details}`);
      else o.log.info("gc removed a stale attachment", { "grpc.request.container_id": cid, "grpc.request.ifname": ifname });
    }
    const blocks = await o.node.gcBlocks();
    if (blocks.isErr()) problems.push(`blocks: ${blocks.error.message}`);
    return problems.length > 0 ? err(cniError(INTERNAL, "gc failed", problems.join("\n"))) : ok({});
  };

  return { add, del, check, status, gc };
}

/** The default pool-for-namespace function: a mapping, else `default`. */
export function poolForNamespace(mapping: Readonly<Record<string, string>>): (ns: string | undefined) => string {
  return (ns) => (ns !== undefined && Object.hasOwn(mapping, ns) ? (mapping[ns] ?? DEFAULT_POOL) : DEFAULT_POOL);
}
