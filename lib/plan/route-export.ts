import { err, ok, type Result } from "neverthrow";
import { concatChangesets, HOST_NETNS, routeTable, step, type Changeset, type NetlinkOp, type Route } from "../changeset/index.js";
import { cidrFamily, cidrNetwork, type Cidr } from "../net/index.js";
import { EXPORT_TABLE_ID, PROTOCOL_COILD } from "../constants.js";
import { MAX_U32, validateInt, type PlanError } from "./errors.js";

/** Options of {@link planRouteExport}. */
export interface RouteExportOptions {
  /** This node's AddressBlock CIDRs (IPv4 and IPv6). Empty empties the table. */
  readonly blocks: readonly Cidr[];
  /** Observed host routes (any tables; only `table` is looked at). */
  readonly observed: readonly Route[];
  /** `--export-table-id` (119). */
  readonly table?: number;
  /** `--protocol-id` (30). */
  readonly protocol?: number;
}

/** The route Coil exports for a block: `<cidr> dev lo scope universe proto 30 table 119`. */
export function exportRoute(cidr: Cidr, table: number, protocol: number): Route {
  return { family: cidrFamily(cidr), dst: cidrNetwork(cidr), dev: "lo", scope: "universe", protocol, table };
}

/**
 * Plan the route exporter sync (§5.1). Kernel end state, for blocks `10.224.0.0/30` and `fd02::/126`:
 * ```
 * ip route replace 10.224.0.0/30 dev lo scope universe proto 30 table 119
 * ip -6 route replace fd02::/126 dev lo proto 30 table 119
 * ```
 * and nothing else in table 119. Why: the table is a hand-off to a routing daemon (e.g. BIRD's
 * `kernel table 119; learn;`) that advertises the node's blocks; `dev lo` makes the routes valid
 * without a gateway. Exactly Coil's semantics: a route of the table is kept when its destination
 * is desired (whatever its other attributes), deleted otherwise; missing destinations are added.
 */
export function planRouteExport(opts: RouteExportOptions): Result<Changeset, PlanError> {
  const table = opts.table ?? EXPORT_TABLE_ID;
  const protocol = opts.protocol ?? PROTOCOL_COILD;
  for (const c of [validateInt("table", table, 1, MAX_U32), validateInt("protocol", protocol, 0, 255)]) {
    if (c.isErr()) return err(c.error);
  }
  const desired = new Map(opts.blocks.map((c) => [cidrNetwork(c), c] as const));
  const dels: NetlinkOp[] = [];
  for (const r of opts.observed) {
    if (routeTable(r) !== table) continue;
    const dst = cidrNetwork(r.dst);
    if (desired.has(dst)) desired.delete(dst);
    else dels.push({ kind: "route.del", route: r });
  }
  const adds = [...desired.values()].map((c): NetlinkOp => ({ kind: "route.replace", route: exportRoute(c, table, protocol) }));
  return ok(concatChangesets({ steps: [step(HOST_NETNS, [...dels, ...adds])] }));
}
