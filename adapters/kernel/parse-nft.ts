/**
 * Parser for `nft -j list ruleset` / `nft -j list table <family> <name>` output
 * (libnftables-json(5)) into the typed objects of `lib/changeset`: tables, chains, sets and
 * rules. `metainfo` is dropped; handles are kept on rules. Rule statements are checked to be
 * single-key objects and then kept verbatim (libnftables-json is their schema).
 */
import { err, ok, Result } from "neverthrow";
import type { NftChain, NftFamily, NftListing, NftRule, NftSet, NftStatement, NftTable } from "../../lib/changeset/index.js";
import { asArray, asObject, optInt, optString, parseError, reqString, type JsonObject, type ParseError } from "./json-shape.js";

/** Everything one `nft -j list …` printed, grouped by object type, in listing order (the kernel port's). */
export type { NftListing };

const FAMILIES: ReadonlySet<string> = new Set<NftFamily>(["ip", "ip6", "inet", "arp", "bridge", "netdev"]);
const CHAIN_TYPES: ReadonlySet<string> = new Set(["filter", "nat", "route"]);
const HOOKS: ReadonlySet<string> = new Set(["prerouting", "input", "forward", "output", "postrouting", "ingress"]);

function family(o: JsonObject, where: string): Result<NftFamily, ParseError> {
  const f = reqString(o, "family", where);
  if (f.isErr()) return err(f.error);
  return FAMILIES.has(f.value) ? ok(f.value as NftFamily) : err(parseError(`${where}.family`, `unknown family ${f.value}`));
}

function oneOf<T extends string>(o: JsonObject, key: string, allowed: ReadonlySet<string>, where: string): Result<T | undefined, ParseError> {
  const s = optString(o, key, where);
  if (s.isErr() || s.value === undefined) return s.map(() => undefined);
  return allowed.has(s.value) ? ok(s.value as T) : err(parseError(`${where}.${key}`, `unexpected ${s.value}`));
}

function parseTable(o: JsonObject, where: string): Result<NftTable, ParseError> {
  return Result.combine([family(o, where), reqString(o, "name", where)]).map(([f, name]) => ({ family: f, name }));
}

function parseChain(o: JsonObject, where: string): Result<NftChain, ParseError> {
  const prio = o["prio"];
  if (prio !== undefined && !Number.isInteger(prio)) return err(parseError(`${where}.prio`, "expected an integer"));
  return Result.combine([
    family(o, where),
    reqString(o, "table", where),
    reqString(o, "name", where),
    oneOf<"filter" | "nat" | "route">(o, "type", CHAIN_TYPES, where),
    oneOf<NonNullable<NftChain["hook"]>>(o, "hook", HOOKS, where),
    oneOf<"accept" | "drop">(o, "policy", new Set(["accept", "drop"]), where),
  ]).map(([f, table, name, type, hook, policy]) => ({
    family: f,
    table,
    name,
    ...(type !== undefined ? { type } : {}),
    ...(hook !== undefined ? { hook } : {}),
    ...(prio !== undefined ? { prio: prio as number } : {}),
    ...(policy !== undefined ? { policy } : {}),
  }));
}

function parseSet(o: JsonObject, where: string): Result<NftSet, ParseError> {
  const elem = o["elem"];
  if (elem !== undefined && !Array.isArray(elem)) return err(parseError(`${where}.elem`, "expected an array"));
  return Result.combine([family(o, where), reqString(o, "table", where), reqString(o, "name", where), reqString(o, "type", where)]).map(
    ([f, table, name, type]) => ({ family: f, table, name, type, ...(elem !== undefined ? { elem: elem as NftSet["elem"] & object } : {}) }),
  );
}

function parseStatements(x: unknown, where: string): Result<readonly NftStatement[], ParseError> {
  const arr = asArray(x, where);
  if (arr.isErr()) return err(arr.error);
  for (const [i, s] of arr.value.entries()) {
    const o = asObject(s, `${where}[${i}]`);
    if (o.isErr()) return err(o.error);
    if (Object.keys(o.value).length !== 1) return err(parseError(`${where}[${i}]`, "a statement has exactly one key"));
  }
  return ok(arr.value as readonly NftStatement[]);
}

function parseRule(o: JsonObject, where: string): Result<NftRule, ParseError> {
  return Result.combine([
    family(o, where),
    reqString(o, "table", where),
    reqString(o, "chain", where),
    parseStatements(o["expr"], `${where}.expr`),
    optInt(o, "handle", where),
    optString(o, "comment", where),
  ]).map(([f, table, chain, expr, handle, comment]) => ({
    family: f,
    table,
    chain,
    expr,
    ...(handle !== undefined ? { handle } : {}),
    ...(comment !== undefined ? { comment } : {}),
  }));
}

/** Parse the document printed by `nft -j list ruleset` or `nft -j list table …`. */
export function parseNftListing(json: unknown): Result<NftListing, ParseError> {
  const doc = asObject(json, "nft");
  if (doc.isErr()) return err(doc.error);
  const items = asArray(doc.value["nftables"], "nft.nftables");
  if (items.isErr()) return err(items.error);
  const out = { tables: [] as NftTable[], chains: [] as NftChain[], sets: [] as NftSet[], rules: [] as NftRule[] };
  for (const [i, x] of items.value.entries()) {
    const where = `nft.nftables[${i}]`;
    const item = asObject(x, where);
    if (item.isErr()) return err(item.error);
    const [key, ...rest] = Object.keys(item.value);
    if (key === undefined || rest.length > 0) return err(parseError(where, "expected exactly one key"));
    if (key === "metainfo") continue;
    const body = asObject(item.value[key], `${where}.${key}`);
    if (body.isErr()) return err(body.error);
    const r = parseItem(key, body.value, `${where}.${key}`, out);
    if (r.isErr()) return err(r.error);
  }
  return ok(out);
}

function parseItem(
  key: string,
  body: JsonObject,
  where: string,
  out: { tables: NftTable[]; chains: NftChain[]; sets: NftSet[]; rules: NftRule[] },
): Result<void, ParseError> {
  switch (key) {
    case "table":
      return parseTable(body, where).map((x) => void out.tables.push(x));
    case "chain":
      return parseChain(body, where).map((x) => void out.chains.push(x));
    case "set":
      return parseSet(body, where).map((x) => void out.sets.push(x));
    case "rule":
      return parseRule(body, where).map((x) => void out.rules.push(x));
    default:
      // maps, flowtables, counters, quotas…: not modelled; ignored rather than misread.
      return ok(undefined);
  }
}
