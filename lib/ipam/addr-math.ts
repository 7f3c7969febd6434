import { cidrAddress, formatIpv6Groups, ipFromBigInt, ipToBigInt, type Cidr, type Ip } from "../net/index.js";

/**
 * Fast address arithmetic for the hot paths (allocation, carving): a block's base is converted
 * once, then each address is base + offset. IPv4 uses plain numbers; IPv6 keeps the base both as
 * a bigint (large offsets) and as eight 16-bit groups, so that a small offset is added and the
 * result formatted (RFC 5952) with number arithmetic only, without bigint or `ipaddr.js`.
 */
export interface AddrBase {
  readonly family: 4 | 6;
  readonly v4: number;
  readonly v6: bigint;
  /** The IPv6 base as eight 16-bit groups, most significant first (empty for IPv4). */
  readonly groups: readonly number[];
  /** Text of the six high IPv6 groups, precomputed for {@link addrAt} (IPv6 only). */
  readonly high?: HighGroups;
}

/**
 * The six high groups of an IPv6 base, pre-formatted so that an address differing only in the
 * two low groups is written (RFC 5952) by joining a few strings:
 * - `compressed`: groups 0–5 with their own longest zero run (if any, length ≥ 2) written `::`,
 *   followed by the separator the seventh group needs (`:` unless the text already ends in `::`);
 * - `heads[s]`: groups 0…s−1 written out in full, joined by `:` (for a zero run starting at `s`
 *   that reaches into the low groups);
 * - `bestLen`: length of the longest zero run within groups 0–5 (0 when none of length ≥ 2);
 * - `trailingZeros`: number of zero groups ending at group 5.
 */
export interface HighGroups {
  readonly compressed: string;
  readonly heads: readonly string[];
  readonly bestLen: number;
  readonly trailingZeros: number;
}

function highGroups(g: readonly number[]): HighGroups {
  let bestAt = -1;
  let bestLen = 0;
  let runAt = -1;
  for (let i = 0; i < 6; i++) {
    if (g[i] === 0) {
      if (runAt < 0) runAt = i;
      if (i - runAt + 1 > bestLen && i - runAt + 1 >= 2) {
        bestAt = runAt;
        bestLen = i - runAt + 1;
      }
    } else {
      runAt = -1;
    }
  }
  const hex = g.slice(0, 6).map((x) => x.toString(16));
  let compressed: string;
  if (bestAt < 0) compressed = `${hex.join(":")}:`;
  else {
    const tail = hex.slice(bestAt + bestLen);
    compressed = `${hex.slice(0, bestAt).join(":")}::${tail.join(":")}${tail.length > 0 ? ":" : ""}`;
  }
  const heads = Array.from({ length: 7 }, (_, s) => hex.slice(0, s).join(":"));
  let trailingZeros = 0;
  while (trailingZeros < 6 && g[5 - trailingZeros] === 0) trailingZeros++;
  return { compressed, heads, bestLen, trailingZeros };
}

/** RFC 5952 text of the address whose high groups are `h` and whose two low groups are `g6`, `g7`. */
function formatWithHigh(h: HighGroups, g6: number, g7: number): string {
  if (g6 !== 0) return `${h.compressed}${g6.toString(16)}:${g7.toString(16)}`;
  // A zero run through group 6 starts at 6 − trailingZeros; it is written `::` when it is the
  // longest, and the first of equal runs otherwise wins (RFC 5952 4.2.3).
  const len = h.trailingZeros + 1 + (g7 === 0 ? 1 : 0);
  if (len >= 2 && len > h.bestLen) return `${h.heads[6 - h.trailingZeros] ?? ""}::${g7 === 0 ? "" : g7.toString(16)}`;
  return `${h.compressed}0:${g7.toString(16)}`;
}

/** The base of a (masked) network CIDR. */
export function addrBase(c: Cidr): AddrBase {
  const addr = cidrAddress(c);
  if (!addr.includes(":")) {
    const [a = 0, b = 0, d = 0, e = 0] = addr.split(".").map(Number);
    return { family: 4, v4: ((a << 24) >>> 0) + (b << 16) + (d << 8) + e, v6: 0n, groups: [] };
  }
  const v6 = ipToBigInt(addr);
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((v6 >> s) & 0xffffn));
  return { family: 6, v4: 0, v6, groups, high: highGroups(groups) };
}


/** `base + offset` as a canonical address; the caller keeps the offset inside the family's range. */
export function addrAt(base: AddrBase, offset: number): Ip {
  if (base.family === 4) {
    const n = base.v4 + offset;
    return `${Math.floor(n / 16777216) % 256}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}` as Ip;
  }
  if (offset < 0 || offset > 0xffffffff) return addrAt6(base, BigInt(offset));
  const low = (base.groups[6] ?? 0) * 65536 + (base.groups[7] ?? 0) + offset;
  // Usual case (an address inside a block): only the two low groups change.
  if (low < 4294967296 && base.high !== undefined) return formatWithHigh(base.high, low >>> 16, low & 0xffff) as Ip;
  // Otherwise the carry out of the two low groups goes up through the higher groups.
  const g = base.groups.slice();
  g[7] = low % 65536;
  g[6] = Math.floor(low / 65536) % 65536;
  let carry = low >= 4294967296 ? 1 : 0;
  for (let i = 5; i >= 0 && carry > 0; i--) {
    const v = (g[i] ?? 0) + carry;
    g[i] = v & 0xffff;
    carry = v >> 16;
  }
  if (carry > 0) return addrAt6(base, BigInt(offset));
  return formatIpv6Groups(g) as Ip;
}

/** `base + offset` for an IPv6 base with a bigint offset (blocks far into a large IPv6 item). */
export function addrAt6(base: AddrBase, offset: bigint): Ip {
  return ipFromBigInt(6, base.v6 + offset).unwrapOr("::" as Ip);
}
