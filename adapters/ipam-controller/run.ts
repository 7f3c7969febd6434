/**
 * coil-ipam-controller's startup and wiring: API clients, informers (AddressPools,
 * AddressBlocks, BlockRequests, Node metadata), the PoolManager, the AddressPool and BlockRequest
 * reconcilers and the orphan-block GC (leader only), metrics and health endpoints, Lease leader
 * election, and — when provided — the admission webhook server (all replicas).
 *
 * All API traffic goes through the small REST client of adapters/k8s/rest.ts, not client-node
 * (the bundle then leaves client-node out: ~20 MiB less RSS, bench/RESULTS-ipam-controller.md).
 * Nothing here may import client-node at run time (`import type` only); test/package/bins.test.ts
 * checks the bundle.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import {
  Informer,
  NODES_PATH,
  WorkQueue,
  backoffDelay,
  coilClient,
  sleep,
  listNodeMetas,
  startControllerLifecycle,
  type ControllerExit,
  nodeMeta,
  type AddressBlockObject,
  type AddressPoolObject,
  type BlockRequestObject,
  type KubeObject,
  type Logger,
  type ObjectMetadata,
  type NodeMeta,
} from "../k8s/index.js";
import { connectionFromKubeConfig, type ApiConnection } from "../k8s/rest.js";
import { METADATA_WATCH_ACCEPT, makeRestClients, type RestClients } from "../k8s/rest-apis.js";
import { BlockRequestReconciler, wantsRequestEvent } from "./block-request-reconciler.js";
import type { IpamControllerFlags } from "./flags.js";
import { collectOrphanBlocks } from "./gc.js";
import { serveHealth, serveMetrics, type Listening, type ListenError, type ReadyCheck } from "../common/http.js";
import { named } from "../common/log.js";
import { createControllerMetrics, type ControllerMetrics } from "./metrics.js";
import { PoolManager } from "./pool-manager.js";
import { PoolReconciler, owningPool } from "./pool-reconciler.js";

import type { StartWebhook, WebhookHandle } from "../k8s/webhook-server.js";
export type { StartWebhook, WebhookHandle } from "../k8s/webhook-server.js";

/** Injected dependencies. */
export interface IpamControllerDeps {
  /** The API server: from adapters/k8s/kubeconfig.ts' `loadApiConnection`, or a client-node `KubeConfig` (tests). */
  readonly kc: ApiConnection | KubeConfig;
  /** Logger. */
  readonly log: Logger;
  /** Leader-election identity (unique per process). */
  readonly identity: string;
  /** Webhook server starter; omitted = no webhook (readiness then only `ping`). */
  readonly startWebhook?: StartWebhook;
  /** Clock. */
  readonly now?: () => Date;
  /** Export prom-client's process metrics (default true). */
  readonly processMetrics?: boolean;
  /** Deadline of each API request (ms); default adapters/k8s/rest.ts' `DEFAULT_REQUEST_TIMEOUT_MS` (60 s). */
  readonly requestTimeoutMs?: number;
}

/** Why the controller stopped (defined with the shared lifecycle in adapters/k8s). */
export type { ControllerExit };

/** A running controller. */
export interface RunningController {
  /** Bound metrics port, if serving. */
  readonly metricsPort: number | undefined;
  /** Bound health port, if serving. */
  readonly healthPort: number | undefined;
  /** Metrics (tests read them directly). */
  readonly metrics: ControllerMetrics;
  /** Pool state. */
  readonly pools: PoolManager;
  /** Resolves when the controller stopped by itself (`leader-lost`) or after {@link close}. */
  readonly done: Promise<ControllerExit>;
  /** Whether this replica leads now. */
  isLeader(): boolean;
  /** Stop everything; releases the lease unless `release: false` (simulating a crash). */
  close(opts?: { readonly release?: boolean }): Promise<void>;
}

interface Informers {
  readonly pools: Informer<AddressPoolObject>;
  readonly blocks: Informer<AddressBlockObject>;
  readonly requests: Informer<BlockRequestObject>;
  readonly nodes: Informer<NodeMeta>;
}

/**
 * What the caches keep of an object: all of it but `metadata.managedFields`, which nothing here
 * reads (a status PUT without them leaves the server's as they are). Roughly half of a small
 * object's JSON, so about halves the caches of AddressBlocks and BlockRequests.
 */
export function withoutManagedFields<T extends KubeObject>(o: T): T {
  const md = o.metadata as ObjectMetadata & { readonly managedFields?: unknown };
  if (md.managedFields === undefined) return o;
  const { managedFields: _dropped, ...metadata } = md;
  return { ...o, metadata };
}

/**
 * What the AddressBlock cache keeps: the metadata the controller reads of a cached block — name,
 * labels (request, node, pool), finalizers and resourceVersion (the GC's finalizer removal), owner
 * references (the pool of a deleted block), deletion time — and the index. Addresses, uid and
 * timestamps go (about a third of a block's JSON once managedFields are gone).
 */
export function blockForCache(b: AddressBlockObject): AddressBlockObject {
  const m = b.metadata;
  const metadata: ObjectMetadata = {
    name: m.name,
    ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    ...(m.labels === undefined ? {} : { labels: m.labels }),
    ...(m.finalizers === undefined ? {} : { finalizers: m.finalizers }),
    ...(m.ownerReferences === undefined ? {} : { ownerReferences: m.ownerReferences }),
    ...(m.deletionTimestamp === undefined ? {} : { deletionTimestamp: m.deletionTimestamp }),
  };
  return { ...(b.apiVersion === undefined ? {} : { apiVersion: b.apiVersion }), ...(b.kind === undefined ? {} : { kind: b.kind }), metadata, index: b.index };
}

function makeInformers(clients: RestClients, log: Logger): Informers {
  const coil = coilClient(clients.custom);
  const kc = clients.rest;
  const transform = withoutManagedFields;
  const onRequest = clients.onRequest;
  return {
    pools: new Informer({ name: "addresspools", kc, path: coil.pools.path, list: () => coil.pools.list(), transform, log, onRequest }),
    blocks: new Informer({ name: "addressblocks", kc, path: coil.blocks.path, list: () => coil.blocks.list(), transform: blockForCache, log, onRequest }),
    requests: new Informer({ name: "blockrequests", kc, path: coil.requests.path, list: () => coil.requests.list(), transform, log, onRequest }),
    // Only the names of Nodes are used: list and watch their metadata (clients.core lists metadata only).
    nodes: new Informer<NodeMeta>({ name: "nodes", kc, path: NODES_PATH, accept: METADATA_WATCH_ACCEPT, list: () => listNodeMetas(clients.core), transform: nodeMeta, log, onRequest }),
  };
}

/**
 * The informers as one typed list (`Object.values` of an interface is `any[]`, which would hide
 * these calls from type checking and from test/adapters/manifests/api-usage.ts).
 */
function allInformers(inf: Informers): ReadonlyArray<Informers[keyof Informers]> {
  return [inf.pools, inf.blocks, inf.requests, inf.nodes];
}

/** The leader-only part: queues, reconcilers, GC timer. */
class Leadership {
  readonly requestQueue: WorkQueue;
  readonly poolQueue: WorkQueue;
  readonly gcQueue: WorkQueue;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly inf: Informers,
    readonly reqs: BlockRequestReconciler,
    readonly poolRec: PoolReconciler,
    gc: () => Promise<Result<string[], unknown>>,
    o: { readonly concurrency: number; readonly gcIntervalMs: number; readonly log: Logger; readonly metrics: ControllerMetrics },
  ) {
    // Coil's controller names (controller-runtime names a controller after the kind it is For).
    this.requestQueue = new WorkQueue({
      name: "blockrequest",
      concurrency: o.concurrency,
      reconcile: (k) => reqs.reconcile(k),
      log: o.log,
      metrics: o.metrics.runtime.queue("blockrequest", { concurrency: o.concurrency }),
    });
    this.poolQueue = new WorkQueue({ name: "addresspool", concurrency: 1, reconcile: (k) => poolRec.reconcile(k), log: o.log, metrics: o.metrics.runtime.queue("addresspool") });
    this.gcQueue = new WorkQueue({
      name: "garbage-collector",
      reconcile: async () => {
        const r = await gc();
        return r.isOk() ? { kind: "done" } : { kind: "retry", error: r.error };
      },
      backoff: { initialMs: 1000, maxMs: 60_000 },
      log: o.log,
    });
    for (const p of inf.pools.items()) this.poolQueue.add(p.metadata.name);
    for (const r of inf.requests.items()) this.requestQueue.add(r.metadata.name);
    this.gcQueue.add("gc");
    this.#timer = setInterval(() => this.gcQueue.add("gc"), o.gcIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([this.requestQueue.stop(), this.poolQueue.stop(), this.gcQueue.stop()]);
  }
}

/** Route informer events into the leader's queues (dropped while not leading). */
function wireEvents(inf: Informers, lead: () => Leadership | undefined, reqs: BlockRequestReconciler): void {
  inf.requests.on((e) => {
    if (e.type === "delete") reqs.forget(e.object.metadata.uid ?? "");
    if (wantsRequestEvent(e.type, e.object)) lead()?.requestQueue.add(e.object.metadata.name);
  });
  inf.pools.on((e) => lead()?.poolQueue.add(e.object.metadata.name));
  inf.blocks.on((e) => {
    if (e.type !== "delete") {
      reqs.noteBlock(e.object);
      return;
    }
    reqs.forgetBlock(e.object);
    const pool = owningPool(e.object);
    if (pool !== undefined) lead()?.poolQueue.add(pool);
  });
  inf.nodes.on((e) => {
    if (e.type === "delete") lead()?.gcQueue.add("gc");
  });
}

/** Why the controller did not start: an endpoint could not listen, or the webhook server failed. */
export type ControllerStartError = ListenError | { readonly kind: "webhook-failed"; readonly message: string };

type Servers = { metrics: Listening | undefined; health: Listening | undefined };

async function startServers(flags: IpamControllerFlags, metrics: ControllerMetrics, checks: readonly ReadyCheck[]): Promise<Result<Servers, ListenError>> {
  const m = flags.metricsAddr === undefined ? ok(undefined) : await serveMetrics(flags.metricsAddr, metrics.registry);
  if (m.isErr()) return err(m.error);
  const h = flags.healthAddr === undefined ? ok(undefined) : await serveHealth(flags.healthAddr, checks);
  if (h.isErr()) {
    await m.value?.close();
    return err(h.error);
  }
  return ok({ metrics: m.value, health: h.value });
}

/** Start the webhook server; its certificate code throws, so this is where that becomes a value. */
async function startWebhook(start: StartWebhook | undefined, o: Parameters<StartWebhook>[0]): Promise<Result<WebhookHandle | undefined, ControllerStartError>> {
  if (start === undefined) return ok(undefined);
  try {
    return ok(await start(o));
  } catch (e) {
    return err({ kind: "webhook-failed", message: `cannot start the webhook server: ${e instanceof Error ? e.message : JSON.stringify(e)}` });
  }
}

/** Start the controller. Fails only when a listener or the webhook cannot start. */
export async function runIpamController(flags: IpamControllerFlags, deps: IpamControllerDeps): Promise<Result<RunningController, ControllerStartError>> {
  const { log } = deps;
  const metrics = createControllerMetrics({ processMetrics: deps.processMetrics ?? true });
  const conn = "getCurrentCluster" in deps.kc ? connectionFromKubeConfig(deps.kc) : deps.kc;
  // A socket per BlockRequest worker beside the four watches (AddressPools, AddressBlocks,
  // BlockRequests, Nodes), the pool reconciler, the GC and the webhook's CA injection (leader
  // election has its own client): with the agent's default 16, four of 16 workers would wait for a
  // socket at every burst.
  const maxSockets = flags.concurrency + 8;
  const clients = makeRestClients(conn, { maxSockets, onRequest: metrics.runtime.request, nodeMetadataOnly: true, ...(deps.requestTimeoutMs === undefined ? {} : { timeoutMs: deps.requestTimeoutMs }) });
  const coil = coilClient(clients.custom);
  const inf = makeInformers(clients, log);
  // Leadership's signal (aborted the moment the Lease is lost): the BlockRequest path checks it before
  // each write, so workers still waiting on the pool lock or the API server write nothing after it
  // (controller-runtime exits the process instead).
  let leadSignal: AbortSignal | undefined;
  const mayWrite = (): boolean => leadSignal?.aborted === false;
  // Coil's logger names: pool-manager, gc.
  const pools = new PoolManager({ coil, cachedPool: (n) => inf.pools.get(n), metrics, log: named(log, "pool-manager"), mayWrite });
  const reqs = new BlockRequestReconciler({ coil, pools, cachedRequest: (n) => inf.requests.get(n), now: deps.now ?? (() => new Date()), log, mayWrite });
  const poolRec = new PoolReconciler({ coil, pools, cachedPool: (n) => inf.pools.get(n), log });
  const gc = () => collectOrphanBlocks({ coil, core: clients.core, blocks: () => inf.blocks.items(), log: named(log, "gc") });
  let leadership: Leadership | undefined;
  wireEvents(inf, () => leadership, reqs);

  const started = await startWebhook(deps.startWebhook, { ...flags, addr: flags.webhookAddr, clients, log });
  if (started.isErr()) {
    clients.destroy();
    return err(started.error);
  }
  const webhook = started.value;
  const checks: ReadyCheck[] = [{ name: "ping", check: () => true }];
  if (webhook !== undefined) checks.push({ name: "webhook", check: () => webhook.ready() });
  const listening = await startServers(flags, metrics, checks);
  if (listening.isErr()) {
    await webhook?.close();
    clients.destroy();
    return err(listening.error);
  }
  const servers = listening.value;

  for (const i of allInformers(inf)) i.start();
  await Promise.all(allInformers(inf).map((i) => i.waitSynced()));
  log.info("caches synced", { identity: deps.identity });

  const startLeading = async (signal: AbortSignal): Promise<void> => {
    leadSignal = signal;
    // See every block a previous leader created, even if our watch lags behind its last writes.
    for (let attempt = 0; !signal.aborted; attempt++) {
      const listed = await coil.blocks.list();
      if (listed.isOk()) {
        for (const b of listed.value.items) reqs.noteBlock(b);
        break;
      }
      log.warn("listing blocks at leadership start failed", { error: listed.error });
      await sleep(backoffDelay(attempt), signal);
    }
    if (signal.aborted) return;
    log.info("starting controllers", { identity: deps.identity });
    leadership = new Leadership(inf, reqs, poolRec, gc, { concurrency: flags.concurrency, gcIntervalMs: flags.gcIntervalMs, log, metrics });
  };
  const stopLeading = async (): Promise<void> => {
    const l = leadership;
    leadership = undefined;
    await l?.stop();
  };
  const { done, shutdown } = startControllerLifecycle({
    election: flags,
    clients,
    identity: deps.identity,
    log,
    startLeading,
    stopLeading,
    onLeading: metrics.runtime.leader,
    closers: [...allInformers(inf).map((i) => () => i.stop()), () => servers.metrics?.close(), () => servers.health?.close(), () => webhook?.close()],
  });

  return ok({
    metricsPort: servers.metrics?.port,
    healthPort: servers.health?.port,
    metrics,
    pools,
    done,
    isLeader: () => leadership !== undefined,
    close: async (opts = {}) => {
      await shutdown("stopped", opts.release !== false);
      await done;
    },
  });
}
