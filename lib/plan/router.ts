import { err, ok, type Result } from "neverthrow";
import { concatChangesets, HOST_NETNS, routeTable, step, type Changeset, type NetlinkOp, type Route } from "../changeset/index.js";
import { cidrFamily, cidrNetwork, ipFamily, type Cidr, type Family, type Ip } from "../net/index.js";
import { MAIN_TABLE, PROTOCOL_ROUTER } from "../constants.js";
import { validateInt, type PlanError } from "./errors.js";

/** A Node as coil-router sees it. */
export interface RouterNode {
  /** Node name (`metadata.name`), matched against the blocks' `coil.cybozu.com/node` label. */
  readonly name: string;
  /** The node's InternalIP addresses, in status order. */
  readonly internalIPs: readonly Ip[];
}

/** An AddressBlock as coil-router sees it: owner node label and CIDRs. */
export interface RouterBlock {
  /** Owner node name (the block's `coil.cybozu.com/node` label). */
  readonly node: string;
  /** The block's IPv4 range (`AddressBlock.ipv4`), when the pool has one. */
  readonly ipv4?: Cidr;
  /** The block's IPv6 range (`AddressBlock.ipv6`), when the pool has one. */
  readonly ipv6?: Cidr;
}

/** Options of {@link planRouterRoutes}. */
export interface RouterRoutesOptions {
  /** The node coil-router runs on (its blocks are skipped). */
  readonly self: string;
  /** All nodes coil-router knows (Node objects); a block of an unknown node gets no route. */
  readonly nodes: readonly RouterNode[];
  /** All AddressBlocks of the cluster. */
  readonly blocks: readonly RouterBlock[];
  /** Observed host routes (all tables; only main-table routes with `protocol` are managed). */
  readonly observed: readonly Route[];
  /** `--protocol-id` (31). */
  readonly protocol?: number;
}

/** The plan of one coil-router sync, and the number of desired routes (`coil_router_routes_synced`). */
export interface RouterPlan {
  /** Host-namespace ops turning the observed routes into the desired ones. */
  readonly changeset: Changeset;
  /** The routes coil-router wants in the main table. */
  readonly desired: readonly Route[];
  /** `desired.length`, the value Coil exports as `coil_router_routes_synced`. */
  readonly desiredCount: number;
}

/** The last InternalIP of each family (Coil takes the last one listed). */
function gatewaysOf(node: RouterNode): Map<Family, Ip> {
  const m = new Map<Family, Ip>();
  for (const ip of node.internalIPs) m.set(ipFamily(ip), ip);
  return m;
}

/** The desired coil-router routes: other known nodes' blocks via their InternalIP of the block's family. */
export function routerDesiredRoutes(opts: RouterRoutesOptions): Route[] {
  const protocol = opts.protocol ?? PROTOCOL_ROUTER;
  const gws = new Map(opts.nodes.filter((n) => n.name !== opts.self).map((n) => [n.name, gatewaysOf(n)] as const));
  const out: Route[] = [];
  for (const b of opts.blocks) {
    const gw = gws.get(b.node);
    if (gw === undefined) continue;
    for (const cidr of [b.ipv4, b.ipv6]) {
      if (cidr === undefined) continue;
      const via = gw.get(cidrFamily(cidr));
      if (via !== undefined) out.push({ family: cidrFamily(cidr), dst: cidrNetwork(cidr), via, protocol });
    }
  }
  return out;
}

/**
 * Plan one coil-router sync (§5.2), for flat L2 clusters. Kernel end state, for node2
 * (`10.20.30.42`, `fd10::42`) owning `10.224.0.32/27` and `fd02::20/123`:
 * ```
 * ip route replace 10.224.0.32/27 via 10.20.30.42 proto 31
 * ip -6 route replace fd02::20/123 via fd10::42 proto 31
 * ```
 * Why: with every node on one L2 segment, the node owning a block is a direct next hop, so no
 * routing daemon is needed. As Coil's route syncer: main-table routes of protocol 31 are keyed by
 * (gateway, destination); those not desired are deleted first, then missing ones added; routes of
 * other protocols are never touched. Own node, unknown nodes and a family the node lacks are skipped.
 */
export function planRouterRoutes(opts: RouterRoutesOptions): Result<RouterPlan, PlanError> {
  const protocol = opts.protocol ?? PROTOCOL_ROUTER;
  const v = validateInt("protocol", protocol, 0, 255);
  if (v.isErr()) return err(v.error);
  const desired = routerDesiredRoutes(opts);
  const key = (dst: Cidr, via: Ip | undefined): string => `${via ?? ""} ${cidrNetwork(dst)}`;
  // Desired destinations are networks already (routerDesiredRoutes masks them).
  const missing = new Map<string, Route>(desired.map((r) => [`${r.via ?? ""} ${r.dst}`, r] as const));
  const dels: NetlinkOp[] = [];
  for (const r of opts.observed) {
    if (routeTable(r) !== MAIN_TABLE || r.protocol !== protocol) continue;
    const k = key(r.dst, r.via);
    if (missing.has(k)) missing.delete(k);
    else dels.push({ kind: "route.del", route: r });
  }
  const adds = [...missing.values()].map((route): NetlinkOp => ({ kind: "route.replace", route }));
  const changeset = concatChangesets({ steps: [step(HOST_NETNS, [...dels, ...adds])] });
  return ok({ changeset, desired, desiredCount: new Set(desired.map((r) => `${r.via ?? ""} ${r.dst}`)).size });
}
