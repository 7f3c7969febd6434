/**
 * The one diff engine: desired × observed → the ops that make the observed objects the desired
 * ones. Ownership is either a {@link DiffScope} (tables, priority ranges, links) or a predicate:
 * objects a diff does not own are never deleted. Every planner in `lib/plan` uses it.
 */
import { MAIN_TABLE } from "../constants.js";
import type { Family } from "../net/index.js";
import { normalizeRoute, routeKey, ruleEquals, ruleMatches } from "./model-routes.js";
import type { NetlinkOp, Route, Rule } from "./netlink.js";
import type { NftCommand, NftRule } from "./nft.js";
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

/** The table a route lives in (main when omitted). */
export function routeTable(r: Route): number {
  return r.table ?? MAIN_TABLE;
}

/** Ownership by predicate: every object is owned unless a predicate says otherwise. */
const ALL = (): boolean => true;

/**
 * The ops that turn the owned observed routes into the desired ones (Coil's route_syncer, minus
 * the I/O): first `route.del` of every owned observed route that is not desired, then
 * `route.replace` of every desired route not observed, routes without a gateway first so that
 * gateways resolve. Routes compare with the kernel's defaults filled in (table, protocol, scope,
 * metric) and on every attribute: a route that differs in any of them is replaced. Desired routes
 * with the same kernel identity (family, table, dst, metric): the last one wins. Observed routes
 * that `owned` rejects are never deleted. Ops carry the routes as given (observed or desired).
 */
export function diffRoutes(desired: readonly Route[], observed: readonly Route[], owned: (r: Route) => boolean = ALL): NetlinkOp[] {
  const want = new Map<string, Route>();
  for (const r of desired) want.set(routeKey(r), r);
  const wantIds = new Set([...want.values()].map(routeId));
  const haveIds = new Set(observed.map(routeId));
  const dels = observed.filter((r) => owned(r) && !wantIds.has(routeId(r))).map((route): NetlinkOp => ({ kind: "route.del", route }));
  const adds = [...want.values()].filter((r) => !haveIds.has(routeId(r)));
  adds.sort((a, b) => Number(a.via !== undefined) - Number(b.via !== undefined));
  return [...dels, ...adds.map((route): NetlinkOp => ({ kind: "route.replace", route }))];
}

/**
 * The ops that turn the owned observed rules into the desired ones: `rule.del` of every owned
 * observed rule not desired, then `rule.add` of every desired rule not observed. The kernel
 * deletes the first rule matching the given selectors (unspecified ones match anything), so
 * deleting an unwanted rule can take another one that comes before it; the diff simulates that
 * over all observed rules, re-adds any wanted rule that went with it and puts back any rule it
 * does not own. Rules of equal priority may end up in a different order.
 */
export function diffRules(desired: readonly Rule[], observed: readonly Rule[], owned: (r: Rule) => boolean = ALL): NetlinkOp[] {
  const ops: NetlinkOp[] = [];
  let work = [...observed];
  const unwanted = observed.filter((r) => owned(r) && !desired.some((d) => ruleEquals(d, r)));
  /** Rules not ours that a delete took with it. */
  const taken: Rule[] = [];
  // In observed order, an unwanted rule is still there when its turn comes: a delete takes the
  // first matching rule, and every unwanted rule before it was deleted already.
  for (const u of unwanted) {
    for (;;) {
      const i = work.findIndex((r) => ruleMatches(r, u));
      const hit = work[i];
      if (hit === undefined) break;
      ops.push({ kind: "rule.del", rule: u });
      work = work.filter((_, j) => j !== i);
      if (hit === u) break;
      if (!owned(hit)) taken.push(hit);
    }
  }
  const seen: Rule[] = [];
  for (const d of [...desired, ...taken]) {
    if (work.some((r) => ruleEquals(r, d)) || seen.some((r) => ruleEquals(r, d))) continue;
    seen.push(d);
    ops.push({ kind: "rule.add", rule: d });
  }
  return ops;
}

/** `sysctl.set` for each desired value that differs from the observed one (with `previous` when known). */
export function diffSysctls(desired: readonly (readonly [string, string])[], observed: Readonly<Record<string, string>>): NetlinkOp[] {
  const out: NetlinkOp[] = [];
  for (const [key, value] of desired) {
    const prev = observed[key];
    if (prev === value) continue;
    out.push(prev === undefined ? { kind: "sysctl.set", key, value } : { kind: "sysctl.set", key, value, previous: prev });
  }
  return out;
}

/**
 * nft commands that ensure `rules` exist, identifying a rule by (family, table, chain, comment —
 * or its expression when it has no comment): nothing when every rule is already observed,
 * otherwise `prelude` (nft `add` of the table, chains and sets: ensure they exist) followed by
 * `add rule` of the missing rules only.
 */
export function diffNftRules(prelude: readonly NftCommand[], rules: readonly NftRule[], observed: readonly NftRule[]): NftCommand[] {
  const key = (r: NftRule): string => JSON.stringify([r.family, r.table, r.chain, r.comment ?? JSON.stringify(r.expr)]);
  const have = new Set(observed.map(key));
  const missing = rules.filter((r) => !have.has(key(r)));
  if (missing.length === 0) return [];
  return [...prelude, ...missing.map((rule): NftCommand => ({ add: { rule } }))];
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
  return s.tables.includes(n.table ?? MAIN_TABLE) && (s.protocols?.includes(n.protocol ?? 3) ?? true) && (s.families?.includes(n.family) ?? true);
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
