/**
 * coil-router's startup and wiring (Coil §5.2): an AddressBlock informer whose every event
 * notifies the coalescing {@link SyncLoop}, a Node informer (reduced to names and InternalIPs) whose
 * changes of routing relevance notify it too, a ticker every `--update-interval`, the sync itself
 * ({@link syncRouterRoutes}, run once both caches hold their first LIST), metrics and health
 * endpoints. No leader election (one per node).
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { err, ok, type Result } from "neverthrow";
import { HOST_NETNS, type NetnsRef } from "../../lib/changeset/index.js";
import { Informer, NODES_PATH, coilClient, makeClients, type AddressBlockObject, type KubeClients, type Logger } from "../k8s/index.js";
import { realKernel, type Kernel } from "../kernel/index.js";
import { serveHealth, serveMetrics, type ListenError } from "../common/http.js";
import { named } from "../common/log.js";
import type { RouterFlags } from "./flags.js";
import { createRouterMetrics, type RouterMetrics } from "./metrics.js";
import { REAL_CLOCK, SyncLoop, type RouterClock, type SyncOutcome } from "./sync-loop.js";
import { listRouterNodeObjects, perObject, routerBlock, routerNode, routerNodeObject, sameRouterNode, syncRouterRoutes, type RouterNodeObject, type RouterSyncReport } from "./sync.js";

/** Injected dependencies. */
export interface RouterDeps {
  /** Loaded kubeconfig (clients are made from it unless `clients` is given). */
  readonly kc: KubeConfig;
  /** API clients (default: `makeClients(kc)`; destroyed on close only when made here). */
  readonly clients?: KubeClients;
  /** Logger. */
  readonly log: Logger;
  /** Kernel port (default `realKernel()`). */
  readonly kernel?: Kernel;
  /** Namespace whose main table is managed (default: the process's own, i.e. the host's). */
  readonly netns?: NetnsRef;
  /** Timers (default real). */
  readonly clock?: RouterClock;
  /** Export prom-client's process metrics (default true). */
  readonly processMetrics?: boolean;
  /** Called after every successful sync (tests). */
  readonly onSynced?: (r: RouterSyncReport) => void;
}

/** A running router. */
export interface RunningRouter {
  /** Bound metrics port, if serving. */
  readonly metricsPort: number | undefined;
  /** Bound health port, if serving. */
  readonly healthPort: number | undefined;
  /** Metrics (tests read the registry directly). */
  readonly metrics: RouterMetrics;
  /** Request a sync now (as a ticker tick would). */
  notify(): void;
  /** Stop syncing, watching and serving. Routes stay (as in Coil). */
  close(): Promise<void>;
}

/** Start the router. Fails only when a listener cannot start. */
export async function runRouter(flags: RouterFlags, deps: RouterDeps): Promise<Result<RunningRouter, ListenError>> {
  const { log } = deps;
  const metrics = createRouterMetrics({ node: flags.nodeName, processMetrics: deps.processMetrics ?? true });
  const clients = deps.clients ?? makeClients(deps.kc, { onRequest: metrics.runtime.request });
  const ownClients = deps.clients === undefined;
  const coil = coilClient(clients.custom);
  const kernel = deps.kernel ?? realKernel();
  const onRequest = clients.onRequest;
  const blocks = new Informer<AddressBlockObject>({ name: "addressblocks", kc: clients.kc, path: coil.blocks.path, list: () => coil.blocks.list(), log, onRequest });
  const nodes = new Informer<RouterNodeObject>({ name: "nodes", kc: clients.kc, path: NODES_PATH, list: () => listRouterNodeObjects(clients.core), transform: routerNodeObject, log, onRequest });
  // Converted once per cached object (the caches replace an object when it changes).
  const toNode = perObject((n: RouterNodeObject) => routerNode(n, log));
  const toBlock = perObject(routerBlock);
  const closing = new AbortController();
  const syncLog = named(log, "route-syncer"); // Coil's logger name
  const bothSynced = Promise.all([blocks.waitSynced(), nodes.waitSynced()]);
  const sync = async (): Promise<SyncOutcome> => {
    // The first sync waits for both caches: planning with an empty cache would delete every route.
    const ready = await Promise.race([bothSynced.then(() => true), new Promise<false>((r) => closing.signal.addEventListener("abort", () => r(false), { once: true }))]);
    if (!ready) return { kind: "done" };
    const r = await syncRouterRoutes({
      self: flags.nodeName,
      protocol: flags.protocolId,
      nodes: () => nodes.items().map(toNode),
      blocks: () => blocks.items().flatMap((b) => toBlock(b) ?? []),
      kernel,
      netns: deps.netns ?? HOST_NETNS,
      log: syncLog,
    });
    if (r.isErr()) {
      log.error("sync failed", { error: r.error });
      // A plan the planner refuses (an invalid protocol number) is refused again on every retry.
      return { kind: r.error.kind === "plan-failed" ? "terminal" : "retry", error: r.error };
    }
    metrics.synced(r.value.desired);
    log.debug("synced routes", { ...r.value });
    deps.onSynced?.(r.value);
    return { kind: "done" };
  };
  const loop = new SyncLoop({ sync, intervalMs: flags.updateIntervalMs, clock: deps.clock ?? REAL_CLOCK, log });
  blocks.on(() => loop.notify());
  // Coil reads Nodes uncached at each sync; from a cache, a Node that appears, goes or changes its
  // InternalIPs must trigger a sync itself (status heartbeats do not).
  nodes.on((e) => {
    if (e.type !== "update" || !sameRouterNode(e.old, e.object)) loop.notify();
  });

  const servedMetrics = flags.metricsAddr === undefined ? ok(undefined) : await serveMetrics(flags.metricsAddr, metrics.registry);
  if (servedMetrics.isErr()) {
    if (ownClients) clients.destroy();
    return err(servedMetrics.error);
  }
  const metricsServer = servedMetrics.value;
  const servedHealth = flags.healthAddr === undefined ? ok(undefined) : await serveHealth(flags.healthAddr, [{ name: "ping", check: () => true }]);
  if (servedHealth.isErr()) {
    await metricsServer?.close();
    if (ownClients) clients.destroy();
    return err(servedHealth.error);
  }
  const healthServer = servedHealth.value;
  blocks.start();
  nodes.start();
  loop.start();
  log.info("started", { node: flags.nodeName, protocol: flags.protocolId, updateIntervalMs: flags.updateIntervalMs });

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing.abort();
    await Promise.all([blocks.stop(), nodes.stop()]);
    await loop.stop();
    await Promise.all([metricsServer?.close(), healthServer?.close()]);
    if (ownClients) clients.destroy();
    log.info("stopped");
  };
  return ok({
    metricsPort: metricsServer?.port,
    healthPort: healthServer?.port,
    metrics,
    notify: () => loop.notify(),
    close: () => (closed ??= close()),
  });
}
