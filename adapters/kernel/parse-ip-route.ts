/**
 * Parsers for `ip -j [-d] [-N] route show table all` and `ip -j [-N] rule show` into typed
 * {@link Route}s and {@link Rule}s. iproute2 prints table, protocol and scope as names
 * (`"main"`, `"kernel"`, `"link"`) or, with `-N` or for unnamed values, as decimal strings;
 * both are accepted and mapped to numbers.
 *
 * Only what the model can represent is returned: routes of type `unicast` (local, broadcast,
 * multicast, blackhole… are kernel bookkeeping or foreign) and single-path routes; rules with a
 * table lookup and no `not`. Anything else is skipped, never misread.
 */
import { err, ok, Result } from "neverthrow";
import type { Route, RouteScope, Rule } from "../../lib/changeset/index.js";
import { cidrFamily, parseCidr, parseIp, type Cidr, type Family, type Ip } from "../../lib/net/index.js";
import {
  asArray,
  asObject,
  mapAll,
  numberOrName,
  optInt,
  optString,
  optStrings,
  parseError,
  reqInt,
  type JsonObject,
  type ParseError,
} from "./json-shape.js";

/** Routing table names of /etc/iproute2/rt_tables. */
export const TABLE_NAMES: Readonly<Record<string, number>> = { unspec: 0, default: 253, main: 254, local: 255 };
/** Route protocol names of /etc/iproute2/rt_protos (iproute2 6.1). */
export const PROTOCOL_NAMES: Readonly<Record<string, number>> = {
  unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12,
  dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16, keepalived: 18, babel: 42, openr: 99, bgp: 186, isis: 187,
  ospf: 188, rip: 189, eigrp: 192,
};
/** Route scope names of /etc/iproute2/rt_scopes. */
export const SCOPE_NAMES: Readonly<Record<string, number>> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
/** Route type names (`-N` prints the RTN_* number). */
const UNICAST = new Set(["unicast", "1"]);

const SCOPE_BY_NUMBER: ReadonlyMap<number, RouteScope> = new Map([[0, "universe"], [253, "link"], [254, "host"]]);
const MAIN_TABLE = 254;
const BOOT_PROTOCOL = 3;

function parseDst(v: JsonObject, family: Family, where: string): Result<Cidr, ParseError> {
  const dst = v["dst"];
  if (dst === "default") return ok((family === 4 ? "0.0.0.0/0" : "::/0") as Cidr);
  if (typeof dst !== "string") return err(parseError(`${where}.dst`, "expected a string"));
  const withLen = dst.includes("/") ? dst : `${dst}/${family === 4 ? 32 : 128}`;
  const c = parseCidr(withLen);
  if (c.isErr()) return err(parseError(`${where}.dst`, c.error.message));
  if (cidrFamily(c.value) !== family) {
    return err(parseError(`${where}.dst`, `${dst} is not an IPv${family} destination`));
  }
  return ok(c.value);
}

function optIp(v: JsonObject, key: string, where: string): Result<Ip | undefined, ParseError> {
  const s = optString(v, key, where);
  if (s.isErr() || s.value === undefined) return s.map(() => undefined);
  return parseIp(s.value)
    .map((ip): Ip | undefined => ip)
    .mapErr((e) => parseError(`${where}.${key}`, e.message));
}

function optNumberOrName(v: JsonObject, key: string, names: Readonly<Record<string, number>>, dflt: number, where: string) {
  return v[key] === undefined ? ok<number, ParseError>(dflt) : numberOrName(v[key], names, `${where}.${key}`);
}

/** The value of a field's Result; its error, if it is the first, goes to `bad` (no Result.combine per route). */
function field<T>(r: Result<T, ParseError>, bad: { error?: ParseError }): T | undefined {
  if (r.isOk()) return r.value;
  bad.error ??= r.error;
  return undefined;
}

function parseOneRoute(x: unknown, family: Family, where: string): Result<Route | undefined, ParseError> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return asObject(x, where).map(() => undefined);
  const v = x as JsonObject;
  const type = v["type"] ?? "unicast";
  if (typeof type !== "string") return err(parseError(`${where}.type`, "expected a string"));
  if (!UNICAST.has(type) || v["nexthops"] !== undefined) return ok(undefined);
  // Read in the order the combined parse used to, so that the first error reported is the same.
  const bad: { error?: ParseError } = {};
  const dst = field(parseDst(v, family, where), bad);
  const devRaw = v["dev"];
  const dev = devRaw === undefined || typeof devRaw === "string" ? devRaw : field(optString(v, "dev", where), bad);
  const via = v["gateway"] === undefined ? undefined : field(optIp(v, "gateway", where), bad);
  const src = v["prefsrc"] === undefined ? undefined : field(optIp(v, "prefsrc", where), bad);
  const table = field(optNumberOrName(v, "table", TABLE_NAMES, MAIN_TABLE, where), bad);
  const protocol = field(optNumberOrName(v, "protocol", PROTOCOL_NAMES, BOOT_PROTOCOL, where), bad);
  const scopeNum = field(optNumberOrName(v, "scope", SCOPE_NAMES, 0, where), bad);
  const metric = v["metric"] === undefined ? undefined : field(optInt(v, "metric", where), bad);
  const flags = field(optStrings(v, "flags", where), bad);
  if (bad.error !== undefined) return err(bad.error);
  if (dst === undefined || table === undefined || protocol === undefined || scopeNum === undefined || flags === undefined) return ok(undefined);
  const scope = SCOPE_BY_NUMBER.get(scopeNum);
  if (scope === undefined) return ok(undefined);
  return ok({
    family,
    dst,
    ...(dev !== undefined ? { dev } : {}),
    ...(via !== undefined ? { via } : {}),
    ...(src !== undefined ? { src } : {}),
    table,
    protocol,
    ...(scope !== "universe" ? { scope } : {}),
    ...(metric !== undefined && metric !== 0 ? { metric } : {}),
    ...(flags.includes("onlink") ? { onlink: true } : {}),
  });
}

/**
 * Parse `ip -j route show table all` of one family (run it with `-4` or `-6`: a `default`
 * destination has no family of its own). An entry of the other family is an error.
 */
export function parseIpRoutes(json: unknown, family: Family): Result<Route[], ParseError> {
  const arr = asArray(json, "ip route");
  if (arr.isErr()) return err(arr.error);
  return mapAll(arr.value, (x, i) => parseOneRoute(x, family, `ip route[${i}]`));
}

function optSelector(v: JsonObject, key: "src" | "dst", family: Family, where: string): Result<Cidr | undefined, ParseError> {
  const s = optString(v, key, where);
  if (s.isErr()) return err(s.error);
  if (s.value === undefined || s.value === "all") return ok(undefined);
  const len = optInt(v, `${key}len`, where);
  if (len.isErr()) return err(len.error);
  const c = parseCidr(`${s.value}/${len.value ?? (family === 4 ? 32 : 128)}`);
  return c.mapErr((e) => parseError(`${where}.${key}`, e.message));
}

function optMark(v: JsonObject, key: string, where: string): Result<number | undefined, ParseError> {
  return v[key] === undefined ? ok(undefined) : numberOrName(v[key], {}, `${where}.${key}`);
}

function parseOneRule(x: unknown, family: Family, where: string): Result<Rule | undefined, ParseError> {
  const o = asObject(x, where);
  if (o.isErr()) return err(o.error);
  const v = o.value;
  if (v["not"] !== undefined || v["table"] === undefined) return ok(undefined);
  const fields = Result.combine([
    reqInt(v, "priority", where),
    numberOrName(v["table"], TABLE_NAMES, `${where}.table`),
    optSelector(v, "src", family, where),
    optSelector(v, "dst", family, where),
    optString(v, "iif", where),
    optString(v, "oif", where),
    optMark(v, "fwmark", where),
    optMark(v, "fwmask", where),
  ]);
  if (fields.isErr()) return err(fields.error);
  const [priority, table, from, to, iif, oif, fwmark, fwmask] = fields.value;
  return ok({
    family,
    priority,
    table,
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(iif !== undefined ? { iif } : {}),
    ...(oif !== undefined ? { oif } : {}),
    ...(fwmark !== undefined ? { fwmark } : {}),
    ...(fwmask !== undefined ? { fwmask } : {}),
  });
}

/** Parse `ip -j rule show` (IPv4) or `ip -6 -j rule show` (IPv6): the output does not say which. */
export function parseIpRules(json: unknown, family: Family): Result<Rule[], ParseError> {
  const arr = asArray(json, "ip rule");
  if (arr.isErr()) return err(arr.error);
  return mapAll(arr.value, (x, i) => parseOneRule(x, family, `ip rule[${i}]`));
}
