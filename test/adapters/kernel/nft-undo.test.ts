// nftUndo: delete exactly what a transaction created (pure; no root).
import t from "tap";
import { nftUndo } from "../../../adapters/kernel/nft-undo.js";
import type { NftListing } from "../../../adapters/kernel/parse-nft.js";

const empty: NftListing = { tables: [], chains: [], sets: [], rules: [] };
const tbl = { family: "ip", name: "t" } as const;
const chain = { family: "ip", table: "t", name: "c" } as const;
const rule = (handle: number) => ({ family: "ip", table: "t", chain: "c", handle, expr: [{ accept: null }] }) as const;
const set = (elem: string[]) => ({ family: "ip", table: "t", name: "s", type: "ipv4_addr", elem }) as const;

const cases: { name: string; before: NftListing; after: NftListing; want: unknown[]; lost?: string[] }[] = [
  { name: "nothing changed", before: { ...empty, tables: [tbl] }, after: { ...empty, tables: [tbl] }, want: [] },
  { name: "new table: delete the table only", before: empty, after: { tables: [tbl], chains: [chain], sets: [set([])], rules: [rule(2)] }, want: [{ delete: { table: tbl } }] },
  {
    name: "rule added to an existing chain: delete it by handle",
    before: { ...empty, tables: [tbl], chains: [chain], rules: [rule(2)] },
    after: { ...empty, tables: [tbl], chains: [chain], rules: [rule(2), rule(3)] },
    want: [{ delete: { rule: { family: "ip", table: "t", chain: "c", handle: 3, expr: [] } } }],
  },
  {
    name: "new chain and set in an existing table, new elements in an old set",
    before: { ...empty, tables: [tbl], sets: [{ ...set(["10.0.0.1"]), name: "old" }] },
    after: { tables: [tbl], chains: [chain], sets: [{ ...set(["10.0.0.1", "10.0.0.2"]), name: "old" }, set([])], rules: [rule(4)] },
    want: [
      { delete: { element: { family: "ip", table: "t", name: "old", elem: ["10.0.0.2"] } } },
      { flush: { chain } },
      { delete: { chain } },
      { delete: { set: { family: "ip", table: "t", name: "s", type: "ipv4_addr" } } },
    ],
  },
  {
    name: "removed objects are reported as lost",
    before: { ...empty, tables: [tbl], chains: [chain], rules: [rule(2)] },
    after: { ...empty, tables: [tbl], chains: [chain] },
    want: [],
    lost: ["rule ip t handle 2"],
  },
];
for (const c of cases) {
  t.test(c.name, async (t) => {
    const u = nftUndo(c.before, c.after);
    t.same(u.commands, c.want);
    t.same(u.lost, c.lost ?? []);
  });
}
