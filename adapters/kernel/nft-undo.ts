/**
 * Undoing a committed nft transaction from listings taken just before and just after it: every
 * object the transaction created is deleted (rules by handle, elements, chains, sets, tables),
 * and nothing that existed before is touched. `nft add` means "ensure exists", so the commands
 * alone cannot tell what was created; the listings can. Pure.
 */
import type { NftCommand, NftExpr } from "../../lib/changeset/index.js";
import type { NftListing } from "./parse-nft.js";

/** The commands that undo a transaction, and what it removed that cannot be put back. */
export interface NftUndo {
  readonly commands: readonly NftCommand[];
  readonly lost: readonly string[];
}

const key = (...parts: readonly (string | number | undefined)[]): string => parts.join("\u0000");
const elemKey = (e: NftExpr): string => JSON.stringify(e);

/** Commands deleting what is in `after` but not in `before`, in an order nft accepts in one transaction. */
export function nftUndo(before: NftListing, after: NftListing): NftUndo {
  const tablesBefore = new Set(before.tables.map((t) => key(t.family, t.name)));
  const chainsBefore = new Set(before.chains.map((c) => key(c.family, c.table, c.name)));
  const setsBefore = new Map(before.sets.map((s) => [key(s.family, s.table, s.name), new Set((s.elem ?? []).map(elemKey))]));
  const rulesBefore = new Set(before.rules.map((r) => key(r.family, r.table, r.handle)));
  const oldTable = (family: string, table: string) => tablesBefore.has(key(family, table));
  const cmds: NftCommand[] = [];
  for (const r of after.rules) {
    if (chainsBefore.has(key(r.family, r.table, r.chain)) && !rulesBefore.has(key(r.family, r.table, r.handle)) && r.handle !== undefined) {
      cmds.push({ delete: { rule: { family: r.family, table: r.table, chain: r.chain, handle: r.handle, expr: [] } } });
    }
  }
  for (const s of after.sets) {
    const old = setsBefore.get(key(s.family, s.table, s.name));
    const added = old === undefined ? [] : (s.elem ?? []).filter((e) => !old.has(elemKey(e)));
    if (added.length > 0) cmds.push({ delete: { element: { family: s.family, table: s.table, name: s.name, elem: added } } });
  }
  for (const c of after.chains) {
    if (oldTable(c.family, c.table) && !chainsBefore.has(key(c.family, c.table, c.name))) {
      const ref = { family: c.family, table: c.table, name: c.name };
      cmds.push({ flush: { chain: ref } }, { delete: { chain: ref } });
    }
  }
  for (const s of after.sets) {
    if (oldTable(s.family, s.table) && !setsBefore.has(key(s.family, s.table, s.name))) {
      cmds.push({ delete: { set: { family: s.family, table: s.table, name: s.name, type: s.type } } });
    }
  }
  for (const t of after.tables) if (!tablesBefore.has(key(t.family, t.name))) cmds.push({ delete: { table: t } });
  return { commands: cmds, lost: removed(before, after) };
}

function removed(before: NftListing, after: NftListing): string[] {
  const has = <T>(xs: readonly T[], f: (x: T) => string) => new Set(xs.map(f));
  const tables = has(after.tables, (t) => key(t.family, t.name));
  const chains = has(after.chains, (c) => key(c.family, c.table, c.name));
  const rules = has(after.rules, (r) => key(r.family, r.table, r.handle));
  const elems = new Set(after.sets.flatMap((s) => (s.elem ?? []).map((e) => key(s.family, s.table, s.name, elemKey(e)))));
  return [
    ...before.tables.filter((t) => !tables.has(key(t.family, t.name))).map((t) => `table ${t.family} ${t.name}`),
    ...before.chains.filter((c) => !chains.has(key(c.family, c.table, c.name))).map((c) => `chain ${c.family} ${c.table} ${c.name}`),
    ...before.rules.filter((r) => !rules.has(key(r.family, r.table, r.handle))).map((r) => `rule ${r.family} ${r.table} handle ${r.handle ?? "?"}`),
    ...before.sets.flatMap((s) =>
      (s.elem ?? []).filter((e) => !elems.has(key(s.family, s.table, s.name, elemKey(e)))).map((e) => `element ${elemKey(e)} of set ${s.table} ${s.name}`),
    ),
  ];
}
