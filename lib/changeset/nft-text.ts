import { assertNever } from "./changeset.js";
import type { NftChain, NftCommand, NftExpr, NftObject, NftRule, NftSet, NftStatement } from "./nft.js";

/** Meta keys nft(8) prints without the `meta` keyword. */
const UNQUALIFIED_META = new Set(["iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup"]);
/** Keys whose values nft(8) prints as quoted strings. */
const STRING_KEYS = new Set(["iifname", "oifname"]);
/** Keys whose list values nft(8) prints as a comma-separated flag list. */
const FLAG_KEYS = new Set(["state", "status"]);

function quote(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function keyOf(e: NftExpr): string | undefined {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return undefined;
  if ("meta" in e) return e.meta.key;
  if ("ct" in e) return e.ct.key;
  return undefined;
}

/** Text of an expression, as nft(8) would print it. `stringy` quotes bare strings (interface names). */
export function nftExprText(e: NftExpr, opts: { stringy?: boolean; flags?: boolean } = {}): string {
  if (typeof e === "string") return opts.stringy === true && !e.startsWith("@") ? quote(e) : e;
  if (typeof e === "number" || typeof e === "boolean") return String(e);
  if (Array.isArray(e)) {
    const items = (e as readonly NftExpr[]).map((x) => nftExprText(x, opts));
    return opts.flags === true ? items.join(",") : `{ ${items.join(", ")} }`;
  }
  const o = e as Exclude<NftExpr, string | number | boolean | readonly NftExpr[]>;
  if ("payload" in o) return `${o.payload.protocol} ${o.payload.field}`;
  if ("meta" in o) return UNQUALIFIED_META.has(o.meta.key) ? o.meta.key : `meta ${o.meta.key}`;
  if ("ct" in o) return o.ct.dir === undefined ? `ct ${o.ct.key}` : `ct ${o.ct.dir} ${o.ct.key}`;
  if ("prefix" in o) return `${o.prefix.addr}/${o.prefix.len}`;
  if ("set" in o) return `{ ${o.set.map((x) => nftExprText(x, opts)).join(", ")} }`;
  return assertNever(o);
}

function statementText(s: NftStatement): string {
  if ("match" in s) {
    const key = keyOf(s.match.left);
    const right = nftExprText(s.match.right, {
      stringy: key !== undefined && STRING_KEYS.has(key),
      flags: key !== undefined && FLAG_KEYS.has(key),
    });
    const op = s.match.op === "==" || s.match.op === "in" ? "" : `${s.match.op} `;
    return `${nftExprText(s.match.left)} ${op}${right}`;
  }
  if ("counter" in s) return s.counter === null ? "counter" : `counter packets ${s.counter.packets} bytes ${s.counter.bytes}`;
  if ("masquerade" in s) return "masquerade";
  if ("accept" in s) return "accept";
  if ("drop" in s) return "drop";
  if ("return" in s) return "return";
  if ("jump" in s) return `jump ${s.jump.target}`;
  if ("mangle" in s) return `${nftExprText(s.mangle.key)} set ${nftExprText(s.mangle.value)}`;
  return assertNever(s);
}

function ruleText(r: NftRule, withHandle: boolean): string {
  const head = `${r.family} ${r.table} ${r.chain}`;
  const handle = withHandle && r.handle !== undefined ? ` handle ${r.handle}` : "";
  const body = r.expr.map(statementText);
  if (r.comment !== undefined) body.push(`comment ${quote(r.comment)}`);
  return body.length === 0 ? `${head}${handle}` : `${head}${handle} ${body.join(" ")}`;
}

function chainText(c: NftChain): string {
  const head = `${c.family} ${c.table} ${c.name}`;
  if (c.type === undefined || c.hook === undefined) return head;
  const policy = c.policy === undefined ? "" : ` policy ${c.policy};`;
  return `${head} { type ${c.type} hook ${c.hook} priority ${c.prio ?? 0};${policy} }`;
}

function setText(s: NftSet): string {
  const elems = s.elem === undefined || s.elem.length === 0 ? "" : ` elements = ${nftExprText(s.elem, { stringy: s.type === "ifname" })};`;
  return `${s.family} ${s.table} ${s.name} { type ${s.type};${elems} }`;
}

function objectText(o: NftObject, opts: { rule: "add" | "delete" }): string {
  if ("table" in o) return `table ${o.table.family} ${o.table.name}`;
  if ("chain" in o) return opts.rule === "delete" ? `chain ${o.chain.family} ${o.chain.table} ${o.chain.name}` : `chain ${chainText(o.chain)}`;
  if ("rule" in o) {
    if (opts.rule === "delete") return `rule ${o.rule.family} ${o.rule.table} ${o.rule.chain} handle ${o.rule.handle ?? "?"}`;
    return `rule ${ruleText(o.rule, false)}`;
  }
  if ("set" in o) return opts.rule === "delete" ? `set ${o.set.family} ${o.set.table} ${o.set.name}` : `set ${setText(o.set)}`;
  if ("element" in o) {
    const el = o.element;
    return `element ${el.family} ${el.table} ${el.name} ${nftExprText(el.elem)}`;
  }
  return assertNever(o);
}

/**
 * One libnftables-json command as the equivalent nft(8) command line (without the leading `nft`),
 * e.g. `{add: {rule: …}}` → `add rule ip nat POSTROUTING ip saddr != 10.0.0.1 oifname "eth0" counter masquerade`.
 * Used for logs and golden tests; `nft -j` with the JSON remains what is executed.
 */
export function nftCommandText(cmd: NftCommand): string {
  if ("add" in cmd) return `add ${objectText(cmd.add, { rule: "add" })}`;
  if ("create" in cmd) return `create ${objectText(cmd.create, { rule: "add" })}`;
  if ("insert" in cmd) return `insert rule ${ruleText(cmd.insert.rule, false)}`;
  if ("replace" in cmd) return `replace rule ${ruleText(cmd.replace.rule, true)}`;
  if ("delete" in cmd) return `delete ${objectText(cmd.delete, { rule: "delete" })}`;
  if ("flush" in cmd) return `flush ${objectText(cmd.flush, { rule: "delete" })}`;
  return assertNever(cmd);
}
