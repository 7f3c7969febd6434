/**
 * One coil-router sync (Coil §5.2): take the Nodes and AddressBlocks from the informer caches,
 * read the target namespace's main-table routes of the router's protocol (only those: they are all
 * the planner manages), plan with the pure `planRouterRoutes` and apply the changeset through the
 * kernel port. Routes of other protocols and tables are never read nor touched.
 */
import type { CoreV1Api, V1Node } from "@kubernetes/client-node";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Changeset, NetnsRef } from "../../lib/changeset/index.js";
import { LABEL_NODE, MAIN_TABLE } from "../../lib/constants.js";
import { ipFamily, parseCidr, parseIp, type Ip } from "../../lib/net/index.js";
import { planRouterRoutes, type PlanError, type RouterBlock, type RouterNode } from "../../lib/plan/index.js";
import { listNodesAs, type AddressBlockObject, type K8sError, type KubeObject, type Logger, type ObjectList } from "../k8s/index.js";
import { observeTableRoutes, type ApplyError, type Kernel, type ObserveError } from "../kernel/index.js";

/** Why a sync failed (logged, then retried with backoff). */
export type RouterSyncError =
  | { readonly kind: "observe-failed"; readonly cause: ObserveError }
  | { readonly kind: "plan-failed"; readonly cause: PlanError }
  | { readonly kind: "apply-failed"; readonly cause: ApplyError };

/** What a successful sync did. */
export interface RouterSyncReport {
  /** Routes computed (`coil_router_routes_synced`). */
  readonly desired: number;
  /** Routes deleted. */
  readonly deleted: number;
  /** Routes added. */
  readonly added: number;
}

/** Inputs of {@link syncRouterRoutes}. */
export interface RouterSyncDeps {
  /** Own node name (skipped). */
  readonly self: string;
  /** `--protocol-id`. */
  readonly protocol: number;
  /** The Nodes now (from the Node informer's cache). */
  readonly nodes: () => readonly RouterNode[];
  /** The AddressBlocks now (from the AddressBlock informer's cache). */
  readonly blocks: () => readonly RouterBlock[];
  /** Kernel port. */
  readonly kernel: Kernel;
  /** The namespace whose main table is managed (the host's in production, a test netns in tests). */
  readonly netns: NetnsRef;
  /** Logger. */
  readonly log: Logger;
}

/** A Node as the router's informer keeps it: its name, resourceVersion and InternalIP addresses (status order, as text). */
export interface RouterNodeObject extends KubeObject {
  /** `status.addresses[type=InternalIP].address`, in order. */
  readonly internalIPs: readonly string[];
}

/** Reduce a Node (a typed LIST item, a raw watch object, or one already reduced) to a {@link RouterNodeObject}. */
export function routerNodeObject(n: V1Node | RouterNodeObject): RouterNodeObject {
  if ("internalIPs" in n) return n;
  const m = n.metadata ?? {};
  return {
    metadata: { name: m.name ?? "", ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }) },
    internalIPs: (n.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) => a.address),
  };
}

/** LIST every Node (pages of 500), reduced to {@link RouterNodeObject}s: the Node informer's list. */
export function listRouterNodeObjects(core: CoreV1Api): ResultAsync<ObjectList<RouterNodeObject>, K8sError> {
  return listNodesAs(core, routerNodeObject);
}

/** A Node's InternalIPs in status order; unparsable ones are logged and skipped. */
export function routerNode(n: RouterNodeObject, log: Logger): RouterNode {
  const name = n.metadata.name;
  const internalIPs: Ip[] = [];
  for (const a of n.internalIPs) {
    const ip = parseIp(a);
    if (ip.isOk()) internalIPs.push(ip.value);
    else log.warn("ignoring unparsable InternalIP", { node: name, address: a });
  }
  return { name, internalIPs };
}

/** Whether two reduced Nodes route alike (same InternalIPs in the same order): a change that matters to the router. */
export function sameRouterNode(a: RouterNodeObject, b: RouterNodeObject): boolean {
  return a.internalIPs.length === b.internalIPs.length && a.internalIPs.every((ip, i) => ip === b.internalIPs[i]);
}

/** An AddressBlock as the planner sees it; `undefined` without a node label. Bad CIDRs are dropped. */
export function routerBlock(b: AddressBlockObject): RouterBlock | undefined {
  const node = b.metadata.labels?.[LABEL_NODE];
  if (node === undefined || node === "") return undefined;
  const v4 = b.ipv4 === undefined ? undefined : parseCidr(b.ipv4).unwrapOr(undefined);
  const v6 = b.ipv6 === undefined ? undefined : parseCidr(b.ipv6).unwrapOr(undefined);
  return { node, ...(v4 === undefined ? {} : { ipv4: v4 }), ...(v6 === undefined ? {} : { ipv6: v6 }) };
}

/**
 * `fn` memoised per object: informer caches replace an object on every change, so a cached value
 * is valid as long as its object is (a sync then converts only what changed since the last one).
 */
export function perObject<T extends object, U>(fn: (o: T) => U): (o: T) => U {
  const memo = new WeakMap<T, U>();
  return (o) => {
    if (memo.has(o)) return memo.get(o) as U;
    const v = fn(o);
    memo.set(o, v);
    return v;
  };
}

/** Coil logs a block whose node lacks an InternalIP of the block's family (the route is skipped). */
function logSkipped(self: string, nodes: readonly RouterNode[], blocks: readonly RouterBlock[], log: Logger): void {
  const byName = new Map(nodes.map((n) => [n.name, n] as const));
  for (const b of blocks) {
    const n = b.node === self ? undefined : byName.get(b.node);
    if (n === undefined) continue;
    const has = (family: 4 | 6): boolean => n.internalIPs.some((ip) => ipFamily(ip) === family);
    if (b.ipv4 !== undefined && !has(4)) log.info("node has no IPv4 address; skipping", { node: b.node, block: b.ipv4 });
    if (b.ipv6 !== undefined && !has(6)) log.info("node has no IPv6 address; skipping", { node: b.node, block: b.ipv6 });
  }
}

/** The planner emits host-namespace steps; point them at the managed namespace. */
function retarget(cs: Changeset, netns: NetnsRef): Changeset {
  return { ...cs, steps: cs.steps.map((s) => ({ ...s, netns })) };
}

/** Run one sync. */
export function syncRouterRoutes(d: RouterSyncDeps): ResultAsync<RouterSyncReport, RouterSyncError> {
  return observeTableRoutes(d.kernel, d.netns, { table: MAIN_TABLE, protocol: d.protocol })
    .mapErr((cause): RouterSyncError => ({ kind: "observe-failed", cause }))
    .andThen((observed) => {
      const nodes = d.nodes();
      const blocks = d.blocks();
      logSkipped(d.self, nodes, blocks, d.log);
      const plan = planRouterRoutes({ self: d.self, nodes, blocks, observed, protocol: d.protocol });
      if (plan.isErr()) return errAsync<RouterSyncReport, RouterSyncError>({ kind: "plan-failed", cause: plan.error });
      const ops = plan.value.changeset.steps.flatMap((s) => s.netlink);
      const report: RouterSyncReport = {
        desired: plan.value.desiredCount,
        deleted: ops.filter((o) => o.kind === "route.del").length,
        added: ops.filter((o) => o.kind === "route.replace").length,
      };
      if (ops.length === 0) return okAsync<RouterSyncReport, RouterSyncError>(report);
      return d.kernel
        .apply(retarget(plan.value.changeset, d.netns))
        .mapErr((cause): RouterSyncError => ({ kind: "apply-failed", cause }))
        .map(() => report);
    });
}
