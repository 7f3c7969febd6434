import { err, ok, type Result } from "neverthrow";
import {
  familyBits,
  ipFamily,
  ipFromBigInt,
  ipToBigInt,
  type Cidr,
  type Family,
  type Ip,
  type NetError,
} from "./ip.js";

/** The address part of a CIDR, as written. */
export function cidrAddress(c: Cidr): Ip {
  return c.slice(0, c.indexOf("/")) as Ip;
}

/** The prefix length of a CIDR. */
export function cidrPrefix(c: Cidr): number {
  return Number(c.slice(c.indexOf("/") + 1));
}

/** The family of a CIDR. */
export function cidrFamily(c: Cidr): Family {
  return ipFamily(cidrAddress(c));
}

/** Number of host bits: address bits minus the prefix length. */
export function cidrHostBits(c: Cidr): number {
  return familyBits(cidrFamily(c)) - cidrPrefix(c);
}

/** Build a CIDR from an address and a prefix length (checked against the family). */
export function makeCidr(ip: Ip, prefix: number): Result<Cidr, NetError> {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > familyBits(ipFamily(ip))) {
    return err({ kind: "invalid-cidr", input: `${ip}/${prefix}`, reason: `prefix ${prefix} out of range`, message: `prefix ${prefix} out of range` });
  }
  return ok(`${ip}/${prefix}` as Cidr);
}

/** The single-address CIDR of an address: `/32` for IPv4, `/128` for IPv6. */
export function hostCidr(ip: Ip): Cidr {
  return `${ip}/${familyBits(ipFamily(ip))}` as Cidr;
}

function networkBase(c: Cidr): bigint {
  const hb = BigInt(cidrHostBits(c));
  return (ipToBigInt(cidrAddress(c)) >> hb) << hb;
}

function fromInt(family: Family, n: bigint): Ip {
  // Values computed here are always inside the family's range by construction.
  return ipFromBigInt(family, n).match(
    (ip) => ip,
    () => (family === 4 ? "0.0.0.0" : "::") as Ip,
  );
}

/**
 * {@link cidrNetwork} of an IPv4 CIDR with 32-bit integers, reading the (already validated) text
 * digit by digit: planners call it per route, thousands of times per sync. A CIDR without host
 * bits is returned as it is.
 */
function ipv4Network(c: Cidr, slash: number): Cidr {
  let addr = 0;
  let octet = 0;
  for (let i = 0; i < slash; i++) {
    const d = c.charCodeAt(i);
    if (d === 46) {
      addr = addr * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (d - 48);
  }
  addr = addr * 256 + octet;
  let prefix = 0;
  for (let i = slash + 1; i < c.length; i++) prefix = prefix * 10 + (c.charCodeAt(i) - 48);
  const n = (addr & (prefix === 0 ? 0 : -1 << (32 - prefix))) >>> 0;
  if (n === addr) return c;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${prefix}` as Cidr;
}

/** The CIDR with its host bits cleared, as Go's `net.ParseCIDR` returns the network. */
export function cidrNetwork(c: Cidr): Cidr {
  const slash = c.indexOf("/");
  if (!c.includes(":")) return ipv4Network(c, slash);
  return `${fromInt(6, networkBase(c))}/${cidrPrefix(c)}` as Cidr;
}

/** Whether `ip` lies inside the network `c`. Addresses of the other family are never inside. */
export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (ipFamily(ip) !== cidrFamily(c)) return false;
  const hb = BigInt(cidrHostBits(c));
  return ipToBigInt(ip) >> hb === ipToBigInt(cidrAddress(c)) >> hb;
}

/** Whether network `inner` lies entirely inside network `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return cidrPrefix(inner) >= cidrPrefix(outer) && cidrContains(outer, cidrAddress(inner));
}

/** Whether two networks share any address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrFamily(a) === cidrFamily(b) && (cidrCovers(a, b) || cidrCovers(b, a));
}

/** Number of addresses in the network, `2^(hostBits)`. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(cidrHostBits(c));
}

/** The address at `offset` from the network address, failing when it lies outside the network. */
export function cidrAt(c: Cidr, offset: bigint | number): Result<Ip, NetError> {
  const o = BigInt(offset);
  if (o < 0n || o >= cidrSize(c)) {
    return err({ kind: "out-of-range", message: `offset ${o} outside ${c}` });
  }
  return ok(fromInt(cidrFamily(c), networkBase(c) + o));
}

/** The offset of `ip` from the network address of `c`, failing when `ip` is outside `c`. */
export function cidrOffset(c: Cidr, ip: Ip): Result<bigint, NetError> {
  if (!cidrContains(c, ip)) return err({ kind: "out-of-range", message: `${ip} is not in ${c}` });
  return ok(ipToBigInt(ip) - networkBase(c));
}

/**
 * The `index`-th subnet of length `newPrefix` inside `c` (splitting `c` into equal parts).
 * For example the 3rd /30 of `10.2.0.0/24` is `10.2.0.12/30`.
 */
export function cidrSubnet(c: Cidr, newPrefix: number, index: bigint | number): Result<Cidr, NetError> {
  const bits = familyBits(cidrFamily(c));
  if (!Number.isInteger(newPrefix) || newPrefix < cidrPrefix(c) || newPrefix > bits) {
    return err({ kind: "out-of-range", message: `cannot split ${c} into /${newPrefix}` });
  }
  const i = BigInt(index);
  const count = 1n << BigInt(newPrefix - cidrPrefix(c));
  if (i < 0n || i >= count) return err({ kind: "out-of-range", message: `subnet ${i} outside ${c}` });
  const base = networkBase(c) + (i << BigInt(bits - newPrefix));
  return ok(`${fromInt(cidrFamily(c), base)}/${newPrefix}` as Cidr);
}

/** Every subnet of length `newPrefix` inside `c`, in address order (lazy). */
export function* cidrSplit(c: Cidr, newPrefix: number): Generator<Cidr> {
  const first = cidrSubnet(c, newPrefix, 0);
  if (first.isErr()) return;
  const count = 1n << BigInt(newPrefix - cidrPrefix(c));
  for (let i = 0n; i < count; i++) {
    const s = cidrSubnet(c, newPrefix, i);
    if (s.isOk()) yield s.value;
  }
}
