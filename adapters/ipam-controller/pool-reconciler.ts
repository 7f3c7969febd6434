/**
 * Coil's AddressPoolReconciler: on pool events and on deletions of owned AddressBlocks, keep the
 * pool's state synced; a deleted pool is dropped (state and metric series); a pool being deleted
 * loses its `coil.cybozu.com` finalizer once no AddressBlock carries its label. A pool whose spec
 * cannot be laid out into blocks is a terminal failure: retrying the same spec cannot help, and
 * changing the pool brings a new event (Coil retries it with backoff forever).
 */
import { API_VERSION, FINALIZER, LABEL_POOL } from "../../lib/constants.js";
import type { AddressBlockObject, AddressPoolObject, CoilClient, Logger, ReconcileOutcome } from "../k8s/index.js";
import type { PoolManager } from "./pool-manager.js";

/** Dependencies of {@link PoolReconciler}. */
export interface PoolReconcilerDeps {
  /** Typed API clients. */
  readonly coil: CoilClient;
  /** Pool state. */
  readonly pools: PoolManager;
  /** Cached pool lookup (informer). */
  readonly cachedPool: (name: string) => AddressPoolObject | undefined;
  /** Logger. */
  readonly log: Logger;
}

/** The pool a deleted block belongs to: its controller owner AddressPool, else its pool label. */
export function owningPool(block: AddressBlockObject): string | undefined {
  const owner = block.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "AddressPool" && o.apiVersion === API_VERSION);
  return owner?.name ?? block.metadata.labels?.[LABEL_POOL];
}

/** Reconciles AddressPools by name. */
export class PoolReconciler {
  readonly #d: PoolReconcilerDeps;

  /** @param d - see {@link PoolReconcilerDeps}. */
  constructor(d: PoolReconcilerDeps) {
    this.#d = d;
  }

  /** Reconcile one pool. */
  async reconcile(name: string): Promise<ReconcileOutcome> {
    const pool = this.#d.cachedPool(name);
    if (pool === undefined) {
      this.#d.log.info("dropping address pool from manager", { pool: name });
      this.#d.pools.dropPool(name);
      return { kind: "done" };
    }
    const synced = await this.#d.pools.syncPool(name);
    if (synced.isErr()) return { kind: synced.error.kind === "invalid-pool" ? "terminal" : "retry", error: synced.error };
    this.#d.log.debug("synchronized", { pool: name });
    if (pool.metadata.deletionTimestamp === undefined || !(pool.metadata.finalizers ?? []).includes(FINALIZER)) {
      return { kind: "done" };
    }
    const used = await this.#d.pools.isUsed(name);
    if (used.isErr()) return { kind: "retry", error: used.error };
    if (used.value) return { kind: "done" };
    const removed = await this.#d.coil.pools.removeFinalizer(pool, FINALIZER);
    if (removed?.isErr() === true && removed.error.kind !== "not-found") return { kind: "retry", error: removed.error };
    this.#d.log.info("removed finalizer from address pool", { pool: name });
    return { kind: "done" };
  }
}
