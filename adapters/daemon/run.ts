/**
 * coild's startup sequence (Coil §1.3 `subMain`, local store edition), with every dependency
 * injected: store → host init (sysctls, `lookup 116 pref 2000` rules) → MTU → recovery from kernel
 * state + GC → CNI socket → periodic GC. Metrics and health endpoints come up first; `/readyz`
 * turns 200 when the socket serves.
 */
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { err, ok, type Result } from "neverthrow";
import { diffSysctls, HOST_NETNS, step } from "../../lib/changeset/index.js";
import type { Family, Ip } from "../../lib/net/index.js";
import { forwardingSysctl, planHostInit } from "../../lib/plan/index.js";
import type { Kernel } from "../kernel/kernel.js";
import type { CoildFlags, ListenAddr } from "./flags.js";
import { cniOperations, poolForNamespace } from "./node/cni.js";
import { AttachmentLocks, cniDeps } from "./node/cni-deps.js";
import { egressOnlyOperations } from "./node/egress-only.js";
import { wireHandlers } from "./endpoint/cni-calls.js";
import { HostLinkIndex } from "./node/host-links.js";
import type { Logger } from "./log.js";
import { named } from "../common/log.js";
import { createDaemonMetrics, type DaemonMetrics } from "./metrics.js";
import { familyUnavailable, NodeState, type FamilyUnavailable, type NodeFamilies } from "./node/state.js";
import { formatPoolsFileError, parseNamespacePools, readPoolsFile, type PoolsFileError } from "./store/pools-file.js";
import { formatRecoveryError, recoverNodeState, type RecoveryError } from "./node/recovery.js";
import { prepareSocketPath, serveCni, type RunningServer, type ServeError } from "./endpoint/server.js";
import { ALLOCATIONS_PATH, serveAllocations, type AllocationsSource } from "./endpoint/allocations.js";
import { LocalBlockStore } from "./store/local.js";
import type { KubernetesSetupError } from "./store/kubernetes-cluster.js";
import type { EgressHook } from "./egress/hook.js";
import { staticAddressOf, type PodRead } from "./node/static-address.js";
import { lockNetns, lockStateDir, type HeldLock, type LockHolder, type NodeLockError } from "./node-lock.js";
import type { ListenError } from "../common/http.js";
import { poolFamilies, type BlockStore, type StoreError } from "../../lib/ipam/index.js";
import { DEFAULT_POOL } from "../../lib/constants.js";

/** Everything coild touches outside itself. */
export interface CoildDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly hostname: () => string;
  readonly kernel: Kernel;
  readonly log: Logger;
  readonly randomHex: () => string;
  /** Node addresses when no `--node-ipv4/6` flag is given. */
  readonly detectNodeIps: () => Promise<{ ipv4?: Ip; ipv6?: Ip }>;
  /** The pod veth MTU (undefined: kernel default). */
  readonly detectMtu: () => Promise<number | undefined>;
  /**
   * The abstract UNIX socket name that makes coild unique in its network namespace
   * (`NETNS_LOCK_NAME` of `node-lock.ts` in production; tests running several coilds in one
   * process give each its own).
   */
  readonly netnsLockName: string;
}

/** A running coild, in either mode. */
export interface CoildHandle {
  readonly metrics: DaemonMetrics;
  /** Bound ports (useful with port 0). */
  readonly metricsPort: number | undefined;
  readonly healthPort: number | undefined;
  /** Graceful stop: socket closed (in-flight calls finish), timers and HTTP servers stopped. */
  close(): Promise<void>;
}

/** A running coild in IPAM mode. */
export interface RunningCoild extends CoildHandle {
  readonly node: NodeState;
}

/** Why coild could not start; {@link formatCoildStartError} says it to the operator. */
export type CoildStartError =
  | { readonly kind: "ipam-disabled" }
  | { readonly kind: "egress-only-needs-kubernetes" }
  | { readonly kind: "clear-routes-needs-kubernetes" }
  | { readonly kind: "node-locked"; readonly cause: NodeLockError }
  | ListenError
  | { readonly kind: "socket-unavailable"; readonly cause: ServeError }
  | { readonly kind: "pools-flag-missing" }
  | { readonly kind: "pools-file-invalid"; readonly cause: PoolsFileError }
  | { readonly kind: "namespace-pools-unreadable"; readonly path: string; readonly message: string }
  | { readonly kind: "state-dir-unusable"; readonly dir: string; readonly cause: StoreError }
  | { readonly kind: "kubernetes-unavailable"; readonly cause: KubernetesSetupError }
  | { readonly kind: "no-node-address" }
  | { readonly kind: "pool-unservable"; readonly cause: FamilyUnavailable }
  | { readonly kind: "recovery-failed"; readonly cause: RecoveryError };

/** The operator's message for a start-up failure. */
export function formatCoildStartError(e: CoildStartError): string {
  switch (e.kind) {
    case "ipam-disabled":
      return "--enable-ipam=false is egress-only mode: start it with runEgressOnlyCoild (startCoild picks the mode)";
    case "egress-only-needs-kubernetes":
      return "egress-only mode (--enable-ipam=false) needs --store=kubernetes: it reads the Pod of every ADD (its UID, its Egress annotations) from the API server";
    case "clear-routes-needs-kubernetes":
      return "--clear-routes-on-shutdown needs --store=kubernetes: it clears the export table when the Node object is gone, and the local store has no Node object";
    case "node-locked":
      return e.cause.message;
    case "listen-failed":
      return e.message;
    case "socket-unavailable":
      return `socket: ${e.cause.message}`;
    case "pools-flag-missing":
      return "--store=local needs --pools=FILE (AddressPool objects, YAML stream or JSON array)";
    case "pools-file-invalid":
      return formatPoolsFileError(e.cause);
    case "namespace-pools-unreadable":
      return `--namespace-pools: ${e.message}`;
    case "state-dir-unusable":
      return `state dir ${e.dir}: ${e.cause.message}`;
    case "kubernetes-unavailable":
      return e.cause.message;
    case "no-node-address":
      return "no node address: pass --node-ipv4/--node-ipv6 (none was detected)";
    case "pool-unservable": {
      const hint = e.cause.missing.map((f) => `--node-ipv${f}, or an IPv${f} InternalIP of the Node with --store=kubernetes`).join("; ");
      return `${e.cause.message}: pods of this pool could not be set up on this node (give the node an address: ${hint}; or change the pool)`;
    }
    case "recovery-failed":
      return `recovery: ${formatRecoveryError(e.cause)}`;
  }
}

async function listenHttp(addr: ListenAddr | undefined, endpoint: ListenError["endpoint"], handler: Parameters<typeof createServer>[1]): Promise<Result<Server | undefined, ListenError>> {
  if (addr === undefined) return ok(undefined);
  const srv = createServer(handler);
  const e = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    srv.once("error", resolve);
    srv.listen(addr.port, addr.host === "" ? undefined : addr.host, () => resolve(undefined));
  });
  if (e === undefined) return ok(srv);
  return err({ kind: "listen-failed", endpoint, addr, code: e.code, message: `cannot serve ${endpoint} on ${addr.host === "" ? "*" : addr.host}:${addr.port}: ${e.message}` });
}

const portOf = (s: Server | undefined): number | undefined => {
  const a = s?.address();
  return typeof a === "object" && a !== null ? a.port : undefined;
};

/** The opened block store, how pods map to pools, node addresses it knows, and how to close it. */
interface OpenedStore {
  readonly store: BlockStore;
  readonly poolFor: (namespace: string | undefined) => string;
  readonly nodeIps?: { readonly ipv4?: Ip; readonly ipv6?: Ip };
  /** The families of a pool's subnets (undefined: no such pool). */
  readonly poolFamilies: NodeFamilies["ofPool"];
  /** Pools checked at start-up against the node's families (the default one, and any `--namespace-pools` names). */
  readonly startupPools: readonly string[];
  /** Whether the own Node object exists (Kubernetes store only). */
  readonly nodeExists?: (timeoutMs: number) => Promise<Result<boolean, { readonly message: string }>>;
  /** The NAT hook of ADD (`--enable-egress`, Kubernetes store only). */
  readonly egress?: EgressHook;
  /** Beyond Coil: how ADD reads a Pod (Kubernetes store only), for static addresses. */
  readonly readPod?: PodRead;
  readonly close?: () => Promise<void>;
}

async function openStore(flags: CoildFlags, deps: CoildDeps, nodeName: string, metrics: DaemonMetrics): Promise<Result<OpenedStore, CoildStartError>> {
  if (flags.store === "kubernetes") {
    const kubeconfig = flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig };
    // Loaded only for this store: @kubernetes/client-node costs a --store=local coild ~25 MB of RSS.
    const { openKubernetesStore } = await import("./store/kubernetes-cluster.js");
    const k = await openKubernetesStore({ ...kubeconfig, env: deps.env, node: nodeName, log: named(deps.log, "node-ipam"), onRequest: metrics.runtime.request });
    if (k.isErr() || !flags.enableEgress) return k.map((o) => ({ ...o, startupPools: [DEFAULT_POOL] })).mapErr((cause) => ({ kind: "kubernetes-unavailable", cause }));
    const { startEgress } = await import("./egress/setup.js");
    const settings = { kernel: deps.kernel, port: flags.egressPort, tunnel: flags.tunnel, backend: flags.backend, originatingOnly: flags.enableOriginatingOnly };
    const eg = startEgress({ clients: k.value.clients, settings, nodeName, podTable: flags.podTableId, log: named(deps.log, "egress"), readPod: k.value.readPod });
    const close = async (): Promise<void> => {
      await eg.stop();
      await k.value.close();
    };
    return ok({ ...k.value, startupPools: [DEFAULT_POOL], egress: eg.hook, close });
  }
  if (flags.enableEgress) deps.log.warn("egress needs --store=kubernetes (Egress objects and Pod annotations are read from the API server); egress is disabled");
  if (flags.pools === undefined) return err({ kind: "pools-flag-missing" });
  const pools = await readPoolsFile(flags.pools);
  if (pools.isErr()) return err({ kind: "pools-file-invalid", cause: pools.error });
  let mapping: Record<string, string> = {};
  if (flags.namespacePools !== undefined) {
    const path = flags.namespacePools;
    const text = await readFile(path, "utf8").catch((e: unknown) => e as Error);
    if (text instanceof Error) return err({ kind: "namespace-pools-unreadable", path, message: text.message });
    const m = parseNamespacePools(text, path, pools.value);
    if (m.isErr()) return err({ kind: "pools-file-invalid", cause: m.error });
    mapping = m.value;
  }
  const store = await LocalBlockStore.open({ pools: pools.value, stateDir: flags.stateDir });
  if (store.isErr()) return err({ kind: "state-dir-unusable", dir: flags.stateDir, cause: store.error });
  const specs = new Map(pools.value.map((p) => [p.name, p.spec]));
  return ok({
    store: store.value,
    poolFor: poolForNamespace(mapping),
    poolFamilies: (pool) => {
      const spec = specs.get(pool);
      return Promise.resolve(ok(spec === undefined ? undefined : poolFamilies(spec)));
    },
    startupPools: [...new Set([DEFAULT_POOL, ...Object.values(mapping)])],
  });
}

/**
 * A node that cannot serve the pools it is configured for fails loudly at start-up, before the
 * kernel is touched: every pod there would fail (Coil takes a block, fails the pod set-up and
 * returns the block, on every ADD). Pools chosen later (Namespace annotations) are checked at ADD.
 */
async function checkStartupPools(opened: OpenedStore, nodeName: string, families: readonly Family[], log: Logger): Promise<Result<void, CoildStartError>> {
  for (const pool of opened.startupPools) {
    const need = await opened.poolFamilies(pool);
    if (need.isErr()) {
      log.warn("could not read a pool's address families at start-up (checked again at ADD)", { pool, error: need.error });
      continue;
    }
    const missing = need.value === undefined ? undefined : familyUnavailable(pool, nodeName, need.value, families);
    if (missing !== undefined) return err({ kind: "pool-unservable", cause: missing });
  }
  return ok(undefined);
}

async function hostInit(flags: CoildFlags, deps: CoildDeps, families: readonly Family[]): Promise<void> {
  const observed = await deps.kernel.observe(HOST_NETNS, { sysctls: families.map(forwardingSysctl) });
  if (observed.isErr()) return deps.log.warn("host init: observe failed", { error: observed.error });
  const plan = planHostInit({ podTable: flags.podTableId, podRulePrio: flags.podRulePrio, families, observed: observed.value });
  if (plan.isErr()) return deps.log.warn("host init: plan failed", { error: plan.error });
  const r = await deps.kernel.apply(plan.value);
  if (r.isErr()) deps.log.warn("host init failed (continuing, as Coil does)", { error: r.error });
  else deps.log.info("host initialised", { ops: r.value.ops, podTable: flags.podTableId, podRulePrio: flags.podRulePrio });
}

/** Start coild in the mode its flags say: IPAM ({@link runCoild}) or egress-only ({@link runEgressOnlyCoild}). */
export async function startCoild(flags: CoildFlags, deps: CoildDeps): Promise<Result<CoildHandle, CoildStartError>> {
  return flags.enableIpam ? runCoild(flags, deps) : runEgressOnlyCoild(flags, deps);
}

/** Start coild in IPAM mode. Errors are start-up errors ({@link formatCoildStartError} for the operator). */
export async function runCoild(flags: CoildFlags, deps: CoildDeps): Promise<Result<RunningCoild, CoildStartError>> {
  if (!flags.enableIpam) return err({ kind: "ipam-disabled" });
  if (flags.clearRoutesOnShutdown && flags.store !== "kubernetes") return err({ kind: "clear-routes-needs-kubernetes" });
  const nodeName = deps.env["COIL_NODE_NAME"] ?? deps.hostname();
  // One coild per network namespace, checked before anything is touched (ports, socket, state dir, kernel).
  const holder: LockHolder = { pid: process.pid, node: nodeName, socket: flags.socket, stateDir: flags.stateDir };
  return withNetnsLock(deps, holder, () => runLocked(flags, deps, nodeName, holder));
}

/**
 * Run `start` holding the one-coild-per-network-namespace lock (taken before anything is touched:
 * ports, socket, state dir, kernel). The lock is released if `start` fails, else by the handle's `close`.
 */
async function withNetnsLock<T extends { close(): Promise<void> }>(
  deps: CoildDeps,
  holder: LockHolder,
  start: () => Promise<Result<T, CoildStartError>>,
): Promise<Result<T, CoildStartError>> {
  const netnsLock = await lockNetns(deps.netnsLockName, holder);
  if (netnsLock.isErr()) return err({ kind: "node-locked", cause: netnsLock.error });
  const running = await start();
  if (running.isErr()) await netnsLock.value.release();
  return running.map((r) => ({
    ...r,
    close: async () => {
      await r.close();
      await netnsLock.value.release();
    },
  }));
}

/** How long the shutdown waits for the Node GET of `--clear-routes-on-shutdown` (Coil: 10 s). */
const NODE_DELETED_CLEANUP_TIMEOUT_MS = 10_000;

/**
 * `--clear-routes-on-shutdown` (Coil #370): at a clean stop, if the Node object is gone, empty the
 * export table so that routing daemons withdraw the node's blocks. Any other answer (the Node
 * exists, or the API server could not say) leaves the table alone: a restarting coild must not
 * make BIRD withdraw routes of pods that keep running.
 */
async function clearRoutesIfNodeGone(node: NodeState, nodeExists: NonNullable<OpenedStore["nodeExists"]>, log: Logger): Promise<void> {
  const exists = await nodeExists(NODE_DELETED_CLEANUP_TIMEOUT_MS);
  if (exists.isErr()) return log.warn("failed to get node on shutdown, skipping route cleanup", { error: exists.error.message });
  if (exists.value) return;
  log.info("node is deleted, clearing export routes");
  const r = await node.clearExport();
  if (r.isErr()) log.error("failed to clear export routes on node deletion", { error: r.error });
}

/** What the health endpoint reports, filled in as coild starts. */
interface EndpointState {
  ready: boolean;
  /** `/allocations` (IPAM mode); absent: 503. */
  allocations?: AllocationsSource;
}

/** The metrics and health endpoints (`--metrics-addr`, `--health-addr`), up before anything else. */
async function serveEndpoints(flags: CoildFlags, metrics: DaemonMetrics, state: EndpointState): Promise<Result<{ metricsPort: number | undefined; healthPort: number | undefined; close: () => Promise<unknown> }, CoildStartError>> {
  const m = await listenHttp(flags.metricsAddr, "metrics", (req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    void metrics.registry.metrics().then((text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text));
  });
  if (m.isErr()) return err(m.error);
  const h = await listenHttp(flags.healthAddr, "health", (req, res) => {
    if (req.url === "/healthz") return void res.writeHead(200).end("ok");
    if (req.url === "/readyz") return void res.writeHead(state.ready ? 200 : 503).end(state.ready ? "ok" : "not ready");
    if (req.url?.split("?")[0] === ALLOCATIONS_PATH) return serveAllocations(req, res, state.allocations);
    res.writeHead(404).end();
  });
  const close = (): Promise<unknown> => Promise.all([m, h].map((s) => new Promise((r) => (s.isOk() && s.value ? s.value.close(r) : r(undefined)))));
  if (h.isErr()) {
    await close();
    return err(h.error);
  }
  return ok({ metricsPort: portOf(m.value), healthPort: portOf(h.value), close });
}

async function runLocked(flags: CoildFlags, deps: CoildDeps, nodeName: string, holder: LockHolder): Promise<Result<RunningCoild, CoildStartError>> {
  const state: EndpointState = { ready: false };
  const metrics = createDaemonMetrics();
  const http = await serveEndpoints(flags, metrics, state);
  if (http.isErr()) return err(http.error);
  const closeHttp = http.value.close;
  const started = await startIpam(flags, deps, nodeName, holder, metrics, () => (state.ready = true));
  if (started.isErr()) {
    await closeHttp();
    return err(started.error);
  }
  const { node, server, timer, closeStore, dirLock, nodeExists } = started.value;
  state.allocations = { node, nodeName, kernel: deps.kernel, podTable: flags.podTableId, exportTable: flags.exportTableId, now: () => new Date() };
  return ok({
    node,
    metrics,
    metricsPort: http.value.metricsPort,
    healthPort: http.value.healthPort,
    close: async () => {
      clearInterval(timer);
      state.ready = false;
      await server.close();
      await node.settled(); // empty blocks DELs left to return in the background, a periodic GC in progress
      if (flags.clearRoutesOnShutdown && nodeExists !== undefined) await clearRoutesIfNodeGone(node, nodeExists, deps.log);
      await closeStore?.();
      await dirLock?.release();
      await closeHttp();
      deps.log.info("coild stopped");
    },
  });
}

async function startIpam(
  flags: CoildFlags,
  deps: CoildDeps,
  nodeName: string,
  holder: LockHolder,
  metrics: DaemonMetrics,
  markReady: () => void,
): Promise<Result<{ node: NodeState; server: RunningServer; timer: NodeJS.Timeout; closeStore: (() => Promise<void>) | undefined; dirLock: HeldLock | undefined; nodeExists: OpenedStore["nodeExists"] }, CoildStartError>> {
  // Refuse early when another coild serves the socket: its state dir must not be recovered/GC-ed twice.
  const free = await prepareSocketPath(flags.socket);
  if (free.isErr()) return err({ kind: "socket-unavailable", cause: free.error });
  // The local store's state dir has one user, whatever network namespace it runs in.
  const dirLock = flags.store === "local" ? await lockStateDir(flags.stateDir, holder) : undefined;
  if (dirLock?.isErr() === true) return err({ kind: "node-locked", cause: dirLock.error });
  const locked = dirLock?.isOk() === true ? dirLock.value : undefined;
  const opened = await openStore(flags, deps, nodeName, metrics);
  if (opened.isErr()) {
    await locked?.release();
    return err(opened.error);
  }
  const started = await startOverStore(flags, deps, nodeName, metrics, markReady, opened.value);
  if (started.isErr()) {
    await opened.value.close?.();
    await locked?.release();
  }
  return started.map((s) => ({ ...s, closeStore: opened.value.close, dirLock: locked, nodeExists: opened.value.nodeExists }));
}

async function startOverStore(
  flags: CoildFlags,
  deps: CoildDeps,
  nodeName: string,
  metrics: DaemonMetrics,
  markReady: () => void,
  opened: OpenedStore,
): Promise<Result<{ node: NodeState; server: RunningServer; timer: NodeJS.Timeout }, CoildStartError>> {
  const fromFlags = flags.nodeIPv4 === undefined && flags.nodeIPv6 === undefined;
  const detected = fromFlags ? (opened.nodeIps ?? (await deps.detectNodeIps())) : {};
  const hostIPv4 = flags.nodeIPv4 ?? detected.ipv4;
  const hostIPv6 = flags.nodeIPv6 ?? detected.ipv6;
  if (hostIPv4 === undefined && hostIPv6 === undefined) return err({ kind: "no-node-address" });
  const families: Family[] = [...(hostIPv4 === undefined ? [] : [4 as const]), ...(hostIPv6 === undefined ? [] : [6 as const])];
  const servable = await checkStartupPools(opened, nodeName, families, deps.log);
  if (servable.isErr()) return err(servable.error);
  await hostInit(flags, deps, families);
  const mtu = await deps.detectMtu();
  deps.log.info("starting coild", { node: nodeName, hostIPv4, hostIPv6, mtu, store: flags.store, stateDir: flags.stateDir });
  const node = new NodeState({
    node: nodeName,
    store: opened.store,
    kernel: deps.kernel,
    // Coil's logger names: node-ipam (blocks, routes), pod-network (set-up, tear-down), grpc (the CNI server).
    log: named(deps.log, "node-ipam"),
    metrics,
    exportTable: flags.exportTableId,
    protocol: flags.protocolId,
    families: { have: families, ofPool: opened.poolFamilies },
  });
  const hostLinks = new HostLinkIndex();
  const rec = await recoverNodeState({
    node,
    kernel: deps.kernel,
    log: deps.log,
    podTable: flags.podTableId,
    hostLinks,
    ...(flags.registerFromMain ? { registerFromMain: { protocol: flags.protocolId } } : {}),
  });
  if (rec.isErr()) return err({ kind: "recovery-failed", cause: rec.error });
  deps.log.info("recovered node state", { ...rec.value });
  const ops = cniOperations(cniDeps({
    node,
    kernel: deps.kernel,
    log: named(deps.log, "pod-network"),
    ...(hostIPv4 === undefined ? {} : { hostIPv4 }),
    ...(hostIPv6 === undefined ? {} : { hostIPv6 }),
    ...(mtu === undefined ? {} : { mtu }),
    podTable: flags.podTableId,
    protocol: flags.protocolId,
    compatCalico: flags.compatCalico,
    poolFor: opened.poolFor,
    randomHex: deps.randomHex,
    isReady: () => true,
    hostLinks,
    ...(opened.egress === undefined ? {} : { egress: opened.egress }),
    ...(opened.readPod === undefined || !flags.enableStaticIp ? {} : { staticAddress: staticAddressOf(opened.readPod) }),
  }));
  const server = await serveCni({ socketPath: flags.socket, handlers: wireHandlers(ops), log: named(deps.log, "grpc"), metrics });
  if (server.isErr()) return err({ kind: "socket-unavailable", cause: server.error });
  const timer = setInterval(() => {
    void node.gcBlocks().then((r) => deps.log.info("periodic address block GC", r.isOk() ? { released: r.value.released } : { error: r.error }));
  }, flags.addressBlockGcIntervalMs);
  timer.unref();
  markReady();
  deps.log.info("serving CNI", { socket: flags.socket });
  return ok({ node, server: server.value, timer });
}

/**
 * Start coild in egress-only mode (`--enable-ipam=false`, Coil §4.5): coil is chained after another
 * plugin that owns the pod network. Started: the metrics and health endpoints, the API clients, the
 * NAT hook and the EgressWatcher (pods found by the UID in their host link's alias), forwarding
 * sysctls (as Coil's `PodNetwork.Init`), the CNI socket. Not started, as in Coil: no block store,
 * BlockRequests, recovery, route export or block GC. Beyond that, no `lookup <pod-table> pref
 * <pod-rule-prio>` rule either (Coil adds it; its egress-only manifests aim it at table 0 or 255 to
 * neutralise it): this mode routes nothing through the pod table.
 */
export async function runEgressOnlyCoild(flags: CoildFlags, deps: CoildDeps): Promise<Result<CoildHandle, CoildStartError>> {
  if (flags.store !== "kubernetes") return err({ kind: "egress-only-needs-kubernetes" });
  if (flags.clearRoutesOnShutdown) deps.log.warn("--clear-routes-on-shutdown has no effect in egress-only mode (there is no export table)");
  const nodeName = deps.env["COIL_NODE_NAME"] ?? deps.hostname();
  const holder: LockHolder = { pid: process.pid, node: nodeName, socket: flags.socket, stateDir: flags.stateDir };
  return withNetnsLock(deps, holder, () => runEgressOnlyLocked(flags, deps, nodeName));
}

/** Coil's `PodNetwork.Init` sysctls: IPv4 and IPv6 forwarding on (a failure is logged, as Coil does). */
async function enableForwarding(deps: CoildDeps): Promise<void> {
  const keys = ([4, 6] as const).map(forwardingSysctl);
  const observed = await deps.kernel.observe(HOST_NETNS, { sysctls: keys });
  if (observed.isErr()) return deps.log.warn("host init: observe failed", { error: observed.error });
  const ops = diffSysctls(keys.map((k) => [k, "1"] as const), observed.value.sysctls);
  if (ops.length === 0) return;
  const r = await deps.kernel.apply({ steps: [step(HOST_NETNS, ops)] });
  if (r.isErr()) deps.log.warn("enabling forwarding failed (continuing, as Coil does)", { error: r.error });
}

async function runEgressOnlyLocked(flags: CoildFlags, deps: CoildDeps, nodeName: string): Promise<Result<CoildHandle, CoildStartError>> {
  const state: EndpointState = { ready: false };
  const metrics = createDaemonMetrics();
  const http = await serveEndpoints(flags, metrics, state);
  if (http.isErr()) return err(http.error);
  const free = await prepareSocketPath(flags.socket);
  if (free.isErr()) {
    await http.value.close();
    return err({ kind: "socket-unavailable", cause: free.error });
  }
  // Loaded only here and for --store=kubernetes, as in IPAM mode.
  const { formatKubeConfigError, loadKubeConfig, makeClients } = await import("../k8s/index.js");
  const kc = loadKubeConfig({ env: deps.env, ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }) });
  if (kc.isErr()) {
    await http.value.close();
    const message = `--store=kubernetes: cannot load a kubeconfig: ${formatKubeConfigError(kc.error)}`;
    return err({ kind: "kubernetes-unavailable", cause: { kind: "kubeconfig-unusable", cause: kc.error, message } });
  }
  const clients = makeClients(kc.value, { onRequest: metrics.runtime.request });
  const { startEgress } = await import("./egress/setup.js");
  const settings = { kernel: deps.kernel, port: flags.egressPort, tunnel: flags.tunnel, backend: flags.backend, originatingOnly: flags.enableOriginatingOnly };
  const eg = startEgress({ clients, settings, nodeName, podTable: flags.podTableId, log: named(deps.log, "egress"), egressOnly: true });
  const closeEgress = async (): Promise<void> => {
    await eg.stop();
    clients.destroy();
  };
  await enableForwarding(deps);
  deps.log.info("starting coild in egress-only mode", { node: nodeName, tunnel: flags.tunnel, backend: flags.backend, originatingOnly: flags.enableOriginatingOnly });
  const ops = egressOnlyOperations({ kernel: deps.kernel, log: named(deps.log, "pod-network"), egress: eg.hook, locks: new AttachmentLocks(false), isReady: () => state.ready });
  const server = await serveCni({ socketPath: flags.socket, handlers: wireHandlers(ops), log: named(deps.log, "grpc"), metrics });
  if (server.isErr()) {
    await closeEgress();
    await http.value.close();
    return err({ kind: "socket-unavailable", cause: server.error });
  }
  state.ready = true;
  deps.log.info("serving CNI", { socket: flags.socket });
  return ok({
    metrics,
    metricsPort: http.value.metricsPort,
    healthPort: http.value.healthPort,
    close: async () => {
      state.ready = false;
      await server.value.close();
      await closeEgress();
      await http.value.close();
      deps.log.info("coild stopped");
    },
  });
}
