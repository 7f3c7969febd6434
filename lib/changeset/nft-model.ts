import { err, ok, type Result } from "neverthrow";
import type { NftChain, NftCommand, NftExpr, NftFamily, NftObject, NftRule } from "./nft.js";

/** A modelled chain: its definition and its rules in order (each with a `handle`). */
export interface NftChainState {
  /** The chain as it was added (base chain type, hook, priority, policy). */
  readonly def: NftChain;
  /** Rules in evaluation order, each with its `handle`. */
  readonly rules: readonly NftRule[];
}

/** A modelled named set with its elements. */
export interface NftSetState {
  /** Set name. */
  readonly name: string;
  /** Element type, e.g. `ipv4_addr`. */
  readonly type: string;
  /** Current elements, in insertion order. */
  readonly elem: readonly NftExpr[];
}

/** A modelled table. `nextHandle` is the table's handle counter (chains, sets and rules share it, as in the kernel). */
export interface NftTableState {
  /** Table family. */
  readonly family: NftFamily;
  /** Table name. */
  readonly name: string;
  /** Chains of the table, in creation order. */
  readonly chains: readonly NftChainState[];
  /** Named sets of the table. */
  readonly sets: readonly NftSetState[];
  /** Next handle the table will give out (starts at 1). */
  readonly nextHandle: number;
}

/** The modelled ruleset of one namespace. */
export interface NftRuleset {
  /** Tables, in creation order. */
  readonly tables: readonly NftTableState[];
}

/** Errors of the nftables model; `errno` is what nft(8) would report. */
export interface NftModelError {
  /** Discriminant: `nft-error`. */
  readonly kind: "nft-error";
  /** What nft(8) would fail with: `ENOENT` (missing object), `EEXIST` (`create` of an existing one), `EBUSY` (deleting a chain still jumped to or non-empty). */
  readonly errno: "ENOENT" | "EEXIST" | "EBUSY";
  /** The command that failed. */
  readonly command: NftCommand;
  /** Human-readable explanation. */
  readonly message: string;
}

type Tables = readonly NftTableState[];
type R = Result<Tables, Omit<NftModelError, "command">>;

const fail = (errno: NftModelError["errno"], message: string): R => err({ kind: "nft-error", errno, message });
const same = (a: NftExpr, b: NftExpr): boolean => JSON.stringify(a) === JSON.stringify(b);

function tableIndex(ts: Tables, family: NftFamily, name: string): number {
  return ts.findIndex((t) => t.family === family && t.name === name);
}

function withTable(ts: Tables, family: NftFamily, name: string, f: (t: NftTableState) => Result<NftTableState, Omit<NftModelError, "command">>): R {
  const i = tableIndex(ts, family, name);
  const t = ts[i];
  if (t === undefined) return fail("ENOENT", `table ${family} ${name} does not exist`);
  return f(t).map((nt) => ts.map((x, j) => (j === i ? nt : x)));
}

function withChain(t: NftTableState, name: string, f: (c: NftChainState) => Result<NftChainState, Omit<NftModelError, "command">>) {
  const c = t.chains.find((x) => x.def.name === name);
  if (c === undefined) return err({ kind: "nft-error" as const, errno: "ENOENT" as const, message: `chain ${name} does not exist` });
  return f(c).map((nc) => ({ ...t, chains: t.chains.map((x) => (x === c ? nc : x)) }));
}

function addRule(ts: Tables, r: NftRule, where: "append" | "prepend" | "replace"): R {
  return withTable(ts, r.family, r.table, (t) => {
    const handle = where === "replace" ? (r.handle ?? -1) : t.nextHandle;
    const stored: NftRule = { ...r, handle };
    const nt = { ...t, nextHandle: where === "replace" ? t.nextHandle : t.nextHandle + 1 };
    return withChain(nt, r.chain, (c) => {
      if (where === "append") return ok({ ...c, rules: [...c.rules, stored] });
      if (where === "prepend") return ok({ ...c, rules: [stored, ...c.rules] });
      if (!c.rules.some((x) => x.handle === handle)) return err({ kind: "nft-error" as const, errno: "ENOENT" as const, message: `no rule with handle ${handle}` });
      return ok({ ...c, rules: c.rules.map((x) => (x.handle === handle ? stored : x)) });
    });
  });
}

function referencesSet(t: NftTableState, name: string): boolean {
  return t.chains.some((c) => c.rules.some((r) => JSON.stringify(r.expr).includes(`"@${name}"`)));
}

function addObject(ts: Tables, o: NftObject, create: boolean): R {
  if ("table" in o) {
    if (tableIndex(ts, o.table.family, o.table.name) >= 0) return create ? fail("EEXIST", `table ${o.table.name} exists`) : ok(ts);
    return ok([...ts, { family: o.table.family, name: o.table.name, chains: [], sets: [], nextHandle: 1 }]);
  }
  if ("chain" in o) {
    const d = o.chain;
    return withTable(ts, d.family, d.table, (t) => {
      if (t.chains.some((c) => c.def.name === d.name)) return create ? err({ kind: "nft-error", errno: "EEXIST", message: `chain ${d.name} exists` }) : ok(t);
      return ok({ ...t, chains: [...t.chains, { def: d, rules: [] }], nextHandle: t.nextHandle + 1 });
    });
  }
  if ("rule" in o) return addRule(ts, o.rule, "append");
  if ("set" in o) {
    const s = o.set;
    return withTable(ts, s.family, s.table, (t) => {
      const cur = t.sets.find((x) => x.name === s.name);
      if (cur !== undefined && create) return err({ kind: "nft-error", errno: "EEXIST", message: `set ${s.name} exists` });
      const base = cur ?? { name: s.name, type: s.type, elem: [] };
      const merged = { ...base, elem: mergeElems(base.elem, s.elem ?? []) };
      const sets = cur === undefined ? [...t.sets, merged] : t.sets.map((x) => (x === cur ? merged : x));
      return ok({ ...t, sets, nextHandle: cur === undefined ? t.nextHandle + 1 : t.nextHandle });
    });
  }
  const e = o.element;
  return withTable(ts, e.family, e.table, (t) => {
    const cur = t.sets.find((x) => x.name === e.name);
    if (cur === undefined) return err({ kind: "nft-error", errno: "ENOENT", message: `set ${e.name} does not exist` });
    if (create && e.elem.some((x) => cur.elem.some((y) => same(x, y)))) return err({ kind: "nft-error", errno: "EEXIST", message: "element exists" });
    return ok({ ...t, sets: t.sets.map((x) => (x === cur ? { ...cur, elem: mergeElems(cur.elem, e.elem) } : x)) });
  });
}

function mergeElems(a: readonly NftExpr[], b: readonly NftExpr[]): NftExpr[] {
  const out = [...a];
  for (const x of b) if (!out.some((y) => same(x, y))) out.push(x);
  return out;
}

function deleteObject(ts: Tables, o: NftObject, flush: boolean): R {
  if ("table" in o) {
    const i = tableIndex(ts, o.table.family, o.table.name);
    if (i < 0) return fail("ENOENT", `table ${o.table.name} does not exist`);
    if (!flush) return ok(ts.filter((_, j) => j !== i));
    return ok(ts.map((t, j) => (j === i ? { ...t, chains: t.chains.map((c) => ({ ...c, rules: [] })) } : t)));
  }
  if ("chain" in o) {
    const d = o.chain;
    return withTable(ts, d.family, d.table, (t) => {
      const c = t.chains.find((x) => x.def.name === d.name);
      if (c === undefined) return err({ kind: "nft-error", errno: "ENOENT", message: `chain ${d.name} does not exist` });
      if (flush) return ok({ ...t, chains: t.chains.map((x) => (x === c ? { ...x, rules: [] } : x)) });
      if (c.rules.length > 0) return err({ kind: "nft-error", errno: "EBUSY", message: `chain ${d.name} is not empty` });
      return ok({ ...t, chains: t.chains.filter((x) => x !== c) });
    });
  }
  if ("rule" in o) {
    const r = o.rule;
    return withTable(ts, r.family, r.table, (t) =>
      withChain(t, r.chain, (c) =>
        c.rules.some((x) => x.handle === r.handle)
          ? ok({ ...c, rules: c.rules.filter((x) => x.handle !== r.handle) })
          : err({ kind: "nft-error" as const, errno: "ENOENT" as const, message: `no rule with handle ${r.handle ?? "?"}` }),
      ),
    );
  }
  const name = "set" in o ? o.set.name : o.element.name;
  const where = "set" in o ? o.set : o.element;
  return withTable(ts, where.family, where.table, (t) => {
    const cur = t.sets.find((x) => x.name === name);
    if (cur === undefined) return err({ kind: "nft-error", errno: "ENOENT", message: `set ${name} does not exist` });
    if ("set" in o && flush) return ok({ ...t, sets: t.sets.map((x) => (x === cur ? { ...cur, elem: [] } : x)) });
    if ("set" in o) {
      if (referencesSet(t, name)) return err({ kind: "nft-error", errno: "EBUSY", message: `set ${name} is in use` });
      return ok({ ...t, sets: t.sets.filter((x) => x !== cur) });
    }
    const gone = o.element.elem;
    if (!gone.every((x) => cur.elem.some((y) => same(x, y)))) return err({ kind: "nft-error", errno: "ENOENT", message: "element does not exist" });
    return ok({ ...t, sets: t.sets.map((x) => (x === cur ? { ...cur, elem: cur.elem.filter((y) => !gone.some((g) => same(g, y))) } : x)) });
  });
}

function applyCommand(ts: Tables, cmd: NftCommand): R {
  if ("add" in cmd) return addObject(ts, cmd.add, false);
  if ("create" in cmd) return addObject(ts, cmd.create, true);
  if ("insert" in cmd) return addRule(ts, cmd.insert.rule, "prepend");
  if ("replace" in cmd) return addRule(ts, cmd.replace.rule, "replace");
  if ("delete" in cmd) return deleteObject(ts, cmd.delete, false);
  return deleteObject(ts, cmd.flush, true);
}

/**
 * Apply nft commands as one transaction, as `nft -j` does: all commands or none. Rules:
 * `add` ensures an object exists (no error if it does), `create` fails with EEXIST if it does;
 * objects need their table (and rules their chain) to exist, else ENOENT; rules get the table's
 * next handle; `insert` prepends, `replace`/`delete rule` need an existing handle; deleting a
 * non-empty chain or a set referenced by a rule (`@name`) fails with EBUSY; `flush table` empties
 * every chain of the table, `flush chain` its rules, `flush set` its elements; `delete table`
 * removes everything in it.
 */
export function applyNftCommands(rs: NftRuleset, cmds: readonly NftCommand[]): Result<NftRuleset, NftModelError> {
  let ts: Tables = rs.tables;
  for (const cmd of cmds) {
    const r = applyCommand(ts, cmd);
    if (r.isErr()) return err({ ...r.error, command: cmd });
    ts = r.value;
  }
  return ok({ tables: ts });
}

/** The empty ruleset. */
export const EMPTY_NFT_RULESET: NftRuleset = { tables: [] };
