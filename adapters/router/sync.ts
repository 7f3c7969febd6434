/**
 * One coil-router sync (Coil §5.2): list Nodes (uncached), take the AddressBlocks from the
 * informer cache, observe the target namespace's routes, plan with the pure `planRouterRoutes`
 * and apply the changeset through the kernel port. Routes of other protocols are never touched
 * (the planner only deletes main-table routes of `protocol`).
 */
import type { CoreV1Api, V1Node } from "@kubernetes/client-node";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Changeset, NetnsRef } from "../../lib/changeset/index.js";
import { LABEL_NODE } from "../../lib/constants.js";
import { ipFamily, parseCidr, parseIp, type Ip } from "../../lib/net/index.js";
import { planRouterRoutes, type PlanError, type RouterBlock, type RouterNode } from "../../lib/plan/index.js";
import { k8sCall, type AddressBlockObject, type K8sError, type Logger } from "../k8s/index.js";
import type { ApplyError, Kernel, ObserveError } from "../kernel/index.js";

/** Why a sync failed (logged, then retried with backoff). */
export type RouterSyncError =
  | { readonly kind: "list-nodes-failed"; readonly cause: K8sError }
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
  /** Core API (Nodes are listed uncached, as Coil's API reader). */
  readonly core: CoreV1Api;
  /** The cached AddressBlocks. */
  readonly blocks: () => readonly AddressBlockObject[];
  /** Kernel port. */
  readonly kernel: Kernel;
  /** The namespace whose main table is managed (the host's in production, a test netns in tests). */
  readonly netns: NetnsRef;
  /** Logger. */
  readonly log: Logger;
}

/** A Node's InternalIPs in status order; unparsable ones are logged and skipped. */
export function routerNode(n: V1Node, log: Logger): RouterNode {
  const name = n.metadata?.name ?? "";
  const internalIPs: Ip[] = [];
  for (const a of n.status?.addresses ?? []) {
    if (a.type !== "InternalIP") continue;
    const ip = parseIp(a.address);
    if (ip.isOk()) internalIPs.push(ip.value);
    else log.warn("ignoring unparsable InternalIP", { node: name, address: a.address });
  }
  return { name, internalIPs };
}

/** An AddressBlock as the planner sees it; `undefined` without a node label. Bad CIDRs are dropped. */
export function routerBlock(b: AddressBlockObject): RouterBlock | undefined {
  const node = b.metadata.labels?.[LABEL_NODE];
  if (node === undefined || node === "") return undefined;
  const v4 = b.ipv4 === undefined ? undefined : parseCidr(b.ipv4).unwrapOr(undefined);
  const v6 = b.ipv6 === undefined ? undefined : parseCidr(b.ipv6).unwrapOr(undefined);
  return { node, ...(v4 === undefined ? {} : { ipv4: v4 }), ...(v6 === undefined ? {} : { ipv6: v6 }) };
}

/** LIST every Node (uncached, pages of 500). */
export function listRouterNodes(core: CoreV1Api, log: Logger): ResultAsync<RouterNode[], K8sError> {
  return k8sCall(async () => {
    const out: RouterNode[] = [];
    let cont: string | undefined;
    do {
      const page = await core.listNode({ limit: 500, ...(cont === undefined ? {} : { _continue: cont }) });
      for (const n of page.items) out.push(routerNode(n, log));
      cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue;
    } while (cont !== undefined);
    return out;
  });
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
  return listRouterNodes(d.core, d.log)
    .mapErr((cause): RouterSyncError => ({ kind: "list-nodes-failed", cause }))
    .andThen((nodes) =>
      d.kernel
        .observe(d.netns)
        .mapErr((cause): RouterSyncError => ({ kind: "observe-failed", cause }))
        .map((state) => ({ nodes, observed: state.routes })),
    )
    .andThen(({ nodes, observed }) => {
      const blocks = d.blocks().flatMap((b) => routerBlock(b) ?? []);
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
