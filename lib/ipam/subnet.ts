import { err, ok, type Result } from "neverthrow";
import {
  cidrAddress,
  cidrFamily,
  cidrHostBits,
  cidrNetwork,
  familyBits,
  ipFromBigInt,
  ipToBigInt,
  makeCidr,
  parseCidr,
  type Cidr,
} from "../net/index.js";
import type { SubnetError } from "./errors.js";

/**
 * One item of `AddressPool.spec.subnets`, in the CRD's own shape: an IPv4 subnet, an IPv6
 * subnet, or both (dual stack, same number of host bits). Strings are kept exactly as written.
 */
export interface SubnetSet {
  /** IPv4 subnet, e.g. `10.2.0.0/16`. */
  readonly ipv4?: string;
  /** IPv6 subnet, e.g. `fd00:200::/112`. */
  readonly ipv6?: string;
}

/** A validated subnet item: both networks parsed and masked, with the item's host-bit count. */
export interface ParsedSubnetSet {
  /** IPv4 network, host bits cleared. */
  readonly ipv4?: Cidr;
  /** IPv6 network, host bits cleared. */
  readonly ipv6?: Cidr;
  /** Host bits of the item (IPv4 side if present, else IPv6). */
  readonly hostBits: number;
}

/** A block carved out of a subnet item or pool: its global index and one CIDR per family. */
export interface Block {
  /** Block index (global within the pool for `blockAt`, within the item for `subnetSetBlock`). */
  readonly index: number;
  /** IPv4 CIDR of the block, if the item has IPv4. */
  readonly ipv4?: Cidr;
  /** IPv6 CIDR of the block, if the item has IPv6. */
  readonly ipv6?: Cidr;
}

function parseSide(input: string, family: 4 | 6, minSize: number): Result<Cidr, SubnetError> {
  const c = parseCidr(input);
  if (c.isErr()) return err({ kind: "invalid-subnet", message: `invalid CIDR address: ${input}` });
  if (cidrFamily(c.value) !== family) {
    return err({ kind: "invalid-subnet", message: `invalid IPv${family} subnet: ${input}` });
  }
  if (cidrHostBits(c.value) < minSize) return err({ kind: "too-narrow-subnet", message: `too narrow subnet: ${input}` });
  return ok(cidrNetwork(c.value));
}

/**
 * Coil's `SubnetSet.Validate(minSize)`: at least one family; each side a CIDR of its family with
 * at least `minSize` host bits; both sides of a dual-stack item the same size. The first failing
 * rule is reported, in Coil's order and words.
 */
export function validateSubnetSet(ss: SubnetSet, minSize: number): Result<ParsedSubnetSet, SubnetError> {
  if (ss.ipv4 === undefined && ss.ipv6 === undefined) return err({ kind: "invalid-subnet", message: "invalid subnet" });
  const v4 = ss.ipv4 === undefined ? undefined : parseSide(ss.ipv4, 4, minSize);
  if (v4?.isErr()) return err(v4.error);
  const v6 = ss.ipv6 === undefined ? undefined : parseSide(ss.ipv6, 6, minSize);
  if (v6?.isErr()) return err(v6.error);
  const c4 = v4?.isOk() ? v4.value : undefined;
  const c6 = v6?.isOk() ? v6.value : undefined;
  if (c4 !== undefined && c6 !== undefined && cidrHostBits(c4) !== cidrHostBits(c6)) {
    return err({ kind: "dual-stack-size-mismatch", message: "dual stack subnet must be the same size" });
  }
  const hostBits = cidrHostBits((c4 ?? c6) as Cidr);
  return ok({ ...(c4 === undefined ? {} : { ipv4: c4 }), ...(c6 === undefined ? {} : { ipv6: c6 }), hostBits });
}

/** Whether the item is IPv4-only. */
export function isIPv4SubnetSet(ss: SubnetSet): boolean {
  return ss.ipv4 !== undefined && ss.ipv6 === undefined;
}

/** Whether the item is IPv6-only. */
export function isIPv6SubnetSet(ss: SubnetSet): boolean {
  return ss.ipv4 === undefined && ss.ipv6 !== undefined;
}

/** Whether the item is dual stack (both families). */
export function isDualStackSubnetSet(ss: SubnetSet): boolean {
  return ss.ipv4 !== undefined && ss.ipv6 !== undefined;
}

/** Coil's `SubnetSet.Equal`: the same families present, each with the identical string (no canonicalisation). */
export function subnetSetEqual(a: SubnetSet, b: SubnetSet): boolean {
  return a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6;
}

/**
 * Coil's `SubnetSet.GetBlock(n, sizeBits)`: the `n`-th block of `2^sizeBits` addresses counted from
 * the item's network address, one CIDR per family at the same offset. Like Coil it does not check
 * that the block lies inside the item (a pool does, see `blockAt`); it fails only when the block
 * would leave the address family's range.
 */
export function subnetSetBlock(ss: ParsedSubnetSet, n: number, sizeBits: number): Result<Block, SubnetError> {
  const carve = (c: Cidr): Result<Cidr, SubnetError> => {
    const family = cidrFamily(c);
    const start = ipToBigInt(cidrAddress(c)) + (BigInt(n) << BigInt(sizeBits));
    return ipFromBigInt(family, start)
      .andThen((ip) => makeCidr(ip, familyBits(family) - sizeBits))
      .mapErr((e) => ({ kind: "invalid-subnet" as const, message: e.message }));
  };
  const v4 = ss.ipv4 === undefined ? undefined : carve(ss.ipv4);
  if (v4?.isErr()) return err(v4.error);
  const v6 = ss.ipv6 === undefined ? undefined : carve(ss.ipv6);
  if (v6?.isErr()) return err(v6.error);
  return ok({
    index: n,
    ...(v4?.isOk() ? { ipv4: v4.value } : {}),
    ...(v6?.isOk() ? { ipv6: v6.value } : {}),
  });
}
