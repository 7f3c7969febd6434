/**
 * Printing a current-form result in a given spec version, producing the JSON libcni's converters
 * and marshallers produce (same keys, same omissions, same key order).
 */
import { err, ok, type Result } from "neverthrow";
import { cidrFamily } from "../net/index.js";
import { CNI_ERROR, cniError, quoteValue, type CniError } from "./errors.js";
import type { CniDns, CniResult, CniRoute } from "./result.js";
import { isV1Family } from "./prev-result.js";
import { SUPPORTED_VERSIONS, isSupportedVersion } from "./version.js";

/** A JSON value, as produced by {@link convertResult}. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };

type JsonObject = { [k: string]: JsonValue };

/** Keep the entries whose value is "non-empty" in Go's `omitempty` sense. */
function omitEmpty(o: Record<string, JsonValue | undefined>, keepZero: readonly string[] = []): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    if (v === 0 && !keepZero.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Go's `types.Route` JSON (`table` and `scope` are pointers: 0 is kept). */
function routeJson(r: CniRoute): JsonObject {
  return omitEmpty(
    { dst: r.dst, gw: r.gw, mtu: r.mtu, advmss: r.advmss, priority: r.priority, table: r.table, scope: r.scope },
    ["table", "scope"],
  );
}

function dnsJson(d: CniDns): JsonObject {
  return omitEmpty({ nameservers: d.nameservers, domain: d.domain, search: d.search, options: d.options });
}

/** Recursively sort object keys, as Go's `json.Marshal` of a `map[string]interface{}` does. */
function sortKeysDeep(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (typeof v !== "object" || v === null) return v;
  const o = v as { readonly [k: string]: JsonValue };
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeysDeep(o[k] ?? null)]));
}

/** 1.0.0 / 1.1.0 (libcni `types100`): no `ips[].version`; `dns` only when non-empty; keys sorted. */
function toV1(r: CniResult, version: string): JsonValue {
  const dns = dnsJson(r.dns);
  return sortKeysDeep(
    omitEmpty({
      cniVersion: version,
      interfaces: r.interfaces.map((i) =>
        omitEmpty({ name: i.name, mac: i.mac, mtu: i.mtu, sandbox: i.sandbox, socketPath: i.socketPath, pciID: i.pciID }, ["name"]),
      ),
      ips: r.ips.map((ip) => omitEmpty({ interface: ip.interface, address: ip.address, gateway: ip.gateway }, ["interface"])),
      routes: r.routes.map(routeJson),
      dns: Object.keys(dns).length === 0 ? undefined : dns,
    }),
  );
}

/**
 * 0.3.1 / 0.4.0 (libcni `types040`): `ips[].version` is "4" or "6" from the address; interfaces keep
 * only name/mac/sandbox; routes are copied whole; `dns` is always present (`{}` when empty).
 */
function toV04(r: CniResult, version: string): JsonValue {
  return {
    ...omitEmpty({
      cniVersion: version,
      interfaces: r.interfaces.map((i) => omitEmpty({ name: i.name, mac: i.mac, sandbox: i.sandbox }, ["name"])),
      ips: r.ips.map((ip) =>
        omitEmpty(
          { version: cidrFamily(ip.address) === 4 ? "4" : "6", interface: ip.interface, address: ip.address, gateway: ip.gateway },
          ["interface"],
        ),
      ),
      routes: r.routes.map(routeJson),
    }),
    dns: dnsJson(r.dns),
  };
}

/**
 * Convert a current-form result to the JSON printed for spec version `toVersion`, exactly as libcni
 * (`GetAsVersion` + `Print`) shapes it. An unsupported `toVersion` → code 1.
 */
export function convertResult(result: CniResult, toVersion: string): Result<JsonValue, CniError> {
  if (!isSupportedVersion(toVersion)) {
    return err(
      cniError(
        CNI_ERROR.INCOMPATIBLE_CNI_VERSION,
        `cannot convert result to version ${quoteValue(toVersion)}`,
        `supported versions: ${SUPPORTED_VERSIONS.join(", ")}`,
      ),
    );
  }
  return ok(isV1Family(toVersion) ? toV1(result, toVersion) : toV04(result, toVersion));
}
