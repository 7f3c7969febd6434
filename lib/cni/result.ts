/**
 * The CNI Result in its current (spec 1.1.0) form: building the result of a veth attachment, and
 * parsing results and `prevResult` from JSON in any supported version's shape (0.3.1/0.4.0
 * `ips[].version` is accepted and dropped).
 */
import { err, ok, Result } from "neverthrow";
import { hostCidr, parseCidr, parseIp, type Cidr, type Ip } from "../net/index.js";
import { CNI_ERROR, MAX_QUOTED_CHARS, boundText, cniError, quoteValue, type CniError } from "./errors.js";
import { CURRENT_VERSION, isSupportedVersion, type CniVersion } from "./version.js";

/** An interface in a result. */
export interface CniInterface {
  /** Interface name. */
  readonly name: string;
  /** Hardware address. */
  readonly mac?: string;
  /** MTU (spec 1.1.0). */
  readonly mtu?: number;
  /** Netns path for interfaces inside a sandbox; absent for host-side interfaces. */
  readonly sandbox?: string;
  /** vhost-user socket path (spec 1.1.0). */
  readonly socketPath?: string;
  /** PCI ID of a VF (spec 1.1.0). */
  readonly pciID?: string;
}

/** An IP configuration in a result. */
export interface CniIpConfig {
  /** Address with prefix length, e.g. `10.1.2.3/32`. */
  readonly address: Cidr;
  /** Default gateway for this subnet. */
  readonly gateway?: Ip;
  /** Index into `interfaces`. */
  readonly interface?: number;
}

/** A route in a result. */
export interface CniRoute {
  /** Destination prefix. */
  readonly dst: Cidr;
  /** Next hop. */
  readonly gw?: Ip;
  /** Route MTU (1.1.0). */
  readonly mtu?: number;
  /** Advertised MSS (1.1.0). */
  readonly advmss?: number;
  /** Route priority / metric (1.1.0). */
  readonly priority?: number;
  /** Routing table (1.1.0). */
  readonly table?: number;
  /** Route scope (1.1.0). */
  readonly scope?: number;
}

/** DNS settings in a result. */
export interface CniDns {
  /** Name servers. */
  readonly nameservers?: readonly string[];
  /** Local domain. */
  readonly domain?: string;
  /** Search domains. */
  readonly search?: readonly string[];
  /** Resolver options. */
  readonly options?: readonly string[];
}

/** A CNI Result in current (1.1.0) form, whatever `cniVersion` says. */
export interface CniResult {
  /** The version the result was produced for (a supported version). */
  readonly cniVersion: CniVersion;
  /** Interfaces, possibly empty. */
  readonly interfaces: readonly CniInterface[];
  /** IP configurations, possibly empty. */
  readonly ips: readonly CniIpConfig[];
  /** Routes, possibly empty. */
  readonly routes: readonly CniRoute[];
  /** DNS, possibly `{}`. */
  readonly dns: CniDns;
}

type Obj = Readonly<Record<string, unknown>>;
type R<T> = Result<T, CniError>;

const fail = (what: string): R<never> => err(cniError(CNI_ERROR.DECODING_FAILURE, "failed to decode CNI result", what));
/** An untrusted JSON value shown in `details` as JSON text (no control characters), bounded. */
const shown = (v: unknown): string => boundText(JSON.stringify(v) ?? String(v), MAX_QUOTED_CHARS);
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Read optional key `k` of `o` with `check`; absent or null → undefined. */
function opt<T>(o: Obj, k: string, where: string, check: (v: unknown) => v is T, want: string): R<T | undefined> {
  const v = o[k];
  if (v === undefined || v === null) return ok(undefined);
  return check(v) ? ok(v) : fail(`${where}.${k}: expected ${want}, got ${shown(v)}`);
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isUint = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

/** Copy defined values only (exactOptionalPropertyTypes: absent, never `undefined`). */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function list(o: Obj, k: string): R<readonly unknown[]> {
  const v = o[k];
  if (v === undefined || v === null) return ok([]);
  return Array.isArray(v) ? ok(v) : fail(`${k}: expected an array, got ${shown(v)}`);
}

function mapAll<T>(items: readonly unknown[], f: (x: unknown, where: string) => R<T>, k: string): R<T[]> {
  const out: T[] = [];
  for (const [i, x] of items.entries()) {
    const r = f(x, `${k}[${i}]`);
    if (r.isErr()) return err(r.error);
    out.push(r.value);
  }
  return ok(out);
}

function parseInterface(x: unknown, where: string): R<CniInterface> {
  if (!isObj(x) || typeof x["name"] !== "string") return fail(`${where}: expected an object with a string name`);
  const name = x["name"];
  return Result.combine([
    opt(x, "mac", where, isStr, "a string"),
    opt(x, "sandbox", where, isStr, "a string"),
    opt(x, "socketPath", where, isStr, "a string"),
    opt(x, "pciID", where, isStr, "a string"),
  ]).andThen(([mac, sandbox, socketPath, pciID]) =>
    opt(x, "mtu", where, isUint, "a non-negative integer").map((mtu) =>
      defined<CniInterface>({ name, mac, mtu, sandbox, socketPath, pciID }),
    ),
  );
}

function cidrField(x: Obj, k: string, where: string): R<Cidr> {
  const v = x[k];
  if (typeof v !== "string") return fail(`${where}.${k}: expected a CIDR string`);
  const c = parseCidr(v);
  if (c.isOk()) return ok(c.value);
  // The net module's message quotes the whole input; quote it bounded here, with its reason.
  const why = c.error.kind === "invalid-cidr" ? c.error.reason : c.error.message;
  return fail(`${where}.${k}: invalid CIDR ${quoteValue(v)}: ${boundText(why, 80)}`);
}

function ipField(x: Obj, k: string, where: string): R<Ip | undefined> {
  return opt(x, k, where, isStr, "an IP string").andThen((v) => {
    if (v === undefined || v === "") return ok(undefined);
    const ip = parseIp(v);
    return ip.isOk() ? ok(ip.value) : fail(`${where}.${k}: invalid IP address ${quoteValue(v)}`);
  });
}

function parseIpConfig(x: unknown, where: string): R<CniIpConfig> {
  if (!isObj(x)) return fail(`${where}: expected an object`);
  return cidrField(x, "address", where).andThen((address) =>
    ipField(x, "gateway", where).andThen((gateway) =>
      opt(x, "interface", where, isUint, "a non-negative integer").map((iface) =>
        defined<CniIpConfig>({ address, gateway, interface: iface }),
      ),
    ),
  );
}

function parseRoute(x: unknown, where: string): R<CniRoute> {
  if (!isObj(x)) return fail(`${where}: expected an object`);
  return cidrField(x, "dst", where).andThen((dst) =>
    ipField(x, "gw", where).andThen((gw) =>
      Result.combine([
        opt(x, "mtu", where, isUint, "a non-negative integer"),
        opt(x, "advmss", where, isUint, "a non-negative integer"),
        opt(x, "priority", where, isUint, "a non-negative integer"),
        opt(x, "table", where, isInt, "an integer"),
        opt(x, "scope", where, isInt, "an integer"),
      ]).map(([mtu, advmss, priority, table, scope]) => defined<CniRoute>({ dst, gw, mtu, advmss, priority, table, scope })),
    ),
  );
}

function parseDns(o: Obj): R<CniDns> {
  const d = o["dns"];
  if (d === undefined || d === null) return ok({});
  if (!isObj(d)) return fail(`dns: expected an object`);
  return Result.combine([
    opt(d, "nameservers", "dns", isStrArr, "an array of strings"),
    opt(d, "search", "dns", isStrArr, "an array of strings"),
    opt(d, "options", "dns", isStrArr, "an array of strings"),
  ]).andThen(([nameservers, search, options]) =>
    opt(d, "domain", "dns", isStr, "a string").map((domain) => defined<CniDns>({ nameservers, domain, search, options })),
  );
}

/** Options for {@link parseResult}. */
export interface ParseResultOptions {
  /** Version to assume when the JSON has no `cniVersion` (pre-1.0 results may omit it). */
  readonly defaultVersion?: CniVersion;
}

/**
 * Parse a result object (already JSON-decoded) of any supported version into current form.
 * Addresses, gateways and route destinations must parse; numbers must be integers. Every failure
 * is code 6 "failed to decode CNI result" with the offending path in `details`.
 */
export function parseResult(json: unknown, options: ParseResultOptions = {}): Result<CniResult, CniError> {
  if (!isObj(json)) return fail("result: expected a JSON object");
  const v = json["cniVersion"] ?? options.defaultVersion;
  if (!isSupportedVersion(v)) return fail(`cniVersion: unsupported result version ${shown(v ?? null)}`);
  return list(json, "interfaces")
    .andThen((xs) => mapAll(xs, parseInterface, "interfaces"))
    .andThen((interfaces) =>
      list(json, "ips")
        .andThen((xs) => mapAll(xs, parseIpConfig, "ips"))
        .andThen((ips) =>
          list(json, "routes")
            .andThen((xs) => mapAll(xs, parseRoute, "routes"))
            .andThen((routes) => parseDns(json).map((dns) => ({ cniVersion: v, interfaces, ips, routes, dns }))),
        ),
    );
}

/** A veth attachment as a node plugin made it: the pod end in its sandbox, the host end, the pod's addresses. */
export interface VethAttachment {
  /** The pod-side interface (`CNI_IFNAME`). */
  readonly ifname: string;
  /** The pod's network namespace path (`CNI_NETNS`). */
  readonly sandbox: string;
  /** The host-side veth. */
  readonly hostIfname: string;
  /** The pod's IPv4 address. */
  readonly ipv4?: Ip;
  /** The pod's IPv6 address. */
  readonly ipv6?: Ip;
}

/**
 * The CNI result of a veth attachment in Coil's shape, in the current version (1.1.0):
 * `interfaces` = the pod end (with its `sandbox`), then the host end; one `ips` entry per address
 * as a host prefix (`/32`, `/128`) on interface 0 (the pod end), IPv4 first; no gateway, routes or
 * DNS (the pod's routes are the plugin's business, as in Coil). Print it with
 * `convertResult(result, version)`.
 */
export function vethAttachmentResult(a: VethAttachment): CniResult {
  const addrs = [a.ipv4, a.ipv6].filter((ip): ip is Ip => ip !== undefined);
  return {
    cniVersion: CURRENT_VERSION,
    interfaces: [{ name: a.ifname, sandbox: a.sandbox }, { name: a.hostIfname }],
    ips: addrs.map((ip) => ({ address: hostCidr(ip), interface: 0 })),
    routes: [],
    dns: {},
  };
}
