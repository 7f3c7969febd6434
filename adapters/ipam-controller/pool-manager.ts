/**
 * Coil's PoolManager: per-pool in-memory block state (lib's `BlockAllocator`, the used-index
 * bitset) rebuilt from an uncached LIST of the pool's AddressBlocks, and block allocation that
 * creates the AddressBlock `<pool>-<index>` at the lowest free index. The state of one pool changes
 * only under its lock (Coil's pool mutex); the CREATE of a reserved index runs after the lock is
 * released, so concurrent workers overlap their round trips. Pools are independent.
 *
 * Beyond Coil (docs/static-addresses.md): the pool annotations `coil-ts.cybozu.com/reserved-ranges`
 * and `…/static-ranges` keep dynamic allocation off blocks wholly inside them (a bad annotation is
 * logged and ignored: the pool then works as plain Coil), and {@link PoolManager.allocateStaticBlock}
 * creates the block of one given index for a static BlockRequest.
 */
import { err, ok, type Result } from "neverthrow";
import {
  ANNOTATION_RESERVED_RANGES,
  ANNOTATION_STATIC_RANGES,
  API_VERSION,
  FINALIZER,
  LABEL_NODE,
  LABEL_POOL,
  LABEL_REQUEST,
} from "../../lib/constants.js";
import {
  BlockAllocator,
  NO_POLICY,
  blockExclusions,
  blockName,
  formatFieldError,
  intervalHolding,
  MAX_BLOCK_INDEXES,
  poolPolicy,
  type BlockError,
  type Interval,
} from "../../lib/ipam/index.js";
import type { AddressBlockObject, AddressPoolObject, CoilClient, K8sError, Logger } from "../k8s/index.js";
import { KeyedMutex } from "../common/key-mutex.js";
import type { ControllerMetrics } from "./metrics.js";

/** Why an allocation or sync failed. `no-block` is Coil's `ErrNoBlock` ("out of blocks"). */
export type PoolError =
  | { readonly kind: "no-block"; readonly pool: string; readonly message: string }
  | { readonly kind: "invalid-pool"; readonly pool: string; readonly message: string }
  | { readonly kind: "api"; readonly op: string; readonly error: K8sError }
  | { readonly kind: "name-taken"; readonly pool: string; readonly message: string }
  /** Leadership ended while the allocation waited: nothing was written (a new leader serves the request). */
  | { readonly kind: "not-leading"; readonly pool: string }
  | {
      /** A static request that cannot be served: `reason` and `message` go to the request's Failed condition. */
      readonly kind: "static-refused";
      readonly pool: string;
      /** Short reason: `invalid block index`, `reserved`, `block in use`. */
      readonly reason: string;
      readonly message: string;
    };

/** Dependencies of {@link PoolManager}. */
export interface PoolManagerDeps {
  /** Typed API clients. */
  readonly coil: CoilClient;
  /** Cached pool lookup (informer); falls back to a GET when absent. */
  readonly cachedPool: (name: string) => AddressPoolObject | undefined;
  /** Metrics. */
  readonly metrics: ControllerMetrics;
  /** Logger. */
  readonly log: Logger;
  /**
   * Whether this replica may still write (it leads); asked right before each AddressBlock CREATE,
   * after the pool lock and the reservation. Default: always. A leader that lost its Lease must not
   * create blocks the next leader cannot know of yet (with many workers, several allocations can be
   * waiting for the lock or the API server when the Lease goes).
   */
  readonly mayWrite?: () => boolean;
}

interface PoolState {
  allocator: BlockAllocator;
  /** Spec and range annotations the state was built from (a change triggers a resync). */
  specJson: string;
  /** Block indexes wholly inside the reserved ranges (refused to static requests too). */
  reserved: readonly Interval[];
}

/** What the pool state depends on: the spec and the range annotations. */
function stateKey(pool: AddressPoolObject): string {
  const an = pool.metadata.annotations ?? {};
  return JSON.stringify([pool.spec, an[ANNOTATION_RESERVED_RANGES] ?? null, an[ANNOTATION_STATIC_RANGES] ?? null]);
}

const MAX_NAME_RETRIES = 5;

/** Per-pool block state and allocation. */
export class PoolManager {
  readonly #d: PoolManagerDeps;
  readonly #pools = new Map<string, PoolState>();
  /** Per-pool locks (Coil's pool mutex). */
  readonly #locks = new KeyedMutex();
  /** pool → block index → settles when that index's CREATE (run outside the lock) has answered. */
  readonly #inFlight = new Map<string, Map<number, Promise<void>>>();

  /** @param d - see {@link PoolManagerDeps}. */
  constructor(d: PoolManagerDeps) {
    this.#d = d;
  }

  /** Run `fn` with the pool's lock held. */
  #locked<T>(pool: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(pool, fn);
  }

  async #getPool(name: string): Promise<Result<AddressPoolObject, PoolError>> {
    const cached = this.#d.cachedPool(name);
    if (cached !== undefined) return ok(cached);
    const got = await this.#d.coil.pools.get(name);
    return got.mapErr((error): PoolError => ({ kind: "api", op: "get pool", error }));
  }

  /**
   * Coil's `SyncBlocks`: re-read the pool, rebuild its bitset from an uncached LIST, set the gauges.
   * Waits first for the dynamic allocations' CREATEs in flight, so that a LIST after this (the pool
   * reconciler's "still used?") sees their blocks, as under Coil's mutex.
   */
  syncPool(name: string): Promise<Result<void, PoolError>> {
    return this.#locked(name, async () => {
      await Promise.all([...(this.#inFlight.get(name)?.values() ?? [])]);
      return (await this.#sync(name)).map(() => undefined);
    });
  }

  /** Rebuild the pool's state (see {@link syncPool}) and return it. */
  /** The pool object and its state, re-synced when the pool's spec or policy annotations changed since the last sync. */
  async #current(name: string): Promise<Result<{ ap: AddressPoolObject; state: PoolState }, PoolError>> {
    const ap = await this.#getPool(name);
    if (ap.isErr()) return err(ap.error);
    const cached = this.#pools.get(name);
    if (cached !== undefined && cached.specJson === stateKey(ap.value)) return ok({ ap: ap.value, state: cached });
    return (await this.#sync(name)).map((state) => ({ ap: ap.value, state }));
  }

  async #sync(name: string): Promise<Result<PoolState, PoolError>> {
    const pool = await this.#getPool(name);
    if (pool.isErr()) return err(pool.error);
    const created = BlockAllocator.create(pool.value.spec);
    if (created.isErr()) return err(invalidPool(name, created.error));
    const listed = await this.#d.coil.blocks.list({ labelSelector: `${LABEL_POOL}=${name}` });
    if (listed.isErr()) return err({ kind: "api", op: "list blocks", error: listed.error });
    const allocator = created.value;
    const outside = allocator.rebuild(listed.value.items.map((b) => b.index));
    if (outside.length > 0) this.#d.log.warn("blocks outside the pool", { pool: name, indexes: outside });
    // Indexes reserved for CREATEs still in flight stay reserved (their blocks may not be listed yet);
    // one outside a changed layout cannot be marked, and its CREATE's block is listed by the next sync.
    for (const i of this.#inFlight.get(name)?.keys() ?? []) void allocator.markUsed(i);
    const read = poolPolicy(pool.value.spec, pool.value.metadata.annotations);
    if (read.isErr()) this.#d.log.warn("ignoring the pool's invalid coil-ts.cybozu.com annotations", { pool: name, errors: read.error.map(formatFieldError) });
    const policy = read.unwrapOr(NO_POLICY);
    allocator.setExclusions(blockExclusions(allocator.layout, [...policy.reserved, ...policy.staticOnly]));
    const state: PoolState = { allocator, specJson: stateKey(pool.value), reserved: blockExclusions(allocator.layout, policy.reserved) };
    this.#pools.set(name, state);
    this.#d.metrics.setPool(name, Number(allocator.maxBlocks), allocator.allocatedCount);
    return ok(state);
  }

  /** Forget a deleted pool and delete its metric series. */
  dropPool(name: string): void {
    this.#pools.delete(name);
    this.#d.metrics.dropPool(name);
  }

  /** Whether any AddressBlock carries the pool label (uncached). */
  async isUsed(name: string): Promise<Result<boolean, PoolError>> {
    const listed = await this.#d.coil.blocks.list({ labelSelector: `${LABEL_POOL}=${name}`, limit: 1 });
    return listed.map((l) => l.items.length > 0).mapErr((error): PoolError => ({ kind: "api", op: "list blocks", error }));
  }

  /** Used indexes of a pool as last synced (tests, debugging). */
  usedIndexes(name: string): number[] | undefined {
    return this.#pools.get(name)?.allocator.usedIndexes();
  }

  /**
   * Coil's `AllocateBlock`: take the lowest free index, refuse when the pool is being deleted or
   * full (`no-block`), create the AddressBlock; when the name is taken by someone else, resync and
   * try again. The index is chosen and reserved under the pool lock, the CREATE runs after the lock
   * is released (with `--max-concurrent-reconciles` > 1, workers overlap their round trips; Coil
   * holds its mutex across the CREATE), and a failed CREATE gives the index back.
   */
  async allocateBlock(pool: string, node: string, requestUid: string): Promise<Result<AddressBlockObject, PoolError>> {
    let resync = false;
    for (let attempt = 0; attempt < MAX_NAME_RETRIES; attempt++) {
      const reserved = await this.#locked(pool, () => this.#reserve(pool, node, requestUid, resync));
      if (reserved.isErr()) return err(reserved.error);
      const { body, index, settle } = reserved.value;
      const leading = this.#d.mayWrite?.() !== false;
      const created = leading ? await this.#d.coil.blocks.create(body) : undefined;
      // From here to the return nothing awaits, so no other allocation interleaves: no lock needed.
      this.#inFlight.get(pool)?.delete(index);
      settle();
      const state = this.#pools.get(pool);
      if (created === undefined) {
        state?.allocator.release(index);
        return err({ kind: "not-leading", pool });
      }
      if (created.isOk()) {
        if (state !== undefined) this.#d.metrics.setAllocated(pool, state.allocator.allocatedCount);
        return ok(created.value);
      }
      state?.allocator.release(index);
      if (created.error.kind !== "already-exists") return err({ kind: "api", op: "create block", error: created.error });
      this.#d.log.info("block name already taken; resyncing", { pool, block: body.metadata.name });
      resync = true;
    }
    return err<AddressBlockObject, PoolError>({ kind: "name-taken", pool, message: "block names keep being taken; giving up for now" });
  }

  /** Under the pool lock: resync when asked or needed, then refuse, or reserve the lowest free index and mark it in flight. */
  async #reserve(
    pool: string,
    node: string,
    uid: string,
    resync: boolean,
  ): Promise<Result<{ body: Omit<AddressBlockObject, "apiVersion" | "kind">; index: number; settle: () => void }, PoolError>> {
    if (resync) {
      const synced = await this.#sync(pool);
      if (synced.isErr()) return err(synced.error);
    }
    const current = await this.#current(pool);
    if (current.isErr()) return err(current.error);
    const { ap, state } = current.value;
    const noBlock = err<never, PoolError>({ kind: "no-block", pool, message: "out of blocks" });
    if (ap.metadata.deletionTimestamp !== undefined) return noBlock;
    const next = state.allocator.nextIndex();
    if (next.isErr()) return noBlock;
    const block = state.allocator.markUsed(next.value);
    if (block.isErr()) return noBlock;
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    const flights = this.#inFlight.get(pool) ?? new Map<number, Promise<void>>();
    flights.set(next.value, done);
    this.#inFlight.set(pool, flights);
    return ok({ body: renderBlock(ap, { node, uid, ...block.value }), index: next.value, settle });
  }

  /**
   * A static BlockRequest (beyond Coil): the block of exactly `index` for `node`. Refusals
   * (`static-refused`, nothing written): index not in the pool, block wholly reserved, block owned
   * by another node (named). A block of that index already owned by `node` is the answer
   * (idempotent). A pool being deleted gives `no-block`, as for dynamic requests.
   */
  allocateStaticBlock(pool: string, node: string, requestUid: string, index: number): Promise<Result<AddressBlockObject, PoolError>> {
    return this.#locked(pool, async () => {
      for (let attempt = 0; attempt < MAX_NAME_RETRIES; attempt++) {
        const r = await this.#tryStatic(pool, node, requestUid, index);
        if (r !== "retry") return r;
        const synced = await this.#sync(pool);
        if (synced.isErr()) return err(synced.error);
      }
      return err<AddressBlockObject, PoolError>({ kind: "name-taken", pool, message: "block names keep being taken; giving up for now" });
    });
  }

  async #tryStatic(pool: string, node: string, uid: string, index: number): Promise<Result<AddressBlockObject, PoolError> | "retry"> {
    // A dynamic allocation's CREATE of this very index (run outside the lock) answers first: its
    // block is then found below and named as the owner.
    await this.#inFlight.get(pool)?.get(index);
    const current = await this.#current(pool);
    if (current.isErr()) return err(current.error);
    const { ap, state } = current.value;
    if (ap.metadata.deletionTimestamp !== undefined) return err({ kind: "no-block", pool, message: "out of blocks" });
    const refuse = (reason: string, message: string) => err<AddressBlockObject, PoolError>({ kind: "static-refused", pool, reason, message });
    const name = blockName(pool, index);
    if (!Number.isSafeInteger(index) || index < 0 || BigInt(index) >= state.allocator.maxBlocks || index >= MAX_BLOCK_INDEXES) {
      return refuse("invalid block index", `block index ${index} is not in pool ${pool} (${state.allocator.maxBlocks} blocks)`);
    }
    if (intervalHolding(state.reserved, index) !== undefined) return refuse("reserved", `block ${name} is inside the reserved ranges of pool ${pool}`);
    if (state.allocator.isUsed(index)) {
      const got = await this.#d.coil.blocks.get(name);
      if (got.isErr()) return got.error.kind === "not-found" ? "retry" : err({ kind: "api", op: "get block", error: got.error });
      const owner = got.value.metadata.labels?.[LABEL_NODE];
      if (owner === node && got.value.metadata.deletionTimestamp === undefined) return ok(got.value);
      const cidrs = [got.value.ipv4, got.value.ipv6].filter((x) => x !== undefined).join(", ");
      const what = got.value.metadata.deletionTimestamp === undefined ? `is owned by node ${owner ?? "(none)"}` : `is being deleted (node ${owner ?? "(none)"})`;
      return refuse("block in use", `block ${name} (${cidrs}) ${what}`);
    }
    if (this.#d.mayWrite?.() === false) return err({ kind: "not-leading", pool });
    const block = state.allocator.markUsed(index);
    if (block.isErr()) return refuse("invalid block index", `block index ${index} is not in pool ${pool}: ${block.error.message}`);
    const created = await this.#d.coil.blocks.create(renderBlock(ap, { node, uid, ...block.value }));
    if (created.isErr()) {
      state.allocator.release(index);
      if (created.error.kind === "already-exists") return "retry";
      return err({ kind: "api", op: "create block", error: created.error });
    }
    this.#d.metrics.setAllocated(pool, state.allocator.allocatedCount);
    return ok(created.value);
  }
}

function invalidPool(pool: string, e: BlockError): PoolError {
  return { kind: "invalid-pool", pool, message: e.message };
}

/** The AddressBlock Coil creates for block `index` of `pool` (§2.2). */
export function renderBlock(
  pool: AddressPoolObject,
  b: { node: string; uid: string; index: number; ipv4?: string; ipv6?: string },
): Omit<AddressBlockObject, "apiVersion" | "kind"> {
  const name = pool.metadata.name;
  return {
    metadata: {
      name: blockName(name, b.index),
      labels: { [LABEL_POOL]: name, [LABEL_NODE]: b.node, [LABEL_REQUEST]: b.uid },
      finalizers: [FINALIZER],
      ownerReferences: [
        { apiVersion: API_VERSION, kind: "AddressPool", name, uid: pool.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
      ],
    },
    index: b.index,
    ...(b.ipv4 === undefined ? {} : { ipv4: b.ipv4 }),
    ...(b.ipv6 === undefined ? {} : { ipv6: b.ipv6 }),
  };
}
