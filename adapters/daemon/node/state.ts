/**
 * The node's address state: lib/ipam's `NodeIpam` (pure, synchronous, so every mutation is atomic
 * in Node's event loop) plus the I/O around it — obtaining and returning blocks through the
 * {@link BlockStore} and keeping routing table 119 in step with the node's blocks through
 * {@link RouteExport} (Coil §3.3-3.5, §5.1).
 *
 * Locks: block acquisition and release are serialised per pool (Coil's per-pool BlockRequest
 * single flight); allocation itself never waits for a lock unless a new block is needed.
 *
 * Beyond Coil (docs/static-addresses.md): static addresses ({@link NodeState.allocateStatic}), and
 * pool policies (reserved/static-only ranges, reuse quarantine) read from the store's AddressPool
 * whenever the node takes a block of the pool and at every block GC; allocations and releases carry
 * the clock's `now` for the quarantine.
 */
import { err, ok, type Result } from "neverthrow";
import {
  NO_POLICY,
  NodeIpam,
  allocationKey,
  formatFieldError,
  poolPolicy,
  staticSlot,
  type Allocation,
  type BlockRef,
  type NodeIpamError,
  type StorePoolDefinition,
} from "../../../lib/ipam/index.js";
import type { PodRef } from "../../../lib/cni/index.js";
import type { Family } from "../../../lib/net/index.js";
import type { Kernel } from "../../kernel/kernel.js";
import { KeyedMutex } from "../../common/key-mutex.js";
import type { Logger } from "../log.js";
import type { DaemonMetrics, PoolUsage } from "../metrics.js";
import { RouteExport, type ExportError } from "./route-export.js";
import type { BlockStore, StoreError, StoredBlock } from "../../../lib/ipam/index.js";

/** Why no address could be allocated. `family-unavailable`: the pool needs a family the node has no address of. */
export type AllocateError =
  | { readonly kind: "store"; readonly cause: StoreError }
  | { readonly kind: "ipam"; readonly cause: NodeIpamError }
  | {
      /** Beyond Coil: a static address that cannot be placed in its pool (outside, reserved, …); nothing changed. */
      readonly kind: "static-address";
      readonly message: string;
    }
  | FamilyUnavailable;

/** A pool needing address families (`missing`) the node has no address of: its pods could not be set up. */
export interface FamilyUnavailable {
  readonly kind: "family-unavailable";
  readonly pool: string;
  readonly missing: readonly Family[];
  readonly message: string;
}

/** The node's address families, and how to learn a pool's ({@link NodeStateOptions.families}). */
export interface NodeFamilies {
  /** Families the node has an address of. */
  readonly have: readonly Family[];
  /** The families of a pool's subnets; undefined for an unknown pool (the store then reports it). */
  readonly ofPool: (pool: string) => Promise<Result<readonly Family[] | undefined, StoreError>>;
}

/** `family-unavailable` when `need` holds a family `have` lacks, else undefined. */
export function familyUnavailable(pool: string, node: string, need: Iterable<Family>, have: readonly Family[]): FamilyUnavailable | undefined {
  const missing = [...new Set(need)].filter((f) => !have.includes(f)).sort();
  if (missing.length === 0) return undefined;
  const fams = missing.map((f) => `IPv${f}`).join(" and ");
  return { kind: "family-unavailable", pool, missing, message: `pool ${pool} needs ${fams} addresses but node ${node} has no ${fams} node address` };
}

/** Options of {@link NodeState}. */
export interface NodeStateOptions {
  readonly node: string;
  readonly store: BlockStore;
  readonly kernel: Kernel;
  readonly log: Logger;
  readonly metrics?: DaemonMetrics;
  /** `--export-table-id` (119). */
  readonly exportTable: number;
  /** `--protocol-id` (30). */
  readonly protocol: number;
  /** Start from this allocator (recovery builds it); default empty. */
  readonly ipam?: NodeIpam;
  /**
   * When given, a pool needing a family the node has no address of is refused before an address
   * or a block is taken (its pods could not be set up; Coil churns a block per ADD).
   */
  readonly families?: NodeFamilies;
  /** Clock in ms for the reuse quarantine (default `Date.now`). */
  readonly now?: () => number;
}

/** See the module comment. */
export class NodeState {
  readonly ipam: NodeIpam;
  readonly #o: NodeStateOptions;
  readonly #locks = new KeyedMutex();
  readonly #export: RouteExport;
  /** Background work in flight ({@link NodeState.free}'s block returns). */
  readonly #pending = new Set<Promise<void>>();
  /** Blocks left the allocator whose store return is in flight ({@link NodeState.releaseIfEmpty}). */
  readonly #returning = new Set<string>();
  /** Per store listing in flight ({@link NodeState.adoptStoreBlocks}): the blocks that left the allocator since it started. */
  readonly #listings = new Set<Set<string>>();
  /**
   * The pod of each allocation this process made (`containerId:ifname` → pod of the ADD); kept
   * only in memory, so allocations recovered from the kernel at start-up have none.
   */
  readonly #pods = new Map<string, PodRef>();

  constructor(opts: NodeStateOptions) {
    this.#o = opts;
    this.ipam = opts.ipam ?? new NodeIpam();
    this.#export = new RouteExport({
      kernel: opts.kernel,
      log: opts.log,
      table: opts.exportTable,
      protocol: opts.protocol,
      blocks: () => this.ipam.blockCidrs(),
    });
    opts.metrics?.observeNodeIpam(() => this.poolUsage());
  }

  /** The last route-export failure, cleared by a successful sync (STATUS reports 51 while set). */
  get lastExportError(): ExportError | undefined {
    return this.#export.lastError;
  }

  /**
   * The pod `containerId:ifname` was allocated for, when this process made the allocation with a
   * pod ({@link NodeState.allocate}); undefined for one recovered from the kernel after a restart
   * (the host veth alias records no pod).
   */
  podOf(containerId: string, ifname: string): PodRef | undefined {
    return this.#pods.get(allocationKey(containerId, ifname));
  }

  /** Remember the pod of a successful allocation (a pod with an empty name is not remembered). */
  #notePod<T>(key: { readonly containerId: string; readonly ifname: string; readonly pod?: PodRef | undefined }, r: Result<T, AllocateError>): Result<T, AllocateError> {
    if (r.isOk() && key.pod !== undefined && key.pod.name !== "") this.#pods.set(allocationKey(key.containerId, key.ifname), { namespace: key.pod.namespace, name: key.pod.name });
    return r;
  }

  /**
   * Addresses for `containerId:ifname` from `pool` (idempotent), obtaining a block when needed;
   * `pod` (the ADD's) is remembered for {@link NodeState.podOf}.
   */
  async allocate(request: { readonly pool: string; readonly containerId: string; readonly ifname: string; readonly pod?: PodRef | undefined }): Promise<Result<Allocation, AllocateError>> {
    return this.#notePod(request, await this.#allocate({ pool: request.pool, containerId: request.containerId, ifname: request.ifname }));
  }

  async #allocate(request: { readonly pool: string; readonly containerId: string; readonly ifname: string }): Promise<Result<Allocation, AllocateError>> {
    const req = { ...request, now: this.#now() };
    const owned = this.#ownedBlocksUnservable(req.pool);
    if (owned !== undefined) return err(owned);
    const first = this.ipam.allocate(req);
    if (first.isOk() || first.error.kind !== "need-block") return first.mapErr((cause) => ({ kind: "ipam" as const, cause }));
    const r = await this.#locks.run(`pool:${req.pool}`, async (): Promise<Result<Allocation, AllocateError>> => {
      const again = this.ipam.allocate(req);
      if (again.isOk() || again.error.kind !== "need-block") return again.mapErr((cause) => ({ kind: "ipam" as const, cause }));
      const unservable = await this.#poolUnservable(req.pool);
      if (unservable !== undefined) return err(unservable);
      const block = await this.#o.store.acquireBlock(req.pool, this.#o.node);
      if (block.isErr()) return err({ kind: "store", cause: block.error });
      this.#o.log.info("obtained a new block", { pool: req.pool, block: block.value.name, ipv4: block.value.ipv4, ipv6: block.value.ipv6 });
      await this.refreshPoolPolicy(req.pool);
      const added = this.ipam.addBlock(block.value);
      if (added.isErr()) return err({ kind: "ipam", cause: added.error });
      this.#export.blocksChanged();
      return this.ipam.allocate(req).mapErr((cause) => ({ kind: "ipam" as const, cause }));
    });
    // Table 119 changes only with the block set: sync (or wait for the sync in flight) only when it
    // is behind — a new block, or a failed earlier sync — so that the pod is routable when ADD returns.
    if (r.isOk() && this.#export.behind) await this.#syncExportOrCarryOn();
    return r;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Apply a pool definition's policy (a bad annotation is logged and ignored: the pool works as plain Coil). */
  #applyPolicy(pool: string, def: StorePoolDefinition): void {
    const p = poolPolicy(def.spec, def.annotations);
    if (p.isErr()) this.#o.log.warn("ignoring the pool's invalid coil-ts.cybozu.com annotations", { pool, errors: p.error.map(formatFieldError) });
    this.ipam.setPoolPolicy(pool, p.unwrapOr(NO_POLICY));
  }

  /**
   * Read `pool` from the store (when it can tell) and apply its policy. A failed read keeps the
   * policy in force (logged): allocation goes on.
   */
  async refreshPoolPolicy(pool: string): Promise<void> {
    const store = this.#o.store;
    if (store.readPool === undefined) return;
    const def = await store.readPool(pool);
    if (def.isErr()) this.#o.log.warn("could not read the pool's policy; keeping the one in force", { pool, error: def.error });
    else if (def.value !== undefined) this.#applyPolicy(pool, def.value);
  }

  /**
   * A static address (beyond Coil): the slot of `ipv4`/`ipv6` in `pool` for `containerId:ifname`,
   * obtaining that very block (a static BlockRequest) when the node does not own it. Every refusal
   * — outside the pool, reserved, families mismatch, in use here, block owned by another node —
   * comes with a precise message and leaves the node's state as it was.
   */
  async allocateStatic(req: {
    readonly pool: string;
    readonly containerId: string;
    readonly ifname: string;
    readonly ipv4?: string;
    readonly ipv6?: string;
    /** The ADD's pod, remembered for {@link NodeState.podOf}. */
    readonly pod?: PodRef | undefined;
  }): Promise<Result<Allocation, AllocateError>> {
    return this.#notePod(req, await this.#allocateStatic(req));
  }

  async #allocateStatic(req: { readonly pool: string; readonly containerId: string; readonly ifname: string; readonly ipv4?: string; readonly ipv6?: string }): Promise<Result<Allocation, AllocateError>> {
    const store = this.#o.store;
    const what = [req.ipv4, req.ipv6].filter((x) => x !== undefined).join(",");
    const acquireStatic = store.acquireStaticBlock?.bind(store);
    if (store.readPool === undefined || acquireStatic === undefined) {
      return err({ kind: "static-address", message: `static address ${what}: this block store does not serve static addresses (use --store=kubernetes)` });
    }
    const def = await store.readPool(req.pool);
    if (def.isErr()) return err({ kind: "store", cause: def.error });
    if (def.value === undefined) return err({ kind: "store", cause: { kind: "pool-not-found", pool: req.pool, message: `pool ${req.pool} is not defined (no AddressPool ${req.pool})` } });
    this.#applyPolicy(req.pool, def.value);
    const slot = staticSlot(req.pool, def.value.spec, this.ipam.poolPolicy(req.pool) ?? NO_POLICY, req);
    if (slot.isErr()) return err({ kind: "static-address", message: slot.error.message });
    const owned = this.#ownedBlocksUnservable(req.pool);
    if (owned !== undefined) return err(owned);
    const at = { pool: req.pool, containerId: req.containerId, ifname: req.ifname, index: slot.value.index, offset: slot.value.offset };
    const first = this.ipam.allocateStatic(at);
    if (first.isOk() || first.error.kind !== "need-block") return first.mapErr((cause) => ({ kind: "ipam" as const, cause }));
    const r = await this.#locks.run(`pool:${req.pool}`, async (): Promise<Result<Allocation, AllocateError>> => {
      const again = this.ipam.allocateStatic(at);
      if (again.isOk() || again.error.kind !== "need-block") return again.mapErr((cause) => ({ kind: "ipam" as const, cause }));
      const unservable = await this.#poolUnservable(req.pool);
      if (unservable !== undefined) return err(unservable);
      const block = await acquireStatic(req.pool, this.#o.node, slot.value.index, what);
      if (block.isErr()) return err({ kind: "store", cause: block.error });
      this.#o.log.info("obtained a static block", { pool: req.pool, block: block.value.name, ipv4: block.value.ipv4, ipv6: block.value.ipv6 });
      const added = this.ipam.addBlock(block.value);
      if (added.isErr()) return err({ kind: "ipam", cause: added.error });
      this.#export.blocksChanged();
      return this.ipam.allocateStatic(at).mapErr((cause) => ({ kind: "ipam" as const, cause }));
    });
    if (r.isErr()) {
      // A block obtained for a refused slot (e.g. registered meanwhile) must not stay behind empty.
      const b = this.ipam.blocks(req.pool).find((x) => x.index === slot.value.index);
      if (b !== undefined && b.used === 0) void (await this.releaseIfEmpty({ pool: req.pool, name: b.name }));
    }
    if (r.isOk() && this.#export.behind) await this.#syncExportOrCarryOn();
    return r;
  }

  /** A single-stack node's blocks of `pool` carrying the other family (left from an earlier configuration). */
  #ownedBlocksUnservable(pool: string): FamilyUnavailable | undefined {
    const f = this.#o.families;
    if (f === undefined || (f.have.includes(4) && f.have.includes(6))) return undefined;
    const need = this.ipam.blocks(pool).flatMap((b) => [...(b.ipv4 === undefined ? [] : [4 as const]), ...(b.ipv6 === undefined ? [] : [6 as const])]);
    return familyUnavailable(pool, this.#o.node, need, f.have);
  }

  /** Before a block is requested: the pool's families (a store read) against the node's. */
  async #poolUnservable(pool: string): Promise<AllocateError | undefined> {
    const f = this.#o.families;
    if (f === undefined || (f.have.includes(4) && f.have.includes(6))) return undefined;
    const need = await f.ofPool(pool);
    if (need.isErr()) return { kind: "store", cause: need.error };
    return need.value === undefined ? undefined : familyUnavailable(pool, this.#o.node, need.value, f.have);
  }

  /**
   * Release `containerId:ifname` (no-op if unknown). The addresses are free when this returns (the
   * allocator is synchronous). A block left empty is returned to the store, and table 119 synced,
   * in the background (beyond Coil, which does both inside DEL): the runtime does not wait for an
   * API round trip and a route change it does not need. This is safe because the return re-checks
   * under the pool's lock that the block is still empty (an ADD meanwhile simply keeps it), a
   * failed return leaves the block recorded for the next GC, a crash before it leaves an empty
   * block that the start-up GC returns, and {@link NodeState.settled} lets a clean stop finish it.
   */
  free(containerId: string, ifname: string): Allocation | undefined {
    const out = this.#release(containerId, ifname);
    if (out.emptyBlock !== undefined) this.#inBackground(this.#returnEmpty(out.emptyBlock));
    return out.freed;
  }

  /**
   * {@link NodeState.free}, but a block left empty is returned before this resolves: for an ADD that
   * failed after taking a block, whose error answer must leave the node as it was.
   */
  async freeAndReturn(containerId: string, ifname: string): Promise<Allocation | undefined> {
    const out = this.#release(containerId, ifname);
    if (out.emptyBlock !== undefined) await this.#returnEmpty(out.emptyBlock);
    return out.freed;
  }

  /** Free the addresses in the allocator and forget the pod; the block it left empty, if any. */
  #release(containerId: string, ifname: string): ReturnType<NodeIpam["free"]> {
    this.#pods.delete(allocationKey(containerId, ifname));
    return this.ipam.free(containerId, ifname, this.#now());
  }

  /** Return an empty block and sync the export table; failures are logged (the next GC retries). */
  async #returnEmpty(ref: BlockRef): Promise<void> {
    const released = await this.releaseIfEmpty(ref);
    if (released.isErr()) this.#o.log.warn("failed to return an empty block", { block: ref.name, error: released.error });
    else if (released.value) await this.#syncExportOrCarryOn();
  }

  #inBackground(work: Promise<void>): void {
    // The work returns Results; a throw would be a bug, logged here instead of crashing coild
    // with an unhandled rejection (nothing waits on this promise but settled()).
    const tracked = work
      .catch((e: unknown) => this.#o.log.error("background work failed", { error: e instanceof Error ? e.message : String(e) }))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Resolves once the background work started so far (empty blocks being returned, a GC) has finished. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /**
   * Return block `ref` to the store if it is still empty. It leaves the allocator first
   * (synchronously), so no concurrent ADD can take an address from it while the store call runs;
   * if the store call fails the block stays recorded there and the next GC retries.
   */
  releaseIfEmpty(ref: BlockRef): Promise<Result<boolean, StoreError>> {
    return this.#locks.run(`pool:${ref.pool}`, async () => {
      const removed = this.ipam.removeBlock(ref.name);
      if (removed.isErr()) return ok(false);
      this.#export.blocksChanged();
      // A GC adopting the store's blocks meanwhile must not take this one back: the store still
      // lists it until the return is done, and an ADD could take an address of a returned block.
      this.#returning.add(ref.name);
      for (const l of this.#listings) l.add(ref.name);
      try {
        const r = await this.#o.store.releaseBlock(ref.pool, this.#o.node, ref.name);
        if (r.isOk()) this.#o.log.info("returned an empty block", { pool: ref.pool, block: ref.name });
        return r.map(() => true);
      } finally {
        this.#returning.delete(ref.name);
        // A listing that started while the return was in flight (and waits for this pool's lock) may
        // still hold the block: it left the allocator during that listing too.
        for (const l of this.#listings) l.add(ref.name);
      }
    });
  }

  /**
   * Make table `exportTable` hold exactly the node's block CIDRs (`dev lo proto 30`). Concurrent
   * calls coalesce: a call returns once a sync that started after it was requested has finished.
   */
  syncExport(): Promise<Result<void, ExportError>> {
    return this.#export.sync();
  }

  /** Remove every route of the node from the export table (`--clear-routes-on-shutdown`, Node deleted). */
  clearExport(): Promise<Result<void, ExportError>> {
    return this.#export.clear();
  }

  /**
   * Sync the export table where its failure must not fail the caller (an ADD whose address is
   * allocated, a DEL, a GC): the export logs the failure, keeps it for STATUS (`lastError`, 51) and
   * stays `behind`, so the next ADD or GC syncs again.
   */
  async #syncExportOrCarryOn(): Promise<void> {
    void (await this.syncExport());
  }

  /**
   * Node-IPAM GC (Coil §3.5): take in every block the store assigns to this node (also pools with
   * no live pod), return every empty one, then sync the export table. {@link NodeState.settled}
   * waits for a GC in progress too (coild's periodic one must not outlive the store).
   */
  gcBlocks(): Promise<Result<{ readonly released: readonly string[] }, StoreError>> {
    const gc = this.#gcBlocks();
    this.#inBackground(gc.then(() => undefined));
    return gc;
  }

  async #gcBlocks(): Promise<Result<{ readonly released: readonly string[] }, StoreError>> {
    const taken = await this.adoptStoreBlocks();
    if (taken.isErr()) return err(taken.error);
    const released: string[] = [];
    for (const ref of this.ipam.emptyBlocks()) {
      const r = await this.releaseIfEmpty(ref);
      if (r.isErr()) this.#o.log.warn("failed to return an empty block", { block: ref.name, error: r.error });
      else if (r.value) released.push(ref.name);
    }
    await this.#syncExportOrCarryOn();
    return ok({ released });
  }

  /**
   * Add every block the store assigns to this node to the allocator (idempotent); the number of
   * blocks. A block being returned, or that left the allocator while the list was read or while
   * waiting for its pool's lock, is not taken back (the list may predate its return); a failed
   * return is retried by the next GC. A pool's blocks are added under the pool's lock, as an ADD
   * takes a block (Coil's GC holds the pool's mutex too): a listed block may be the one an ADD is
   * obtaining right now (its BlockRequest done, the ADD not yet back); adopted meanwhile, another
   * ADD could take its address first, and the ADD that obtained it would fail for want of one.
   */
  async adoptStoreBlocks(): Promise<Result<number, StoreError>> {
    const leftMeanwhile = new Set<string>();
    this.#listings.add(leftMeanwhile);
    try {
      const blocks = await this.#o.store.listBlocks(this.#o.node);
      if (blocks.isErr()) return err(blocks.error);
      const byPool = new Map<string, StoredBlock[]>();
      for (const b of blocks.value) {
        const list = byPool.get(b.pool);
        if (list === undefined) byPool.set(b.pool, [b]);
        else list.push(b);
      }
      for (const [pool, listed] of byPool) {
        await this.#locks.run(`pool:${pool}`, () => {
          const before = this.ipam.blocks(pool).length;
          for (const b of listed) {
            if (this.#returning.has(b.name) || leftMeanwhile.has(b.name)) continue;
            const added = this.ipam.addBlock(b);
            if (added.isErr()) this.#o.log.warn("ignoring a block the allocator refuses", { block: b.name, error: added.error });
          }
          if (this.ipam.blocks(pool).length !== before) this.#export.blocksChanged();
          return Promise.resolve();
        });
        await this.refreshPoolPolicy(pool);
      }
      return ok(blocks.value.length);
    } finally {
      this.#listings.delete(leftMeanwhile);
    }
  }

  /** Whether `pool` can serve no further address: every node block full and the store has no free block. */
  async poolExhausted(pool: string): Promise<boolean> {
    const blocks = this.ipam.blocks(pool);
    if (blocks.some((b) => b.used < b.size)) return false;
    const pools = await this.#o.store.listPools();
    const p = pools.isOk() ? pools.value.find((x) => x.name === pool) : undefined;
    return p === undefined || BigInt(p.allocatedBlocks) >= p.maxBlocks;
  }

  /** Addresses and blocks per pool, as the allocator holds them now (read by the metrics at scrape time). */
  poolUsage(): PoolUsage[] {
    const usage = new Map<string, { allocatedAddresses: number; blocks: number }>();
    const of = (pool: string): { allocatedAddresses: number; blocks: number } => {
      let u = usage.get(pool);
      if (u === undefined) usage.set(pool, (u = { allocatedAddresses: 0, blocks: 0 }));
      return u;
    };
    for (const a of this.ipam.allocations()) of(a.pool).allocatedAddresses += 1;
    for (const b of this.ipam.blocks()) of(b.pool).blocks += 1;
    return [...usage].map(([pool, u]) => ({ pool, ...u }));
  }
}
