import { err, ok, type Result } from "neverthrow";
import { cidrAddress, cidrFamily, cidrOffset, cidrPrefix, familyBits, parseCidr, type Cidr } from "../net/index.js";
import type { BlockError } from "./errors.js";
import { validatePoolCreate, type AddressPoolSpec } from "./pool.js";
import { addrAt, addrAt6, addrBase, type AddrBase } from "./addr-math.js";
import { validateSubnetSet, type Block, type ParsedSubnetSet } from "./subnet.js";

/** One subnet item of a pool, with the global block indexes it holds: `[first, first + count)`. */
export interface PoolLayoutItem {
  /** The validated subnet item. */
  readonly subnet: ParsedSubnetSet;
  /** Global index of the item's first block. */
  readonly first: bigint;
  /** Number of blocks in the item: 2^(hostBits − blockSizeBits). */
  readonly count: bigint;
  /** @internal Precomputed IPv4 network base for fast carving. */
  readonly base4?: AddrBase;
  /** @internal Precomputed IPv6 network base for fast carving. */
  readonly base6?: AddrBase;
}

/** A validated pool split into blocks: block size and the index range of every subnet item. */
export interface PoolLayout {
  /** A block holds 2^blockSizeBits addresses. */
  readonly blockSizeBits: number;
  /** Subnet items in list order. */
  readonly items: readonly PoolLayoutItem[];
  /** Σ blocks over all items (`coil_controller_max_blocks`). */
  readonly maxBlocks: bigint;
}

const layouts = new WeakMap<AddressPoolSpec, Result<PoolLayout, BlockError>>();

/**
 * Validate a pool spec (defaults applied) and compute its block layout. Item `i` holds
 * `2^(hostBits − blockSizeBits)` blocks, numbered globally in list order, so appending a subnet
 * only appends indexes. The result is cached per spec object; treat specs as immutable.
 */
export function poolLayout(spec: AddressPoolSpec): Result<PoolLayout, BlockError> {
  const cached = layouts.get(spec);
  if (cached !== undefined) return cached;
  const result = validatePoolCreate(spec)
    .mapErr((errors): BlockError => ({ kind: "invalid-pool", message: `invalid pool: ${errors.length} field error(s)`, errors }))
    .map((s) => {
      const items: PoolLayoutItem[] = [];
      let first = 0n;
      for (const ss of s.subnets) {
        // Validated above, so this cannot fail.
        const subnet: ParsedSubnetSet = validateSubnetSet(ss, s.blockSizeBits).unwrapOr({ hostBits: s.blockSizeBits });
        const count = 1n << BigInt(subnet.hostBits - s.blockSizeBits);
        items.push({
          subnet,
          first,
          count,
          ...(subnet.ipv4 === undefined ? {} : { base4: addrBase(subnet.ipv4) }),
          ...(subnet.ipv6 === undefined ? {} : { base6: addrBase(subnet.ipv6) }),
        });
        first += count;
      }
      return { blockSizeBits: s.blockSizeBits, items, maxBlocks: first };
    });
  layouts.set(spec, result);
  return result;
}

/** Total number of blocks the pool can be split into (Σ over subnet items). */
export function poolMaxBlocks(spec: AddressPoolSpec): Result<bigint, BlockError> {
  return poolLayout(spec).map((l) => l.maxBlocks);
}

/**
 * The block with global index `index` of the pool: the item holding it, offset by
 * `(index − item.first) × 2^blockSizeBits` from the item's network, prefix `bits − blockSizeBits`,
 * one CIDR per family of the item. `block-not-found` when the index is beyond the pool.
 */
export function blockAt(spec: AddressPoolSpec, index: number): Result<Block, BlockError> {
  return poolLayout(spec).andThen((l) => layoutBlockAt(l, index));
}

/** {@link blockAt} over a precomputed layout. */
export function layoutBlockAt(layout: PoolLayout, index: number): Result<Block, BlockError> {
  const notFound = err<Block, BlockError>({ kind: "block-not-found", message: `block index ${index} is not in the pool` });
  if (!Number.isSafeInteger(index) || index < 0) return notFound;
  const i = BigInt(index);
  const item = layout.items.find((it) => i >= it.first && i < it.first + it.count);
  if (item === undefined) return notFound;
  const bits = layout.blockSizeBits;
  const local = Number(i - item.first);
  // Inside the item by construction, so base + offset stays in range.
  const carve = (b: AddrBase): Cidr => {
    const ip = b.family === 4 ? addrAt(b, local * 2 ** bits) : addrAt6(b, BigInt(local) << BigInt(bits));
    return `${ip}/${(b.family === 4 ? 32 : 128) - bits}` as Cidr;
  };
  const v4 = item.base4 === undefined ? undefined : carve(item.base4);
  const v6 = item.base6 === undefined ? undefined : carve(item.base6);
  return ok({ index, ...(v4 === undefined ? {} : { ipv4: v4 }), ...(v6 === undefined ? {} : { ipv6: v6 }) });
}

/**
 * The global index of the block whose CIDR (either family) is `cidr`: the CIDR must have the
 * pool's block prefix and be aligned on a block boundary of one of the items.
 */
export function blockIndexOf(spec: AddressPoolSpec, cidr: string): Result<number, BlockError> {
  const notFound = err<number, BlockError>({ kind: "block-not-found", message: `${cidr} is not a block of the pool` });
  const c = parseCidr(cidr);
  if (c.isErr()) return notFound;
  return poolLayout(spec).andThen((l) => {
    const family = cidrFamily(c.value);
    if (cidrPrefix(c.value) !== familyBits(family) - l.blockSizeBits) return notFound;
    for (const it of l.items) {
      const side: Cidr | undefined = family === 4 ? it.subnet.ipv4 : it.subnet.ipv6;
      if (side === undefined) continue;
      const off = cidrOffset(side, cidrAddress(c.value));
      if (off.isErr()) continue;
      if (off.value % (1n << BigInt(l.blockSizeBits)) !== 0n) return notFound;
      return ok(Number(it.first + (off.value >> BigInt(l.blockSizeBits))));
    }
    return notFound;
  });
}

/** The name Coil gives an AddressBlock: `<pool>-<index>`, e.g. `default-0`. */
export function blockName(pool: string, index: number): string {
  return `${pool}-${index}`;
}
