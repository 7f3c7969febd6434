/**
 * Coil's BlockRequestReconciler: a request without conditions gets exactly one AddressBlock.
 * Idempotency (Coil #198): the AddressBlock labelled `coil.cybozu.com/request=<uid>` is looked up
 * in an index (Coil: a cached field index) fed by an uncached LIST when leadership starts (so a
 * previous leader's last writes are seen even if the watch lags), the blocks this replica creates,
 * and AddressBlock watch events. A request therefore never gets a second block — across restarts
 * and leader changes too. Status is written through the status subresource with the read
 * resourceVersion as precondition. A request a retry cannot serve — its pool does not exist or
 * cannot be laid out into blocks — is a terminal failure (logged and counted, not requeued; Coil
 * retries it forever): coild gives up on it after its allocation timeout and creates a new
 * request, which is a new event, for its next attempt.
 *
 * Beyond Coil (docs/static-addresses.md): a request annotated `coil-ts.cybozu.com/block-index`
 * is static — it gets the block of exactly that index, or a Failed condition saying why not
 * (invalid index, reserved, owned by another node); the spec stays Coil's.
 */
import { ANNOTATION_BLOCK_INDEX, LABEL_REQUEST } from "../../lib/constants.js";
import type {
  AddressBlockObject,
  BlockRequestCondition,
  BlockRequestObject,
  BlockRequestStatus,
  CoilClient,
  Logger,
  ReconcileOutcome,
} from "../k8s/index.js";
import type { PoolError, PoolManager } from "./pool-manager.js";

/** Dependencies of {@link BlockRequestReconciler}. */
export interface BlockRequestReconcilerDeps {
  /** Typed API clients. */
  readonly coil: CoilClient;
  /** Pool state. */
  readonly pools: PoolManager;
  /** Cached request lookup (informer). */
  readonly cachedRequest: (name: string) => BlockRequestObject | undefined;
  /** Clock (condition timestamps). */
  readonly now: () => Date;
  /** Logger. */
  readonly log: Logger;
  /** Whether this replica may still write (it leads); asked right before each status write. Default: always. */
  readonly mayWrite?: () => boolean;
}

/** RFC 3339 with seconds, as metav1.Time serialises. */
function metaTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The status Coil writes after allocating `block` (§3.3). */
export function allocatedStatus(block: string, now: Date): BlockRequestStatus {
  const t = metaTime(now);
  const complete: BlockRequestCondition = {
    type: "Complete",
    status: "True",
    reason: "allocated",
    message: `allocated a block ${block}`,
    lastProbeTime: t,
    lastTransitionTime: t,
  };
  return { addressBlockName: block, conditions: [complete] };
}

/** The status Coil writes when the pool has no free block (§3.3). */
export function outOfBlocksStatus(pool: string, now: Date): BlockRequestStatus {
  const t = metaTime(now);
  return {
    conditions: [
      { type: "Complete", status: "True", reason: "completed with failure", message: "completed with failure", lastProbeTime: t, lastTransitionTime: t },
      { type: "Failed", status: "True", reason: "out of blocks", message: `pool ${pool} does not have free blocks`, lastProbeTime: t, lastTransitionTime: t },
    ],
  };
}

/** The status written when a static request cannot be served (`reason` is what Coil's GetResult reports). */
export function staticRefusedStatus(reason: string, message: string, now: Date): BlockRequestStatus {
  const t = metaTime(now);
  return {
    conditions: [
      { type: "Complete", status: "True", reason: "completed with failure", message: "completed with failure", lastProbeTime: t, lastTransitionTime: t },
      { type: "Failed", status: "True", reason, message, lastProbeTime: t, lastTransitionTime: t },
    ],
  };
}

/** The block index a static request asks for: undefined when not static, NaN when the annotation is not a decimal index. */
export function requestedBlockIndex(br: BlockRequestObject): number | undefined {
  const v = br.metadata.annotations?.[ANNOTATION_BLOCK_INDEX];
  if (v === undefined) return undefined;
  return /^(0|[1-9]\d{0,15})$/.test(v.trim()) ? Number(v.trim()) : NaN;
}

/** Event filter: creations always, updates only when the new object has no conditions, never deletes. */
export function wantsRequestEvent(type: "add" | "update" | "delete", obj: BlockRequestObject): boolean {
  if (type === "add") return true;
  if (type === "update") return (obj.status?.conditions ?? []).length === 0;
  return false;
}

/**
 * Whether retrying an allocation that failed with `e` can help: not for a pool that cannot be laid
 * out into blocks or that does not exist (the GET found no AddressPool).
 */
export function allocationRetryable(e: PoolError): boolean {
  switch (e.kind) {
    case "invalid-pool":
      return false;
    case "api":
      return !(e.op === "get pool" && e.error.kind === "not-found");
    case "no-block":
    case "name-taken":
      return true;
    case "static-refused":
    case "not-leading":
      return false;
  }
}

/** Reconciles BlockRequests by name. */
export class BlockRequestReconciler {
  readonly #d: BlockRequestReconcilerDeps;
  /** uid → resourceVersion we wrote status over: a cache still at that version is stale. */
  readonly #writtenOver = new Map<string, string>();

  /** @param d - see {@link BlockRequestReconcilerDeps}. */
  constructor(d: BlockRequestReconcilerDeps) {
    this.#d = d;
  }

  /** request UID → names of its AddressBlocks. */
  readonly #byRequest = new Map<string, Set<string>>();

  /** Index a block by its request label (LIST at leadership start, watch events, own creations). */
  noteBlock(b: AddressBlockObject): void {
    const uid = b.metadata.labels?.[LABEL_REQUEST];
    if (uid === undefined) return;
    const names = this.#byRequest.get(uid) ?? new Set<string>();
    names.add(b.metadata.name);
    this.#byRequest.set(uid, names);
  }

  /** Drop a deleted block from the index. */
  forgetBlock(b: AddressBlockObject): void {
    const uid = b.metadata.labels?.[LABEL_REQUEST];
    const names = uid === undefined ? undefined : this.#byRequest.get(uid);
    names?.delete(b.metadata.name);
    if (uid !== undefined && names?.size === 0) this.#byRequest.delete(uid);
  }

  /** Forget per-request bookkeeping (on delete events). */
  forget(uid: string): void {
    this.#writtenOver.delete(uid);
  }

  /** Reconcile one request. */
  async reconcile(name: string): Promise<ReconcileOutcome> {
    const br = this.#d.cachedRequest(name);
    if (br === undefined) return { kind: "done" };
    const uid = br.metadata.uid ?? "";
    if ((br.status?.conditions ?? []).length > 0) {
      this.#writtenOver.delete(uid);
      return { kind: "done" };
    }
    // Our own status write is not in the cache yet: the update event will bring it.
    if (this.#writtenOver.get(uid) === br.metadata.resourceVersion) return { kind: "done" };
    const found = [...(this.#byRequest.get(uid) ?? [])].sort()[0];
    if (found !== undefined) {
      this.#d.log.info("request already has a block; rewriting status", { request: name, block: found });
      return this.#writeStatus(br, allocatedStatus(found, this.#d.now()));
    }
    return this.#allocate(br);
  }

  async #allocate(br: BlockRequestObject): Promise<ReconcileOutcome> {
    const { poolName: pool, nodeName: node } = br.spec;
    const index = requestedBlockIndex(br);
    if (index !== undefined && Number.isNaN(index)) {
      const v = br.metadata.annotations?.[ANNOTATION_BLOCK_INDEX] ?? "";
      return this.#writeStatus(br, staticRefusedStatus("invalid block index", `annotation ${ANNOTATION_BLOCK_INDEX}: ${JSON.stringify(v)} is not a block index`, this.#d.now()));
    }
    const uid = br.metadata.uid ?? "";
    const r = index === undefined ? await this.#d.pools.allocateBlock(pool, node, uid) : await this.#d.pools.allocateStaticBlock(pool, node, uid, index);
    if (r.isErr()) {
      if (r.error.kind === "not-leading") return { kind: "done" };
      if (r.error.kind === "static-refused") {
        this.#d.log.info("static request refused", { request: br.metadata.name, pool, node, index, reason: r.error.reason, message: r.error.message });
        return this.#writeStatus(br, staticRefusedStatus(r.error.reason, r.error.message, this.#d.now()));
      }
      if (r.error.kind === "no-block") {
        this.#d.log.error("out of blocks", { request: br.metadata.name, pool });
        return this.#writeStatus(br, outOfBlocksStatus(pool, this.#d.now()));
      }
      return { kind: allocationRetryable(r.error) ? "retry" : "terminal", error: r.error };
    }
    const block: AddressBlockObject = r.value;
    this.noteBlock(block);
    this.#d.log.info("allocated", { request: br.metadata.name, block: block.metadata.name, index: block.index, pool, node });
    return this.#writeStatus(br, allocatedStatus(block.metadata.name, this.#d.now()));
  }

  async #writeStatus(br: BlockRequestObject, status: BlockRequestStatus): Promise<ReconcileOutcome> {
    // A lost Lease: the next leader finds the block by its request label (LIST at its start) and writes the status.
    if (this.#d.mayWrite?.() === false) return { kind: "done" };
    const w = await this.#d.coil.requests.replaceStatus({ ...br, status });
    if (w.isErr()) {
      if (w.error.kind === "not-found") return { kind: "done" };
      // conflict: the cache was stale; the next round finds the block by its request label.
      return { kind: "retry", error: w.error };
    }
    this.#writtenOver.set(br.metadata.uid ?? "", br.metadata.resourceVersion ?? "");
    return { kind: "done" };
  }
}
