import { normalizeRoute, type NetlinkOp, type NftCommand, type NftRule, type Route, type Rule } from "../changeset/index.js";
import { MAIN_TABLE } from "../constants.js";

/**
 * A stable string key of a whole route, with the kernel defaults filled in by the changeset
 * model's `normalizeRoute` (table, protocol, scope, metric), so that a planned route and the same
 * route read back compare equal. Unlike the model's `routeKey` (the kernel identity), every
 * attribute counts: a route that differs in any of them must be replaced.
 */
export function routeFullKey(r: Route): string {
  const n = normalizeRoute(r);
  return JSON.stringify([n.family, n.dst, n.dev, n.via, n.src, n.table, n.protocol, n.scope, n.metric, n.onlink ?? false]);
}

/** The table a route lives in (main when omitted). */
export function routeTable(r: Route): number {
  return r.table ?? MAIN_TABLE;
}

/**
 * Routes to change so that the owned part of `observed` equals `desired`: deletes of owned
 * routes not desired, then `route.replace` of desired routes missing or different. Observed routes
 * that `owned` rejects are never touched.
 */
export function reconcileRoutes(desired: readonly Route[], observed: readonly Route[], owned: (r: Route) => boolean): NetlinkOp[] {
  const want = new Set(desired.map(routeFullKey));
  const have = new Set(observed.map(routeFullKey));
  const dels: NetlinkOp[] = observed
    .filter((r) => owned(r) && !want.has(routeFullKey(r)))
    .map((route) => ({ kind: "route.del", route }));
  const adds: NetlinkOp[] = dedupe(desired, routeFullKey)
    .filter((r) => !have.has(routeFullKey(r)))
    .map((route) => ({ kind: "route.replace", route }));
  return [...dels, ...adds];
}

/** A stable string key of a rule. */
export function ruleKey(r: Rule): string {
  return JSON.stringify([r.family, r.priority, r.table, r.from, r.to, r.iif, r.oif, r.fwmark, r.fwmask]);
}

/** Rules to change: deletes of owned rules not desired, then adds of desired rules missing. */
export function reconcileRules(desired: readonly Rule[], observed: readonly Rule[], owned: (r: Rule) => boolean): NetlinkOp[] {
  const want = new Set(desired.map(ruleKey));
  const have = new Set(observed.map(ruleKey));
  const dels: NetlinkOp[] = observed.filter((r) => owned(r) && !want.has(ruleKey(r))).map((rule) => ({ kind: "rule.del", rule }));
  const adds: NetlinkOp[] = dedupe(desired, ruleKey)
    .filter((r) => !have.has(ruleKey(r)))
    .map((rule) => ({ kind: "rule.add", rule }));
  return [...dels, ...adds];
}

/** `sysctl.set` for each desired value that differs from the observed one (with `previous` when known). */
export function reconcileSysctls(desired: readonly (readonly [string, string])[], observed: Readonly<Record<string, string>>): NetlinkOp[] {
  const out: NetlinkOp[] = [];
  for (const [key, value] of desired) {
    const prev = observed[key];
    if (prev === value) continue;
    out.push(prev === undefined ? { kind: "sysctl.set", key, value } : { kind: "sysctl.set", key, value, previous: prev });
  }
  return out;
}

/**
 * nft commands that ensure `rules` exist, identifying rules by (family, table, chain, comment):
 * nothing when every rule is already observed, otherwise `add` of the table, chains and sets
 * (nft `add` = ensure exists) followed by `add rule` for the missing rules only.
 */
export function reconcileNftRules(
  prelude: readonly NftCommand[],
  rules: readonly NftRule[],
  observed: readonly NftRule[],
): NftCommand[] {
  const key = (r: NftRule): string => JSON.stringify([r.family, r.table, r.chain, r.comment ?? JSON.stringify(r.expr)]);
  const have = new Set(observed.map(key));
  const missing = rules.filter((r) => !have.has(key(r)));
  if (missing.length === 0) return [];
  return [...prelude, ...missing.map((rule): NftCommand => ({ add: { rule } }))];
}

function dedupe<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
