import { err, ok, type Result } from "neverthrow";
import { ipFamily, ipToBigInt, type Ip } from "../net/index.js";
import { ALIAS_PREFIX, HOST_VETH_PREFIX } from "../constants.js";
import { ALIAS_MAX_BYTES } from "../changeset/index.js";
import { validateLinkName, type PlanError } from "./errors.js";
import { sha1, toHex } from "./sha1.js";

/** Options of {@link hostVethName}. */
export interface HostVethNameOptions {
  /** Coil mode: 4 random bytes, as 8 hex digits or a byte array (the caller supplies randomness). */
  readonly random?: string | Uint8Array;
  /** Calico-compatible naming: `veth` + first 11 hex digits of sha1("<namespace>.<name>"). */
  readonly compatCalico?: boolean;
  /** Pod namespace; required with `compatCalico`. */
  readonly podNamespace?: string;
  /** Pod name; required with `compatCalico`. */
  readonly podName?: string;
}

/**
 * The host-side veth name of a pod, as Coil names it (§4.2 step 3): `veth` + 8 random hex digits
 * (e.g. `veth3a9f01c2`), or in compat-calico mode `veth` + the first 11 hex digits of
 * `sha1("<namespace>.<podname>")` — 15 characters, what Calico computes with
 * `FELIX_INTERFACEPREFIX=veth`. The library never draws randomness: pass it in `random`.
 */
export function hostVethName(opts: HostVethNameOptions): Result<string, PlanError> {
  if (opts.compatCalico === true) {
    if (opts.podNamespace === undefined || opts.podName === undefined) {
      return err({ kind: "invalid-random", message: "compatCalico naming needs podNamespace and podName" });
    }
    return ok(HOST_VETH_PREFIX + toHex(sha1(`${opts.podNamespace}.${opts.podName}`)).slice(0, 11));
  }
  const r = opts.random;
  const hex = typeof r === "string" ? r.toLowerCase() : r === undefined ? "" : r.length === 4 ? toHex(r) : "";
  if (!/^[0-9a-f]{8}$/.test(hex)) {
    return err({ kind: "invalid-random", message: "random must be 8 hex digits or 4 bytes" });
  }
  return ok(HOST_VETH_PREFIX + hex);
}

/**
 * Whether `name` has the shape of a host veth name a Coil node plugin gives ({@link hostVethName}):
 * `veth` + 8 lowercase hex digits (Coil's random names, also what the CNI plugins' `RandomVethName`
 * draws), or `veth` + 11 (compat-calico).
 */
export function isHostVethName(name: string): boolean {
  return name.startsWith(HOST_VETH_PREFIX) && /^[0-9a-f]{8}([0-9a-f]{3})?$/.test(name.slice(HOST_VETH_PREFIX.length));
}

/** The parts of a Coil host-veth alias `COIL:<pool>:<containerId>:<ifname>`. */
export interface LinkAlias {
  /** Pool name; empty in egress-only (chained) mode, where the alias is `COIL::<podUID>:<ifname>`. */
  readonly pool: string;
  /** Container id (IPAM mode) or pod UID (egress-only mode). */
  readonly containerId: string;
  /** The container-side interface name (CNI_IFNAME). */
  readonly ifname: string;
}

const FIELD_RE = /^[A-Za-z0-9_.-]*$/;

/**
 * Format the alias Coil puts on a pod's host veth; it is how Coil finds the pod's link again
 * (CHECK, DEL, garbage cleanup). Fields must not contain `:` (the separator) or unusual characters.
 */
export function formatLinkAlias(a: LinkAlias): Result<string, PlanError> {
  const alias = `${ALIAS_PREFIX}${a.pool}:${a.containerId}:${a.ifname}`;
  const bad = !FIELD_RE.test(a.pool) || !FIELD_RE.test(a.containerId) || a.containerId === "" || !FIELD_RE.test(a.ifname);
  if (bad || a.ifname === "" || alias.length > ALIAS_MAX_BYTES) {
    return err({ kind: "invalid-alias", value: alias, message: `invalid alias fields: ${JSON.stringify(alias)}` });
  }
  return ok(alias);
}

/** Parse a Coil alias; `COIL::<podUID>:<ifname>` (egress-only mode) gives an empty pool. */
export function parseLinkAlias(alias: string): Result<LinkAlias, PlanError> {
  const parts = alias.split(":");
  const [prefix, pool, containerId, ifname] = parts;
  if (parts.length !== 4 || `${prefix}:` !== ALIAS_PREFIX || pool === undefined || containerId === undefined || ifname === undefined) {
    return err({ kind: "invalid-alias", value: alias, message: `not a Coil alias: ${JSON.stringify(alias)}` });
  }
  return formatLinkAlias({ pool, containerId, ifname }).map(() => ({ pool, containerId, ifname }));
}

/** The bytes of an address (4 or 16), big-endian. */
export function ipBytes(ip: Ip): Uint8Array {
  const len = ipFamily(ip) === 4 ? 4 : 16;
  const out = new Uint8Array(len);
  let n = ipToBigInt(ip);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** 8 hex digits naming a peer: the IPv4 address itself, or the first 4 bytes of sha1 of the IPv6 address. */
function peerHex(peer: Ip): string {
  const b = ipBytes(peer);
  return ipFamily(peer) === 4 ? toHex(b) : toHex(sha1(b)).slice(0, 8);
}

/** Coil's FoU tunnel link name: `fou4_0a010101` for 10.1.1.1, `fou6_<sha1(addr)[0:4] hex>` for IPv6. */
export function fouLinkName(peer: Ip): string {
  return `fou${ipFamily(peer)}_${peerHex(peer)}`;
}

/** The VXLAN tunnel link name used instead of FoU where FoU is unavailable: `vx4_<hex>` / `vx6_<hex>`. */
export function vxlanLinkName(peer: Ip): string {
  return `vx${ipFamily(peer)}_${peerHex(peer)}`;
}

/**
 * A VXLAN network identifier derived from a client pod address (first 3 bytes of its SHA-1, never 0).
 * Linux refuses two VXLAN devices with the same VNI and port in one namespace, so a gateway with
 * one device per client needs one VNI per client; both sides compute it from the client's IP.
 */
export function vxlanVniFor(client: Ip): number {
  const d = sha1(ipBytes(client));
  const v = ((d[0] ?? 0) << 16) | ((d[1] ?? 0) << 8) | (d[2] ?? 0);
  return v === 0 ? 1 : v;
}

/**
 * The MAC address of the gateway end of a VXLAN tunnel to `client`: `0a` (locally administered,
 * unicast) + the first 5 bytes of sha1 of the client's address. Every egress pod computes the same,
 * so the client's neighbour entry for the tunnel stays valid across egress pods.
 */
export function vxlanGatewayMac(client: Ip): string {
  const d = sha1(ipBytes(client));
  return ["0a", ...Array.from(d.slice(0, 5), (b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** Validate several interface names at once, returning the first error. */
export function validateLinkNames(fields: Readonly<Record<string, string>>): Result<void, PlanError> {
  for (const [field, value] of Object.entries(fields)) {
    const r = validateLinkName(field, value);
    if (r.isErr()) return err(r.error);
  }
  return ok(undefined);
}

/**
 * An interface name as it appears inside a sysctl key: sysctl(8) reads `.` as a level separator,
 * so a `.` in the name (`eth0.100`) is written `/` (`net.ipv6.conf.eth0/100.accept_ra`).
 */
export function sysctlIfName(name: string): string {
  return name.replaceAll(".", "/");
}
