/**
 * The block store port: where a node obtains address blocks and returns them. Types only.
 *
 * Coil keeps AddressPools and AddressBlocks in Kubernetes; a node asks the controller for a block
 * (BlockRequest) and deletes a block when it is empty. {@link BlockStore} is that contract as a
 * port; coild implements it over a local state directory and over Kubernetes.
 */
import type { ResultAsync } from "neverthrow";
import type { ObservedBlock } from "./node-ipam.js";
import type { AddressPoolSpec } from "./pool.js";

/** A block assigned to a node (Coil's AddressBlock: name `<pool>-<index>`, labels pool and node). */
export interface StoredBlock extends ObservedBlock {
  /** The node the block is assigned to. */
  readonly node: string;
}

/** What the store knows of a pool. */
export interface StorePool {
  /** Pool name. */
  readonly name: string;
  /** `spec.blockSizeBits`. */
  readonly blockSizeBits: number;
  /** How many blocks the pool can hand out. */
  readonly maxBlocks: bigint;
  /** How many are handed out. */
  readonly allocatedBlocks: number;
}

/** Errors of a {@link BlockStore}. `pool-exhausted` is Coil's "out of blocks". */
export type StoreError =
  | {
      /** The pool does not exist. */
      readonly kind: "pool-not-found";
      /** Its name. */
      readonly pool: string;
      /** For people. */
      readonly message: string;
    }
  | {
      /** The pool has no free block. */
      readonly kind: "pool-exhausted";
      /** Its name. */
      readonly pool: string;
      /** For people. */
      readonly message: string;
    }
  | {
      /** The store could not be read or written (transient). */
      readonly kind: "store-io";
      /** For people. */
      readonly message: string;
    }
  | {
      /** The store holds something inconsistent. */
      readonly kind: "store-state-invalid";
      /** For people. */
      readonly message: string;
    }
  | {
      /** Beyond Coil: a static block cannot be had (reserved, owned by another node, …); nothing changed. */
      readonly kind: "static-refused";
      /** For people: why, naming the owner where there is one. */
      readonly message: string;
    };

/** Beyond Coil: what a store knows of a pool for static addresses and pool policies. */
export interface StorePoolDefinition {
  /** `spec` of the AddressPool. */
  readonly spec: AddressPoolSpec;
  /** `metadata.annotations` of the AddressPool. */
  readonly annotations: Readonly<Record<string, string>>;
}

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
  /** Beyond Coil (optional): the pool's spec and annotations; undefined when there is no such pool. */
  readPool?(pool: string): ResultAsync<StorePoolDefinition | undefined, StoreError>;
  /**
   * Beyond Coil (optional): assign block `index` of `pool` to `node` (a static address, named in
   * `staticIp` for messages); `static-refused` when it cannot be had. A store without it serves no
   * static address.
   */
  acquireStaticBlock?(pool: string, node: string, index: number, staticIp: string): ResultAsync<StoredBlock, StoreError>;
}
