import t from "tap";
import fc from "fast-check";
import { applyOp, invertOp, invertChangeset, invertNftCommand, routeKey, ruleEquals, ruleMatches, applyChangeset, EMPTY_NETNS_STATE } from "../../../lib/changeset/index.js";
import type { NetlinkOp, NetnsState } from "../../../lib/changeset/index.js";
import { BASE, canon, op } from "./model-gen.js";
import { everyOp, someNft, c } from "./fixtures.js";

/** Whether the op, applied to `s`, is one whose inverse is exact (see invertOp's contract). */
function exactlyInvertible(s: NetnsState, o: NetlinkOp): boolean {
  if (o.kind === "route.replace") return !s.routes.some((r) => routeKey(r) === routeKey(o.route));
  if (o.kind === "rule.del") {
    const first = s.rules.find((r) => ruleMatches(r, o.rule));
    return first !== undefined && ruleEquals(first, o.rule);
  }
  if (o.kind === "rule.add") {
    const after = applyOp(s, o);
    const first = after.isOk() ? after.value.rules.find((r) => ruleMatches(r, o.rule)) : undefined;
    return first !== undefined && ruleEquals(first, o.rule);
  }
  if (o.kind === "route.del") return s.routes.some((r) => JSON.stringify(r) === JSON.stringify(o.route));
  return true;
}

t.test("applyOp(applyOp(s, op), invert(op)) == s over random op sequences", async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
      let s = BASE;
      for (const raw of ops) {
        const o: NetlinkOp = raw.kind === "sysctl.set" ? { ...raw, previous: s.sysctls[raw.key] ?? "" } : raw;
        const next = applyOp(s, o);
        if (next.isErr()) continue;
        const inv = invertOp(o);
        if (inv.isOk() && exactlyInvertible(s, o)) {
          let back = next.value;
          for (const i of inv.value) back = applyOp(back, i)._unsafeUnwrap();
          if (JSON.stringify(canon(back)) !== JSON.stringify(canon(s))) return false;
          checked++;
        }
        s = next.value;
      }
      return true;
    }),
    { numRuns: 300, seed: 42 },
  );
  t.ok(checked > 500, `checked ${checked} inversions`);
});

t.test("route.del removes exactly a stored route, then route.add restores it", async (t) => {
  const s = applyOp(BASE, { kind: "route.add", route: { family: 4, dst: c("10.1.0.0/16"), dev: "eth0" } })._unsafeUnwrap();
  const stored = s.routes[0];
  if (stored === undefined) return t.fail("no route");
  const d: NetlinkOp = { kind: "route.del", route: stored };
  const back = applyOp(applyOp(s, d)._unsafeUnwrap(), invertOp(d)._unsafeUnwrap()[0] as NetlinkOp)._unsafeUnwrap();
  t.same(back, s);
});

t.test("non-invertible ops give error values", async (t) => {
  const cases: NetlinkOp[] = [
    { kind: "link.del", name: "eth0" },
    { kind: "link.set", name: "eth0", up: true },
    { kind: "fou.del", family: 4, port: 1 },
    { kind: "sysctl.set", key: "net.ipv4.ip_forward", value: "1" },
  ];
  for (const o of cases) t.equal(invertOp(o)._unsafeUnwrapErr().kind, "not-invertible", o.kind);
  t.same(invertOp({ kind: "sysctl.set", key: "k", value: "1", previous: "0" })._unsafeUnwrap(), [{ kind: "sysctl.set", key: "k", value: "0", previous: "1" }]);
  t.same(invertOp({ kind: "route.replace", route: { family: 4, dst: c("10.0.0.0/8"), dev: "eth0" } })._unsafeUnwrap()[0]?.kind, "route.del");
});

t.test("nft inversion", async (t) => {
  const inv = someNft().map((x) => invertNftCommand(x));
  t.same(inv[0]?._unsafeUnwrap(), { delete: { table: { family: "ip", name: "nat" } } });
  t.equal(inv[2]?._unsafeUnwrapErr().kind, "nft-not-invertible", "rule without handle");
  t.equal(inv[5]?._unsafeUnwrapErr().kind, "nft-not-invertible", "delete");
  const withHandle = invertNftCommand({ add: { rule: { family: "ip", table: "nat", chain: "c", expr: [], handle: 4 } } });
  t.same(withHandle._unsafeUnwrap(), { delete: { rule: { family: "ip", table: "nat", chain: "c", expr: [], handle: 4 } } });
});

t.test("invertChangeset rolls a multi-namespace changeset back", async (t) => {
  const pod = "/var/run/netns/pod1";
  // Only ops with exact inverses: link.set (not invertible) and the routes needing the link up are left out.
  const fwd = everyOp().filter((o) => !["link.del", "fou.del", "route.del", "rule.del", "addr.del", "link.set", "route.add", "route.replace"].includes(o.kind));
  const cs = {
    steps: [
      { netns: { kind: "host" as const }, netlink: fwd, nft: [] },
      { netns: { kind: "path" as const, path: pod }, netlink: [{ kind: "link.set", name: "eth0", up: true }].slice(0, 0) as NetlinkOp[], nft: [{ add: { table: { family: "ip" as const, name: "nat" } } }] },
    ],
  };
  const start = { host: { ...EMPTY_NETNS_STATE, sysctls: { "net.ipv4.ip_forward": "0" } }, [pod]: EMPTY_NETNS_STATE };
  const r0 = applyChangeset(start, cs);
  if (r0.isErr()) return t.fail(JSON.stringify(r0.error.cause));
  const applied = r0.value;
  const rb = invertChangeset(cs)._unsafeUnwrap();
  t.same(rb.steps.map((s) => s.netns.kind), ["path", "host"], "steps reversed");
  t.equal(rb.steps[1]?.netlink[0]?.kind, "link.del", "last forward op undone first");
  const rb2 = applyChangeset(applied, rb);
  if (rb2.isErr()) return t.fail(JSON.stringify({ step: rb2.error.step, op: rb2.error.op, cause: rb2.error.cause }));
  const back = rb2.value;
  t.same(canon(back.host as NetnsState), canon(start.host));
  t.same(back[pod]?.nft, { tables: [] });
  t.equal(invertChangeset({ steps: [{ netns: { kind: "host" }, netlink: [{ kind: "link.del", name: "x" }], nft: [] }] }).isErr(), true);
});
