/**
 * coild's side of Coil's BlockRequest flow (§3.3): DELETE `req-<pool>-<node>` (NotFound is fine),
 * CREATE it again (owner: the Node; spec {nodeName, poolName}), then wait — at most
 * `DefaultAllocTimeout` (10 s) — for the controller's status conditions. A name-scoped watch is
 * opened *before* the delete/create, without a resourceVersion, so the API server first replays the
 * current object and then streams changes: a status written before the watch is established is
 * still seen. Events are matched by the UID the CREATE returned. If the watch cannot be opened or
 * ends early, the request is polled with GETs until the deadline.
 */
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { err, type Result } from "neverthrow";
import { sleep, type BlockRequestObject, type CoilClient, type K8sError, type OwnerReference } from "../../k8s/index.js";

/** Coil's `DefaultAllocTimeout`. */
export const DEFAULT_ALLOC_TIMEOUT_MS = 10_000;

/** How a request ended. */
export type BlockRequestOutcome =
  | { readonly kind: "allocated"; readonly blockName: string }
  | { readonly kind: "failed"; readonly reason: string; readonly message: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "api"; readonly step: string; readonly error: K8sError };

/** Options of {@link requestBlock}. */
export interface RequestBlockOptions {
  readonly coil: CoilClient;
  readonly kc: KubeConfig;
  readonly pool: string;
  readonly node: string;
  /** ownerReference to the Node (Kubernetes GC removes the request with the Node). */
  readonly owner: OwnerReference;
  /** Overall deadline (default {@link DEFAULT_ALLOC_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Bound on each single API call (default 3 s). */
  readonly callTimeoutMs?: number;
  /** Request name (default Coil's {@link blockRequestName}); static requests use their own. */
  readonly name?: string;
  /** Annotations of the request (beyond Coil: a static request's block index). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The deterministic request name Coil uses. */
export const blockRequestName = (pool: string, node: string): string => `req-${pool}-${node}`;

/** Coil's `GetResult`: Failed=True wins, then Complete=True; undefined while in progress. */
export function requestResult(r: BlockRequestObject): Exclude<BlockRequestOutcome, { kind: "timeout" | "api" }> | undefined {
  const conds = r.status?.conditions ?? [];
  const failed = conds.find((c) => c.type === "Failed" && c.status === "True");
  if (failed !== undefined) return { kind: "failed", reason: failed.reason ?? "", message: failed.message ?? "" };
  if (conds.some((c) => c.type === "Complete" && c.status === "True")) {
    return { kind: "allocated", blockName: r.status?.addressBlockName ?? "" };
  }
  return undefined;
}

/** Resolve `p`, or `onTimeout` after `ms`. */
export function within<T>(p: PromiseLike<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((r) => (timer = setTimeout(() => r(onTimeout), ms)));
  return Promise.race([Promise.resolve(p), t]).finally(() => clearTimeout(timer));
}

/** One API call bounded by `ms`: a `network` error when no answer came in time (the call is abandoned). */
export function boundedCall<T>(p: PromiseLike<Result<T, K8sError>>, ms: number): Promise<Result<T, K8sError>> {
  return within(p, ms, err({ kind: "network", status: 0, message: `no answer from the API server within ${ms} ms` }));
}

/** Watches one BlockRequest by name; remembers the newest object per UID. */
class RequestWatch {
  readonly seen = new Map<string, BlockRequestObject>();
  ended = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;

  constructor(kc: KubeConfig, path: string, name: string) {
    const onEvent = (type: string, obj: unknown): void => {
      const o = obj as BlockRequestObject;
      if ((type === "ADDED" || type === "MODIFIED") && o.metadata?.uid !== undefined) this.seen.set(o.metadata.uid, o);
      this.#wake?.();
    };
    const done = (): void => {
      this.ended = true;
      this.#wake?.();
    };
    new Watch(kc).watch(path, { fieldSelector: `metadata.name=${name}` }, onEvent, done).then(
      (ac) => {
        this.#abort = ac;
        if (this.ended) ac.abort();
      },
      done,
    );
  }

  /** Resolves on the next event (or end), or after `ms`. */
  next(ms: number): Promise<void> {
    return within(new Promise<void>((r) => (this.#wake = r)), ms, undefined);
  }

  close(): void {
    this.ended = true;
    this.#abort?.abort();
  }
}

/** Run the BlockRequest flow for (pool, node). Never throws. */
export async function requestBlock(o: RequestBlockOptions): Promise<BlockRequestOutcome> {
  const name = o.name ?? blockRequestName(o.pool, o.node);
  const deadline = Date.now() + (o.timeoutMs ?? DEFAULT_ALLOC_TIMEOUT_MS);
  const callMs = (): number => Math.max(1, Math.min(o.callTimeoutMs ?? 3000, deadline - Date.now()));
  const call = <T>(p: PromiseLike<Result<T, K8sError>>): Promise<Result<T, K8sError>> => boundedCall(p, callMs());
  const watch = new RequestWatch(o.kc, o.coil.requests.path, name);
  try {
    const del = await call(o.coil.requests.delete(name));
    if (del.isErr() && del.error.kind !== "not-found") return { kind: "api", step: `delete BlockRequest ${name}`, error: del.error };
    const created = await call(
      o.coil.requests.create({
        metadata: { name, ownerReferences: [o.owner], ...(o.annotations === undefined ? {} : { annotations: o.annotations }) },
        spec: { nodeName: o.node, poolName: o.pool },
      }),
    );
    let uid: string | undefined;
    if (created.isOk()) uid = created.value.metadata.uid;
    else if (created.error.kind !== "already-exists") return { kind: "api", step: `create BlockRequest ${name}`, error: created.error };
    // AlreadyExists: another coild of the same node name raced us; follow whatever request exists.
    for (;;) {
      const obj = uid === undefined ? [...watch.seen.values()].pop() : watch.seen.get(uid);
      const r = obj === undefined ? undefined : requestResult(obj);
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) return { kind: "timeout" };
      if (!watch.ended) {
        await watch.next(left);
        continue;
      }
      // No watch: poll.
      const got = await call(o.coil.requests.get(name));
      if (got.isOk() && got.value.metadata.uid !== undefined) {
        uid ??= got.value.metadata.uid;
        watch.seen.set(got.value.metadata.uid, got.value);
      }
      if (got.isOk() && requestResult(got.value) !== undefined) continue;
      await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
    }
  } finally {
    watch.close();
  }
}
