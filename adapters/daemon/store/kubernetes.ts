/**
 * `--store=kubernetes`: the {@link BlockStore} port over Coil's custom resources, as Coil v2's
 * coild uses them (§2.2, §2.3, §3.3-3.6).
 *
 * - `listBlocks(node)`: the AddressBlocks labelled `coil.cybozu.com/node=<node>`, read with an
 *   uncached LIST at startup and then kept current by a watch (an {@link Informer} scoped by that
 *   label). Blocks this store has just deleted are hidden until the watch reports the deletion, so
 *   a GC running in between cannot re-adopt a returned block.
 * - `acquireBlock(pool, node)`: the BlockRequest flow ({@link requestBlock}), then a GET of the
 *   AddressBlock the controller named.
 * - `releaseBlock`: remove the `coil.cybozu.com` finalizer (GET + patch conditioned on the
 *   resourceVersion, retried on conflict; NotFound is success), then DELETE conditioned on the
 *   UID (NotFound is success).
 *
 * - Beyond Coil (docs/static-addresses.md): `readPool` (GET of the AddressPool: spec and
 *   annotations) and `acquireStaticBlock`: a BlockRequest `req-<pool>-<node>-static-<index>`
 *   annotated `coil-ts.cybozu.com/block-index`; a controller that answers with another block (Go
 *   Coil's ignores the annotation) gets that block returned at once and the ADD fails saying so.
 *   The static request is deleted once answered.
 *
 * Every API call is bounded (default 3 s), so when the API server is unreachable a call that
 * needs it fails fast with `store-io` (CNI TRY_AGAIN_LATER) naming the cause. Nothing here is
 * called on the path of an ADD that fits in a block the node already owns.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { err, ok, ResultAsync, type Result } from "neverthrow";
import { ANNOTATION_BLOCK_INDEX, ANNOTATION_STATIC_IP, FINALIZER, LABEL_NODE, LABEL_POOL } from "../../../lib/constants.js";
import { blockName, parseAddressBlock, poolFamilies, poolMaxBlocks, type StorePoolDefinition } from "../../../lib/ipam/index.js";
import type { Family } from "../../../lib/net/index.js";
import {
  Informer,
  isRetryable,
  type AddressBlockObject,
  type CoilClient,
  type K8sError,
  type Logger,
  type OwnerReference,
  type RequestObserver,
} from "../../k8s/index.js";
import { blockRequestName, boundedCall, requestBlock, within, type BlockRequestOutcome, type RequestBlockOptions } from "./kubernetes-block-request.js";
import type { BlockStore, StoredBlock, StoreError, StorePool } from "../../../lib/ipam/index.js";

/** Options of {@link KubernetesBlockStore.open}. */
export interface KubernetesStoreOptions {
  readonly coil: CoilClient;
  readonly kc: KubeConfig;
  /** This node's name (`COIL_NODE_NAME`). */
  readonly node: string;
  /** ownerReference to this node's Node object (put on BlockRequests). */
  readonly nodeOwner: OwnerReference;
  readonly log: Logger;
  /** BlockRequest deadline (Coil's `DefaultAllocTimeout`, 10 s). */
  readonly allocTimeoutMs?: number;
  /** Bound on one API call (default 3 s). */
  readonly callTimeoutMs?: number;
  /** How long `open` waits for the first LIST of the node's blocks (default 30 s). */
  readonly startupTimeoutMs?: number;
  /** Told about the block watch's requests (`rest_client_requests_total`). */
  readonly onRequest?: RequestObserver | undefined;
}

/** A K8sError as a store error: retryable ones are `store-io` (CNI 11), the rest `store-state-invalid` (999). */
export function apiStoreError(what: string, e: K8sError): StoreError {
  const cause = e.kind === "network" ? `Kubernetes API server unreachable: ${e.message}` : `Kubernetes API error (${e.status} ${e.reason ?? e.kind}): ${e.message}`;
  const message = `${what}: ${cause}`;
  return isRetryable(e) ? { kind: "store-io", message } : { kind: "store-state-invalid", message };
}

function toStored(o: AddressBlockObject): StoredBlock | undefined {
  const p = parseAddressBlock(o);
  if (p.isErr() || p.value.node === undefined) return undefined;
  const { node, ...b } = p.value;
  return { ...b, node };
}

/** Beyond Coil: the name of a static BlockRequest (its own, so that it never deletes the dynamic one in flight). */
export const staticRequestName = (pool: string, node: string, index: number): string => `req-${pool}-${node}-static-${index}`;

/** See the module comment. */
export class KubernetesBlockStore implements BlockStore {
  readonly #o: KubernetesStoreOptions;
  readonly #blocks: Informer<AddressBlockObject>;
  /** UIDs of blocks deleted here whose deletion the watch has not reported yet. */
  readonly #gone = new Set<string>();

  private constructor(o: KubernetesStoreOptions, blocks: Informer<AddressBlockObject>) {
    this.#o = o;
    this.#blocks = blocks;
    blocks.on((e) => {
      if (e.type === "delete") this.#gone.delete(e.object.metadata.uid ?? "");
    });
  }

  /** Start watching the node's AddressBlocks; fails when the first LIST does not succeed in time. */
  static async open(o: KubernetesStoreOptions): Promise<Result<KubernetesBlockStore, StoreError>> {
    const labelSelector = `${LABEL_NODE}=${o.node}`;
    const inf = new Informer<AddressBlockObject>({
      name: "addressblocks",
      kc: o.kc,
      path: o.coil.blocks.path,
      labelSelector,
      list: () => o.coil.blocks.list({ labelSelector }),
      backoff: { initialMs: 200, maxMs: 5000 },
      log: o.log,
      onRequest: o.onRequest,
    });
    inf.start();
    const ms = o.startupTimeoutMs ?? 30_000;
    const synced = await within(inf.waitSynced().then(() => true), ms, false);
    if (!synced) {
      await inf.stop();
      return err({ kind: "store-io", message: `could not list the AddressBlocks of node ${o.node} within ${ms} ms (Kubernetes API server unreachable?)` });
    }
    return ok(new KubernetesBlockStore(o, inf));
  }

  /** Stop the watch. */
  close(): Promise<void> {
    return this.#blocks.stop();
  }

  #call<T>(p: PromiseLike<Result<T, K8sError>>): Promise<Result<T, K8sError>> {
    return boundedCall(p, this.#o.callTimeoutMs ?? 3000);
  }

  /** The node's blocks as the watch knows them now. */
  listBlocksCached(): StoredBlock[] {
    return this.#blocks
      .items()
      .filter((b) => !this.#gone.has(b.metadata.uid ?? ""))
      .flatMap((b) => toStored(b) ?? []);
  }

  listBlocks(node: string): ResultAsync<readonly StoredBlock[], StoreError> {
    if (node !== this.#o.node) {
      const selector = `${LABEL_NODE}=${node}`;
      return new ResultAsync(this.#call(this.#o.coil.blocks.list({ labelSelector: selector }))).map(
        (l) => l.items.flatMap((b) => toStored(b) ?? []),
      ).mapErr((e) => apiStoreError(`list AddressBlocks of node ${node}`, e));
    }
    return new ResultAsync(Promise.resolve(ok(this.listBlocksCached())));
  }

  /** The options every BlockRequest of this node shares (dynamic and static). */
  #requestOptions(pool: string, node: string): RequestBlockOptions {
    return {
      coil: this.#o.coil,
      kc: this.#o.kc,
      pool,
      node,
      owner: this.#o.nodeOwner,
      ...(this.#o.allocTimeoutMs === undefined ? {} : { timeoutMs: this.#o.allocTimeoutMs }),
      ...(this.#o.callTimeoutMs === undefined ? {} : { callTimeoutMs: this.#o.callTimeoutMs }),
    };
  }

  acquireBlock(pool: string, node: string): ResultAsync<StoredBlock, StoreError> {
    return new ResultAsync(this.#acquire(pool, node));
  }

  async #acquire(pool: string, node: string): Promise<Result<StoredBlock, StoreError>> {
    const out = await requestBlock(this.#requestOptions(pool, node));
    if (out.kind !== "allocated") return err(await this.#outcomeError(pool, node, out));
    const got = await this.#call(this.#o.coil.blocks.get(out.blockName));
    if (got.isErr()) return err(apiStoreError(`get AddressBlock ${out.blockName} of pool ${pool}`, got.error));
    const b = toStored(got.value);
    if (b === undefined || b.node !== node || b.pool !== pool) {
      return err({ kind: "store-state-invalid", message: `AddressBlock ${out.blockName} named by BlockRequest ${blockRequestName(pool, node)} is not a block of pool ${pool} for node ${node}` });
    }
    return ok(b);
  }

  readPool(pool: string): ResultAsync<StorePoolDefinition | undefined, StoreError> {
    return new ResultAsync(
      this.#call(this.#o.coil.pools.get(pool)).then((p) => {
        if (p.isErr()) return p.error.kind === "not-found" ? ok(undefined) : err(apiStoreError(`get AddressPool ${pool}`, p.error));
        return ok({ spec: p.value.spec, annotations: p.value.metadata.annotations ?? {} });
      }),
    );
  }

  acquireStaticBlock(pool: string, node: string, index: number, staticIp: string): ResultAsync<StoredBlock, StoreError> {
    return new ResultAsync(this.#acquireStatic(pool, node, index, staticIp));
  }

  async #acquireStatic(pool: string, node: string, index: number, staticIp: string): Promise<Result<StoredBlock, StoreError>> {
    const name = staticRequestName(pool, node, index);
    const out = await requestBlock({
      ...this.#requestOptions(pool, node),
      name,
      annotations: { [ANNOTATION_BLOCK_INDEX]: String(index), [ANNOTATION_STATIC_IP]: staticIp },
    });
    // Answered (or given up): the request has served its purpose.
    const del = await this.#call(this.#o.coil.requests.delete(name));
    if (del.isErr() && del.error.kind !== "not-found") this.#o.log.warn("could not delete a static BlockRequest", { request: name, error: del.error });
    if (out.kind === "failed" && out.reason !== "out of blocks") {
      return err({ kind: "static-refused", message: `static address ${staticIp} of pool ${pool}: ${out.message} (BlockRequest ${name}: ${out.reason})` });
    }
    if (out.kind !== "allocated") return err(await this.#outcomeError(pool, node, out, name));
    const want = blockName(pool, index);
    if (out.blockName !== want) {
      const back = await this.#release(pool, node, out.blockName);
      if (back.isErr()) this.#o.log.warn("could not return a block a static request got by mistake", { block: out.blockName, error: back.error });
      return err({
        kind: "static-refused",
        message: `coil-ipam-controller answered static BlockRequest ${name} with block ${out.blockName} instead of ${want}: the controller does not support static addresses (Coil v2's does not); the block was returned`,
      });
    }
    const got = await this.#call(this.#o.coil.blocks.get(want));
    if (got.isErr()) return err(apiStoreError(`get AddressBlock ${want} of pool ${pool}`, got.error));
    const b = toStored(got.value);
    if (b === undefined || b.node !== node || b.pool !== pool) {
      return err({ kind: "store-state-invalid", message: `AddressBlock ${want} named by BlockRequest ${name} is not a block of pool ${pool} for node ${node}` });
    }
    return ok(b);
  }

  async #outcomeError(pool: string, node: string, out: Exclude<BlockRequestOutcome, { kind: "allocated" }>, requestName?: string): Promise<StoreError> {
    const req = requestName ?? blockRequestName(pool, node);
    switch (out.kind) {
      case "failed":
        return out.reason === "out of blocks"
          ? { kind: "pool-exhausted", pool, message: `pool ${pool} has no free address block (BlockRequest ${req}: ${out.reason}: ${out.message})` }
          : { kind: "store-io", message: `BlockRequest ${req} for pool ${pool} failed: ${out.reason}: ${out.message}` };
      case "api":
        return apiStoreError(`cannot request a new block of pool ${pool} (${out.step})`, out.error);
      case "timeout": {
        const p = await this.#call(this.#o.coil.pools.get(pool));
        if (p.isErr() && p.error.kind === "not-found") return { kind: "pool-not-found", pool, message: `pool ${pool} is not defined (no AddressPool ${pool})` };
        const ms = this.#o.allocTimeoutMs ?? 10_000;
        return { kind: "store-io", message: `aborting new block request: context deadline exceeded (BlockRequest ${req} for pool ${pool} got no answer within ${ms} ms; is coil-ipam-controller running?)` };
      }
    }
  }

  releaseBlock(pool: string, node: string, name: string): ResultAsync<void, StoreError> {
    return new ResultAsync(this.#release(pool, node, name));
  }

  async #release(pool: string, node: string, name: string): Promise<Result<void, StoreError>> {
    const what = `return AddressBlock ${name} of pool ${pool}`;
    for (let attempt = 0; ; attempt++) {
      const got = await this.#call(this.#o.coil.blocks.get(name));
      if (got.isErr()) return got.error.kind === "not-found" ? ok(undefined) : err(apiStoreError(what, got.error));
      const b = got.value;
      if (b.metadata.labels?.[LABEL_NODE] !== node || b.metadata.labels[LABEL_POOL] !== pool) {
        this.#o.log.warn("not deleting an AddressBlock that is not ours any more", { block: name, labels: b.metadata.labels });
        return ok(undefined);
      }
      const patched = this.#o.coil.blocks.removeFinalizer(b, FINALIZER);
      const r = patched === undefined ? undefined : await this.#call(patched);
      if (r?.isErr() === true) {
        if (r.error.kind === "not-found") return ok(undefined);
        if (r.error.kind === "conflict" && attempt < 5) continue;
        return err(apiStoreError(`${what} (remove finalizer)`, r.error));
      }
      const uid = b.metadata.uid;
      const del = await this.#call(this.#o.coil.blocks.delete(name, uid === undefined ? {} : { uid }));
      if (del.isErr() && del.error.kind !== "not-found" && del.error.kind !== "conflict") return err(apiStoreError(`${what} (delete)`, del.error));
      if (uid !== undefined && this.#blocks.get(name)?.metadata.uid === uid) this.#gone.add(uid);
      return ok(undefined);
    }
  }

  /**
   * The address families of pool `pool`'s subnets (GET of the AddressPool); undefined when there
   * is no such pool (the BlockRequest flow then reports it, as Coil does).
   */
  async poolFamilies(pool: string): Promise<Result<readonly Family[] | undefined, StoreError>> {
    const p = await this.#call(this.#o.coil.pools.get(pool));
    if (p.isErr()) return p.error.kind === "not-found" ? ok(undefined) : err(apiStoreError(`cannot request a new block of pool ${pool} (get AddressPool)`, p.error));
    return ok(poolFamilies(p.value.spec));
  }

  listPools(): ResultAsync<readonly StorePool[], StoreError> {
    return new ResultAsync(this.#listPools());
  }

  async #listPools(): Promise<Result<readonly StorePool[], StoreError>> {
    const [pools, blocks] = await Promise.all([this.#call(this.#o.coil.pools.list()), this.#call(this.#o.coil.blocks.list())]);
    if (pools.isErr()) return err(apiStoreError("list AddressPools", pools.error));
    if (blocks.isErr()) return err(apiStoreError("list AddressBlocks", blocks.error));
    const count = new Map<string, number>();
    for (const b of blocks.value.items) {
      const p = b.metadata.labels?.[LABEL_POOL];
      if (p !== undefined) count.set(p, (count.get(p) ?? 0) + 1);
    }
    return ok(
      pools.value.items.flatMap((p) => {
        const spec = { blockSizeBits: p.spec.blockSizeBits ?? 5, subnets: p.spec.subnets };
        const max = poolMaxBlocks(spec);
        if (max.isErr()) return [];
        return [{ name: p.metadata.name, blockSizeBits: spec.blockSizeBits, maxBlocks: max.value, allocatedBlocks: count.get(p.metadata.name) ?? 0 }];
      }),
    );
  }
}
