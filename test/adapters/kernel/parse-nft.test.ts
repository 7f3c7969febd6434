// Parser of `nft -j list …` output, tested against captured output (test/fixtures/ip/capture.sh).
import t from "tap";
import { readFileSync } from "node:fs";
import { parseNftListing } from "../../../adapters/kernel/parse-nft.js";

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../fixtures/nft/${name}`, import.meta.url), "utf8"));

t.test("empty ruleset: only metainfo", async (t) => {
  t.same(parseNftListing(fixture("empty-ruleset.json"))._unsafeUnwrap(), { tables: [], chains: [], sets: [], rules: [] });
});

t.test("nat table with a set and a masquerade rule", async (t) => {
  const l = parseNftListing(fixture("nat-table.json"))._unsafeUnwrap();
  t.same(l.tables, [{ family: "ip", name: "coilnat" }]);
  t.same(l.chains, [{ family: "ip", table: "coilnat", name: "postrouting", type: "nat", hook: "postrouting", prio: 100, policy: "accept" }]);
  t.same(l.sets, [{ family: "ip", table: "coilnat", name: "clients", type: "ipv4_addr", elem: ["10.1.0.5", "10.1.0.6"] }]);
  t.equal(l.rules.length, 1);
  t.match(l.rules[0], { family: "ip", table: "coilnat", chain: "postrouting", comment: "coil abc", handle: Number });
  t.same(l.rules[0]?.expr.at(-1), { masquerade: null });
  t.same(l.rules[0]?.expr.at(-2), { counter: { packets: 0, bytes: 0 } }, "the kernel reports counter values");
});

t.test("whole ruleset holds both tables", async (t) => {
  const l = parseNftListing(fixture("nat-ruleset.json"))._unsafeUnwrap();
  t.same(l.tables.map((x) => `${x.family} ${x.name}`), ["ip coilnat", "inet filt"]);
  t.same(l.rules.map((r) => r.chain), ["postrouting", "fwd"]);
});

const hostile = [
  { name: "no nftables key", in: { foo: [] }, where: "nft.nftables" },
  { name: "item with two keys", in: { nftables: [{ table: {}, chain: {} }] }, where: "nft.nftables[0]" },
  { name: "unknown family", in: { nftables: [{ table: { family: "ipx", name: "t" } }] }, where: "nft.nftables[0].table.family" },
  { name: "bad hook", in: { nftables: [{ chain: { family: "ip", table: "t", name: "c", hook: "sideways" } }] }, where: "nft.nftables[0].chain.hook" },
  { name: "rule expr not array", in: { nftables: [{ rule: { family: "ip", table: "t", chain: "c", expr: {} } }] }, where: "nft.nftables[0].rule.expr" },
  { name: "statement with two keys", in: { nftables: [{ rule: { family: "ip", table: "t", chain: "c", expr: [{ accept: null, drop: null }] } }] }, where: "nft.nftables[0].rule.expr[0]" },
];
for (const c of hostile) {
  t.test(`refuses: ${c.name}`, async (t) => {
    const r = parseNftListing(c.in);
    t.ok(r.isErr());
    if (r.isErr()) t.match(r.error, { kind: "unexpected-output", where: c.where });
  });
}
