import { cidrAddress, ipFromBigInt, ipToBigInt, type Cidr, type Ip } from "../net/index.js";

/**
 * Fast address arithmetic for the hot paths (allocation, carving): a block's base is converted
 * once, then each address is base + offset. IPv4 uses plain numbers; IPv6 uses bigint.
 */
export interface AddrBase {
  readonly family: 4 | 6;
  readonly v4: number;
  readonly v6: bigint;
}

/** The base of a (masked) network CIDR. */
export function addrBase(c: Cidr): AddrBase {
  const addr = cidrAddress(c);
  if (!addr.includes(":")) {
    const [a = 0, b = 0, d = 0, e = 0] = addr.split(".").map(Number);
    return { family: 4, v4: ((a << 24) >>> 0) + (b << 16) + (d << 8) + e, v6: 0n };
  }
  return { family: 6, v4: 0, v6: ipToBigInt(addr) };
}

/** `base + offset` as a canonical address; the caller keeps the offset inside the family's range. */
export function addrAt(base: AddrBase, offset: number): Ip {
  if (base.family === 4) {
    const n = base.v4 + offset;
    return `${Math.floor(n / 16777216) % 256}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}` as Ip;
  }
  return ipFromBigInt(6, base.v6 + BigInt(offset)).unwrapOr("::" as Ip);
}

/** `base + offset` for an IPv6 base with a bigint offset (blocks far into a large IPv6 item). */
export function addrAt6(base: AddrBase, offset: bigint): Ip {
  return ipFromBigInt(6, base.v6 + offset).unwrapOr("::" as Ip);
}
