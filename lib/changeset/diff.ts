import type { Family } from "../net/index.js";
import { normalizeRoute, routeKey, ruleEquals, ruleMatches } from "./model-routes.js";
import type { NetlinkOp, Route, Rule } from "./netlink.js";
import type { AddrState, NetnsState } from "./state.js";

/**
 * Which objects a diff owns. A kind is diffed only when its entry is given; objects outside the
 * scope are never touched, on either side.
 */
export interface DiffScope {
  /** Routes of these tables (and protocols / families, when given). */
  readonly routes?: DiffRouteScope;
  /** Rules with priority in `[min, max]` (and of these families, when given). */
  readonly rules?: DiffRuleScope;
  /** Addresses on these links. */
  readonly addrs?: DiffAddrScope;
}

/** The routes a diff owns. Coil's route exporter owns table 119 with protocol 30, for instance. */
export interface DiffRouteScope {
  /** Routing table ids; a route in any other table is never touched. */
  readonly tables: readonly number[];
  /** Route protocol ids; omitted means any protocol. */
  readonly protocols?: readonly number[];
  /** Address families; omitted means both. */
  readonly families?: readonly Family[];
}

/** The policy rules a diff owns, by priority range. */
export interface DiffRuleScope {
  /** Lowest owned priority (inclusive). */
  readonly min: number;
  /** Highest owned priority (inclusive). */
  readonly max: number;
  /** Address families; omitted means both. */
  readonly families?: readonly Family[];
}

/** The addresses a diff owns. */
export interface DiffAddrScope {
  /** Interface names whose addresses are owned. */
  readonly devs: readonly string[];
}

function routeId(r: Route): string {
  const n = normalizeRoute(r);
  return JSON.stringify([n.family, n.table, n.dst, n.metric, n.protocol, n.scope, n.dev ?? null, n.via ?? null, n.src ?? null, n.onlink === true]);
}

/**
 * The ops that turn the observed routes into the desired ones (Coil's route_syncer, minus the I/O):
 * first `route.del` of every observed route that is not desired (compared with kernel defaults
 * filled in), then `route.replace` of every missing desired route, routes without a gateway first
 * so that gateways resolve. Desired routes with the same identity (family, table, dst, metric):
 * the last one wins.
 */
export function diffRoutes(desired: readonly Route[], observed: readonly Route[]): NetlinkOp[] {
  const want = new Map<string, Route>();
  for (const r of desired) want.set(routeKey(r), normalizeRoute(r));
  const wantIds = new Set([...want.values()].map(routeId));
  const haveIds = new Set(observed.map(routeId));
  const dels: NetlinkOp[] = observed.filter((r) => !wantIds.has(routeId(r))).map((r) => ({ kind: "route.del", route: normalizeRoute(r) }));
  const adds = [...want.values()].filter((r) => !haveIds.has(routeId(r)));
  adds.sort((a, b) => Number(a.via !== undefined) - Number(b.via !== undefined));
  return [...dels, ...adds.map((route): NetlinkOp => ({ kind: "route.replace", route }))];
}

/**
 * The ops that turn the observed rules into the desired ones. The kernel deletes the first rule
 * matching the given selectors (unspecified ones match anything), so deleting an unwanted rule can
 * take a wanted one that comes before it; the diff simulates that, and re-adds any wanted rule
 * that went with it. Rules of equal priority may end up in a different order.
 */
export function diffRules(desired: readonly Rule[], observed: readonly Rule[]): NetlinkOp[] {
  const ops: NetlinkOp[] = [];
  let work = [...observed];
  const unwanted = observed.filter((r) => !desired.some((d) => ruleEquals(d, r)));
  for (const u of unwanted) {
    for (;;) {
      const i = work.findIndex((r) => ruleMatches(r, u));
      const hit = work[i];
      if (hit === undefined) break;
      ops.push({ kind: "rule.del", rule: u });
      work = work.filter((_, j) => j !== i);
      if (hit === u) break;
    }
  }
  const seen: Rule[] = [];
  for (const d of desired) {
    if (work.some((r) => ruleEquals(r, d)) || seen.some((r) => ruleEquals(r, d))) continue;
    seen.push(d);
    ops.push({ kind: "rule.add", rule: d });
  }
  return ops;
}

function addrEquals(a: AddrState, b: AddrState): boolean {
  return a.dev === b.dev && a.cidr === b.cidr;
}

/** The result of {@link diffAddrs}, kept apart so callers can order them around other ops. */
export interface AddrDiff {
  /** `addr.del` of every observed address that is not desired. */
  dels: NetlinkOp[];
  /** `addr.add` of every desired address that is not observed (duplicates dropped). */
  adds: NetlinkOp[];
}

/** The ops that turn the observed addresses into the desired ones: `addr.del` of extra ones, then `addr.add` of missing ones. */
export function diffAddrs(desired: readonly AddrState[], observed: readonly AddrState[]): AddrDiff {
  const dels = observed.filter((o) => !desired.some((d) => addrEquals(d, o))).map((o): NetlinkOp => ({ kind: "addr.del", dev: o.dev, cidr: o.cidr }));
  const uniq = desired.filter((d, i) => desired.findIndex((x) => addrEquals(x, d)) === i);
  const adds = uniq.filter((d) => !observed.some((o) => addrEquals(d, o))).map((d): NetlinkOp => ({ kind: "addr.add", dev: d.dev, cidr: d.cidr }));
  return { dels, adds };
}

/** Whether a route is in the scope's route selection. */
export function routeInScope(scope: DiffScope, r: Route): boolean {
  const s = scope.routes;
  if (s === undefined) return false;
  const n = normalizeRoute(r);
  return s.tables.includes(n.table ?? 254) && (s.protocols?.includes(n.protocol ?? 3) ?? true) && (s.families?.includes(n.family) ?? true);
}

/** Whether a rule is in the scope's rule selection. */
export function ruleInScope(scope: DiffScope, r: Rule): boolean {
  const s = scope.rules;
  return s !== undefined && r.priority >= s.min && r.priority <= s.max && (s.families?.includes(r.family) ?? true);
}

/** Whether an address is in the scope's address selection. */
export function addrInScope(scope: DiffScope, a: AddrState): boolean {
  return scope.addrs?.devs.includes(a.dev) ?? false;
}

/**
 * The ops that make `observed` equal `desired` on the objects in `scope`, in a safe order: route
 * deletes, rule deletes, address deletes (after the routes, since deleting an IPv4 address also
 * removes routes using it as `src`), address adds, route adds (their `src` addresses now exist),
 * rule adds. Links must already match. Applying the result to `observed` with the model gives
 * `desired` on the scoped objects (rule order within one priority aside).
 */
export function diffNetnsState(desired: NetnsState, observed: NetnsState, scope: DiffScope): NetlinkOp[] {
  const routes = diffRoutes(desired.routes.filter((r) => routeInScope(scope, r)), observed.routes.filter((r) => routeInScope(scope, r)));
  const rules = diffRules(desired.rules.filter((r) => ruleInScope(scope, r)), observed.rules.filter((r) => ruleInScope(scope, r)));
  const addrs = diffAddrs(desired.addrs.filter((a) => addrInScope(scope, a)), observed.addrs.filter((a) => addrInScope(scope, a)));
  return [
    ...routes.filter((o) => o.kind === "route.del"),
    ...rules.filter((o) => o.kind === "rule.del"),
    ...addrs.dels,
    ...addrs.adds,
    ...routes.filter((o) => o.kind !== "route.del"),
    ...rules.filter((o) => o.kind !== "rule.del"),
  ];
}
