import { err, ok, type Result } from "neverthrow";
import { formatIpv6Groups, parseIpv6Groups } from "./ipv6.js";

/** An IP address family: 4 for IPv4, 6 for IPv6. */
export type Family = 4 | 6;

declare const ipBrand: unique symbol;
declare const cidrBrand: unique symbol;

/**
 * A parsed IP address in canonical text form (dotted quad for IPv4, RFC 5952 for IPv6).
 * Only {@link parseIp} and the arithmetic helpers produce values of this type, so holding an
 * `Ip` proves the text is valid; it stays a plain string for JSON.
 */
export type Ip = string & {
  /** Compile-time brand only; no such property exists at run time. */
  readonly [ipBrand]: true;
};

/**
 * A parsed CIDR `address/prefix` in canonical text form. The address part is kept as given
 * (host bits may be set, as in Go's `net.ParseCIDR` input); use {@link cidrNetwork} to mask them.
 */
export type Cidr = string & {
  /** Compile-time brand only; no such property exists at run time. */
  readonly [cidrBrand]: true;
};

/** Errors from parsing addresses and prefixes. */
export type NetError =
  | {
      /** The text is not an IPv4 dotted quad or an IPv6 address (zones such as `%eth0` are refused). */
      readonly kind: "invalid-ip";
      /** The rejected text. */
      readonly input: string;
      /** Human-readable explanation quoting the input. */
      readonly message: string;
    }
  | {
      /** The text is not `address/prefix` with a prefix length valid for the family. */
      readonly kind: "invalid-cidr";
      /** The rejected text. */
      readonly input: string;
      /** Which part is wrong, without the input (e.g. `missing /prefix`), for callers that quote the input themselves. */
      readonly reason: string;
      /** Human-readable explanation saying which part is wrong. */
      readonly message: string;
    }
  | {
      /** Two operands are of different address families (e.g. an IPv6 address in an IPv4 CIDR). */
      readonly kind: "family-mismatch";
      /** Human-readable explanation. */
      readonly message: string;
    }
  | {
      /** An offset, index or prefix length falls outside the address space or network. */
      readonly kind: "out-of-range";
      /** Human-readable explanation with the offending number. */
      readonly message: string;
    };

const V4_BITS = 32;
const V6_BITS = 128;
const V4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Number of bits in an address of `family`. */
export function familyBits(family: Family): number {
  return family === 4 ? V4_BITS : V6_BITS;
}

/**
 * Parse an IP address. IPv4 must be a strict dotted quad (no octal, no short forms); IPv6 may use
 * any RFC 4291 text form, including an embedded IPv4 tail. Zone suffixes (`%eth0`) are rejected.
 */
export function parseIp(input: string): Result<Ip, NetError> {
  if (V4_RE.test(input)) return ok(input as Ip);
  const groups = input.includes(":") ? parseIpv6Groups(input) : undefined;
  if (groups !== undefined) return ok(formatIpv6Groups(groups) as Ip);
  return err({ kind: "invalid-ip", input, message: `invalid IP address: ${JSON.stringify(input)}` });
}

/** Parse `address/prefix`. The prefix must be decimal and within the family's bit count. */
export function parseCidr(input: string): Result<Cidr, NetError> {
  const slash = input.indexOf("/");
  const bad = (why: string): Result<Cidr, NetError> =>
    err({ kind: "invalid-cidr", input, reason: why, message: `invalid CIDR ${JSON.stringify(input)}: ${why}` });
  if (slash < 0) return bad("missing /prefix");
  const addr = parseIp(input.slice(0, slash));
  if (addr.isErr()) return bad("invalid address");
  const p = input.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(p)) return bad("invalid prefix length");
  const prefix = Number(p);
  if (prefix > familyBits(ipFamily(addr.value))) return bad("prefix length out of range");
  return ok(`${addr.value}/${prefix}` as Cidr);
}

/** The family of an address. */
export function ipFamily(ip: Ip): Family {
  return ip.includes(":") ? 6 : 4;
}

/** The address as an unsigned integer. */
export function ipToBigInt(ip: Ip): bigint {
  if (ipFamily(ip) === 4) {
    let n = 0n;
    for (const part of ip.split(".")) n = (n << 8n) | BigInt(Number(part));
    return n;
  }
  let n = 0n;
  for (const part of parseIpv6Groups(ip) ?? []) n = (n << 16n) | BigInt(part);
  return n;
}

/** Build an address of `family` from an unsigned integer, failing when it does not fit. */
export function ipFromBigInt(family: Family, n: bigint): Result<Ip, NetError> {
  const bits = BigInt(familyBits(family));
  if (n < 0n || n >= 1n << bits) {
    return err({ kind: "out-of-range", message: `value does not fit an IPv${family} address` });
  }
  if (family === 4) {
    const parts = [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn));
    return ok(parts.join(".") as Ip);
  }
  const parts: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) parts.push(Number((n >> s) & 0xffffn));
  return ok(formatIpv6Groups(parts) as Ip);
}

/** `ip + offset` in the same family, failing on overflow or underflow. */
export function ipAdd(ip: Ip, offset: bigint | number): Result<Ip, NetError> {
  return ipFromBigInt(ipFamily(ip), ipToBigInt(ip) + BigInt(offset));
}

/** `a - b` as a signed integer; both must be of the same family. */
export function ipDiff(a: Ip, b: Ip): Result<bigint, NetError> {
  if (ipFamily(a) !== ipFamily(b)) {
    return err({ kind: "family-mismatch", message: `cannot subtract ${b} from ${a}` });
  }
  return ok(ipToBigInt(a) - ipToBigInt(b));
}

/** Compare two addresses: IPv4 sorts before IPv6, then numerically. */
export function ipCompare(a: Ip, b: Ip): number {
  const fa = ipFamily(a);
  const fb = ipFamily(b);
  if (fa !== fb) return fa - fb;
  const d = ipToBigInt(a) - ipToBigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
