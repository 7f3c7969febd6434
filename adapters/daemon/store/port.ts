/**
 * The block store port: where a node obtains address blocks and returns them.
 *
 * Coil keeps AddressPools and AddressBlocks in Kubernetes; coild asks the controller for a block
 * (BlockRequest) and deletes a block when it is empty. `BlockStore` is that contract as a port,
 * implemented by `local.ts` (`--store=local`) and `kubernetes.ts` (`--store=kubernetes`).
 */
import type { ResultAsync } from "neverthrow";
import type { ObservedBlock } from "../../../lib/ipam/index.js";

/** A block assigned to a node (Coil's AddressBlock: name `<pool>-<index>`, labels pool and node). */
export interface StoredBlock extends ObservedBlock {
  readonly node: string;
}

/** What the store knows of a pool. */
export interface StorePool {
  readonly name: string;
  readonly blockSizeBits: number;
  readonly maxBlocks: bigint;
  readonly allocatedBlocks: number;
}

/** Errors of a {@link BlockStore}. `pool-exhausted` is Coil's "out of blocks". */
export type StoreError =
  | { readonly kind: "pool-not-found"; readonly pool: string; readonly message: string }
  | { readonly kind: "pool-exhausted"; readonly pool: string; readonly message: string }
  | { readonly kind: "store-io"; readonly message: string }
  | { readonly kind: "store-state-invalid"; readonly message: string };

/**
 * Where a node obtains address blocks. Contract: `acquireBlock` returns a block no other caller
 * holds and records it durably before resolving; `releaseBlock` is idempotent (an unknown block
 * is a success); `listBlocks` returns the blocks currently assigned to `node`.
 */
export interface BlockStore {
  /** The pools the store serves. */
  listPools(): ResultAsync<readonly StorePool[], StoreError>;
  /** Assign a free block of `pool` to `node`; `pool-exhausted` when none is left. */
  acquireBlock(pool: string, node: string): ResultAsync<StoredBlock, StoreError>;
  /** Return block `name` of `pool` held by `node` (idempotent). */
  releaseBlock(pool: string, node: string, name: string): ResultAsync<void, StoreError>;
  /** The blocks assigned to `node`. */
  listBlocks(node: string): ResultAsync<readonly StoredBlock[], StoreError>;
}
