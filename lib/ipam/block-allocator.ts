import { err, ok, type Result } from "neverthrow";
import { Bitset } from "./bitset.js";
import { layoutBlockAt, poolLayout, type PoolLayout } from "./block.js";
import type { BlockError } from "./errors.js";
import { intervalHolding, mergeIntervals, type Interval } from "./intervals.js";
import type { AddressPoolSpec } from "./pool.js";
import type { Block } from "./subnet.js";
import { subnetSetEqual } from "./subnet.js";

/** `AddressBlock.index` is an int32 in the CRD, so no pool hands out more blocks than this. */
export const MAX_BLOCK_INDEXES = 2 ** 31;

const exhausted = (): BlockError => ({ kind: "pool-exhausted", message: "out of blocks" });

/**
 * Controller-side block allocation for one pool (Coil's PoolManager state): a bitset of used
 * block indexes. {@link BlockAllocator.allocateBlock} takes the lowest free index, so released
 * blocks are reused at once (unlike addresses). Capacity is the pool's block count, capped at
 * {@link MAX_BLOCK_INDEXES}; words are allocated only as far as indexes are used.
 *
 * Mutable; the adapter owns one per pool and serialises access to it (Coil's pool mutex).
 */
export class BlockAllocator {
  #layout: PoolLayout;
  #spec: AddressPoolSpec;
  #used: Bitset;
  /** Sorted, merged block-index intervals dynamic allocation skips (beyond Coil). */
  #excluded: readonly Interval[] = [];

  private constructor(spec: AddressPoolSpec, layout: PoolLayout) {
    this.#spec = spec;
    this.#layout = layout;
    this.#used = new Bitset(BlockAllocator.#capacity(layout));
  }

  static #capacity(layout: PoolLayout): number {
    return layout.maxBlocks > BigInt(MAX_BLOCK_INDEXES) ? MAX_BLOCK_INDEXES : Number(layout.maxBlocks);
  }

  /** An allocator for a (valid) pool with no block used; `invalid-pool` otherwise. */
  static create(spec: AddressPoolSpec): Result<BlockAllocator, BlockError> {
    return poolLayout(spec).map((l) => new BlockAllocator(spec, l));
  }

  /** Σ blocks over all subnet items (`coil_controller_max_blocks`). */
  get maxBlocks(): bigint {
    return this.#layout.maxBlocks;
  }

  /** Number of used block indexes (`coil_controller_allocated_blocks`). */
  get allocatedCount(): number {
    return this.#used.count;
  }

  /** The pool's block layout. */
  get layout(): PoolLayout {
    return this.#layout;
  }

  /** Whether block `index` is in use. */
  isUsed(index: number): boolean {
    return this.#used.has(index);
  }

  /** The used indexes, ascending. */
  usedIndexes(): number[] {
    return [...this.#used.ones()];
  }

  /**
   * Follow a pool update: the new spec must be valid, keep `blockSizeBits` and keep every existing
   * item (appending is allowed, as the webhook enforces). Appended items extend the capacity.
   */
  updatePool(spec: AddressPoolSpec): Result<void, BlockError> {
    return poolLayout(spec).andThen((l) => {
      const old = this.#spec.subnets;
      const keeps = l.blockSizeBits === this.#layout.blockSizeBits && old.length <= spec.subnets.length;
      if (!keeps || old.some((ss, i) => !subnetSetEqual(ss, spec.subnets[i] ?? {}))) {
        return err<void, BlockError>({ kind: "unchangeable", message: "pool update must only append subnets" });
      }
      const next = new Bitset(BlockAllocator.#capacity(l));
      for (const i of this.#used.ones()) next.set(i);
      this.#spec = spec;
      this.#layout = l;
      this.#used = next;
      return ok(undefined);
    });
  }

  /**
   * Exclude block indexes from {@link nextIndex}/{@link allocateBlock} (beyond Coil: blocks wholly
   * inside a pool's reserved or static-only ranges, see `blockExclusions`). Replaces the previous
   * set; used blocks stay used. {@link markUsed} (observed blocks, static requests) is not affected.
   */
  setExclusions(intervals: readonly (readonly [number, number])[]): void {
    this.#excluded = mergeIntervals(intervals);
  }

  /** Whether block `index` is excluded from dynamic allocation. */
  isExcluded(index: number): boolean {
    return intervalHolding(this.#excluded, index) !== undefined;
  }

  /** The index the next allocation would take (lowest free, not excluded), or `pool-exhausted`. */
  nextIndex(): Result<number, BlockError> {
    let i = this.#used.nextClear(0);
    if (this.#excluded.length === 0) return i < 0 ? err(exhausted()) : ok(i);
    for (let iv = i < 0 ? undefined : intervalHolding(this.#excluded, i); iv !== undefined; iv = i < 0 ? undefined : intervalHolding(this.#excluded, i)) {
      i = this.#used.nextClear(iv[1] + 1);
    }
    return i < 0 ? err(exhausted()) : ok(i);
  }

  /** Take the lowest free index and return its block (CIDRs per family); `pool-exhausted` when full. */
  allocateBlock(): Result<Block, BlockError> {
    return this.nextIndex().andThen((i) => this.markUsed(i));
  }

  /** Mark `index` used (e.g. after observing an AddressBlock) and return its block. */
  markUsed(index: number): Result<Block, BlockError> {
    return layoutBlockAt(this.#layout, index).map((b) => {
      this.#used.set(index);
      return b;
    });
  }

  /** Forget block `index` (idempotent). */
  release(index: number): void {
    this.#used.clear(index);
  }

  /**
   * Rebuild from the `index` of every AddressBlock observed with this pool's label (Coil's
   * `SyncBlocks`). Indexes outside the pool are returned, not set.
   */
  rebuild(indexes: Iterable<number>): number[] {
    this.#used.reset();
    const outside: number[] = [];
    for (const i of indexes) if (!this.#used.set(i)) outside.push(i);
    return outside;
  }
}
