import t from "tap";
import fc from "fast-check";
import {
  applyOp,
  applyChangeset,
  diffNetnsState,
  diffNftRules,
  diffRoutes,
  diffRules,
  diffSysctls,
  routeInScope,
  routeTable,
  ruleInScope,
  addrInScope,
} from "../../../lib/changeset/index.js";
import type { DiffScope, NetlinkOp, NetnsState, NftCommand, NftRule, Route, Rule } from "../../../lib/changeset/index.js";
import { BASE, op } from "./model-gen.js";
import { a, c } from "./fixtures.js";

const SCOPE: DiffScope = { routes: { tables: [116, 254] }, rules: { min: 0, max: 32765 }, addrs: { devs: ["eth0", "d0", "v0"] } };
// Every generated object is in SCOPE: out-of-scope objects could hold what a desired route depends on.
const setup: NetlinkOp[] = [
  { kind: "link.add-dummy", name: "d0" },
  { kind: "link.add-veth", name: "v0", peer: { name: "p0", netns: { kind: "host" } } },
  { kind: "link.set", name: "v0", up: true },
];
const START = setup.reduce((s, o) => applyOp(s, o)._unsafeUnwrap(), BASE);

/** A model-reachable state: random ops from START that keep the links unchanged. */
const state = fc.array(op.filter((o) => !o.kind.startsWith("link.")), { maxLength: 30 }).map((ops) => {
  let s = START;
  for (const o of ops) s = applyOp(s, o).unwrapOr(s);
  return s;
});

function scoped(s: NetnsState) {
  const sort = <T>(xs: readonly T[]) => xs.map((x) => JSON.stringify(x)).sort();
  return {
    routes: sort(s.routes.filter((r) => routeInScope(SCOPE, r))),
    rules: sort(s.rules.filter((r) => ruleInScope(SCOPE, r))),
    addrs: sort(s.addrs.filter((x) => addrInScope(SCOPE, x))),
  };
}

t.test("apply(diff(d, o), o) == d on the scoped objects", async (t) => {
  let nonEmpty = 0;
  fc.assert(
    fc.property(state, state, (desired, observed) => {
      const ops = diffNetnsState(desired, observed, SCOPE);
      if (ops.length > 0) nonEmpty++;
      const r = applyChangeset({ host: observed }, { steps: [{ netns: { kind: "host" }, netlink: ops, nft: [] }] });
      if (r.isErr()) throw new Error(JSON.stringify({ cause: r.error.cause, op: ops[r.error.op as number] }));
      const got = r.value.host as NetnsState;
      return JSON.stringify(scoped(got)) === JSON.stringify(scoped(desired)) && JSON.stringify(got.links) === JSON.stringify(observed.links);
    }),
    { numRuns: 300, seed: 7 },
  );
  t.ok(nonEmpty > 200, `${nonEmpty} non-trivial diffs`);
});

t.test("diff of equal states is empty (idempotent)", async (t) => {
  fc.assert(fc.property(state, (s) => diffNetnsState(s, s, SCOPE).length === 0), { numRuns: 100, seed: 3 });
  t.pass();
});

t.test("diffRoutes: route_syncer cases", async (t) => {
  const lo = (dst: string) => ({ family: 4 as const, dst: c(dst), dev: "lo", scope: "universe" as const, table: 119, protocol: 30 });
  const ops = diffRoutes([lo("10.224.0.0/30"), lo("10.224.0.4/30")], [lo("10.224.0.0/30"), lo("10.224.0.8/30")]);
  t.same(ops.map((o) => o.kind), ["route.del", "route.replace"]);
  t.match(ops[0], { route: { dst: "10.224.0.8/30" } });
  t.match(ops[1], { route: { dst: "10.224.0.4/30" } });
  const gw = diffRoutes([{ family: 4, dst: c("0.0.0.0/0"), via: a("10.0.0.254") }, { family: 4, dst: c("10.0.0.0/24"), dev: "eth0" }], []);
  t.same(gw.map((o) => (o.kind === "route.replace" ? o.route.dst : "")), ["10.0.0.0/24", "0.0.0.0/0"], "connected route before the gateway route");
  t.same(diffRoutes([], []), []);
});

t.test("diffRules re-adds a wanted rule taken by a wildcard delete", async (t) => {
  const wanted = { family: 4 as const, priority: 2000, table: 116, from: c("10.1.0.0/16") };
  const extra = { family: 4 as const, priority: 2000, table: 116 };
  const ops = diffRules([wanted], [wanted, extra]);
  t.same(ops, [
    { kind: "rule.del", rule: extra },
    { kind: "rule.del", rule: extra },
    { kind: "rule.add", rule: wanted },
  ]);
});

t.test("objects outside the scope are never touched", async (t) => {
  fc.assert(
    fc.property(state, state, (desired, observed) => {
      const narrow: DiffScope = { routes: { tables: [116], families: [4] }, rules: { min: 2001, max: 2001 } };
      return diffNetnsState(desired, observed, narrow).every((o) =>
        o.kind === "route.del" || o.kind === "route.replace" ? o.route.table === 116 && o.route.family === 4 : o.kind.startsWith("rule.") && "rule" in o && o.rule.priority === 2001,
      );
    }),
    { numRuns: 100, seed: 5 },
  );
  t.pass();
});

t.test("ownership by predicate: unowned observed routes and rules are never deleted", async (t) => {
  const r = (dst: string, table: number): Route => ({ family: 4, dst: c(dst), dev: "eth0", table });
  const ops = diffRoutes([r("10.1.0.0/24", 116)], [r("10.2.0.0/24", 116), r("10.3.0.0/24", 117)], (x) => routeTable(x) === 116);
  t.same(ops, [
    { kind: "route.del", route: r("10.2.0.0/24", 116) },
    { kind: "route.replace", route: r("10.1.0.0/24", 116) },
  ], "table 117 is not owned: kept");
  t.same(diffRoutes([r("10.1.0.0/24", 116)], [{ ...r("10.1.0.0/24", 116), protocol: 3, metric: 0, scope: "link" }]), [], "kernel defaults compare equal");
  t.same(routeTable({ family: 4, dst: c("10.0.0.0/8") }), 254, "main when omitted");
  const mine: Rule = { family: 4, priority: 2000, table: 116, from: c("10.1.0.0/16") };
  const theirs: Rule = { family: 4, priority: 2001, table: 117 };
  t.same(diffRules([], [mine, theirs], (x) => x.priority === 2000), [{ kind: "rule.del", rule: mine }]);
  t.same(diffRules([mine], [mine, theirs], () => false), [], "nothing owned, everything desired present: no ops");
});

t.test("diffRules puts back a rule it does not own that a wildcard delete took", async (t) => {
  // `ip rule del priority 2000 table 116` (the unwanted rule, without selectors) takes the first
  // rule of priority 2000 / table 116: here someone else's rule with an iif.
  const theirs: Rule = { family: 4, priority: 2000, table: 116, iif: "eth9" };
  const unwanted: Rule = { family: 4, priority: 2000, table: 116 };
  const ops = diffRules([], [theirs, unwanted], (x) => x.iif === undefined);
  t.same(ops, [
    { kind: "rule.del", rule: unwanted },
    { kind: "rule.del", rule: unwanted },
    { kind: "rule.add", rule: theirs },
  ]);
  const after = applyChangeset({ host: { ...BASE, rules: [theirs, unwanted] } }, { steps: [{ netns: { kind: "host" }, netlink: ops, nft: [] }] });
  t.same((after._unsafeUnwrap().host as NetnsState).rules, [theirs], "the model agrees: only the unwanted rule is gone");
});

t.test("diffSysctls: only values that differ, with the previous value when known", async (t) => {
  t.same(diffSysctls([["a", "1"], ["b", "1"], ["c", "0"]], { a: "1", b: "0" }), [
    { kind: "sysctl.set", key: "b", value: "1", previous: "0" },
    { kind: "sysctl.set", key: "c", value: "0" },
  ]);
  t.same(diffSysctls([], { a: "1" }), []);
});

t.test("diffNftRules: nothing when every rule is there, else the prelude and the missing rules", async (t) => {
  const rule = (comment: string): NftRule => ({ family: "ip", table: "coil", chain: "post", expr: [{ accept: null }], comment });
  const prelude: NftCommand[] = [{ add: { table: { family: "ip", name: "coil" } } }];
  t.same(diffNftRules(prelude, [rule("a"), rule("b")], [rule("a"), rule("b")]), []);
  t.same(diffNftRules(prelude, [rule("a"), rule("b")], [rule("a")]), [...prelude, { add: { rule: rule("b") } }]);
});
