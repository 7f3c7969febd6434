/**
 * coild's Prometheus metrics: the go-grpc-prometheus server series Coil exports (same names and
 * labels, pre-initialised per method and code as `InitializeMetrics` does), node IPAM gauges and
 * controller-runtime's `rest_client_requests_total` (the shared set, adapters/k8s/runtime-metrics.ts;
 * its requests with the Kubernetes store).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { createRuntimeMetrics, type RuntimeMetrics } from "../k8s/runtime-metrics.js";

/** The gRPC service name in the metric labels. */
export const GRPC_SERVICE = "pkg.cnirpc.CNI";

/** Methods pre-initialised (Coil's three plus our Status and GC). */
export const GRPC_METHODS = ["Add", "Del", "Check", "Status", "GC"] as const;

/** gRPC status code names as Go's `codes.Code.String()` prints them, indexed by code. */
export const GRPC_CODE_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

/** One pool's share of the node's IPAM state. */
export interface PoolUsage {
  readonly pool: string;
  /** Pod interfaces holding addresses of the pool (a dual-stack pair counts once). */
  readonly allocatedAddresses: number;
  /** Blocks of the pool the node owns. */
  readonly blocks: number;
}

/** coild's metric set. */
export interface DaemonMetrics {
  readonly registry: Registry;
  /** controller-runtime's metrics in the same registry (the Kubernetes store's API requests). */
  readonly runtime: RuntimeMetrics;
  /** Count one finished unary call (started, received, sent when OK, handled). */
  observeCall(method: string, grpcCode: number, transport: "grpc" | "fast"): void;
  /**
   * Read `coil_node_allocated_addresses` and `coil_node_blocks` from `usage` at every scrape
   * (replacing an earlier source), so no allocation path can leave them stale. A pool seen once
   * stays exported, at 0 when it is gone.
   */
  observeNodeIpam(usage: () => Iterable<PoolUsage>): void;
}

/** Create the metrics in a fresh registry (with the default process metrics). */
export function createDaemonMetrics(): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runtime = createRuntimeMetrics(registry);
  const labels = ["grpc_type", "grpc_service", "grpc_method"] as const;
  const started = new Counter({ name: "grpc_server_started_total", help: "Total number of RPCs started on the server.", labelNames: labels, registers: [registry] });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "Total number of RPCs completed on the server, regardless of success or failure.",
    labelNames: [...labels, "grpc_code"],
    registers: [registry],
  });
  const received = new Counter({ name: "grpc_server_msg_received_total", help: "Total number of RPC stream messages received on the server.", labelNames: labels, registers: [registry] });
  const sent = new Counter({ name: "grpc_server_msg_sent_total", help: "Total number of gRPC stream messages sent by the server.", labelNames: labels, registers: [registry] });
  const fast = new Counter({ name: "coil_node_fast_path_requests_total", help: "CNI calls served over the fast JSON-line protocol (also counted in grpc_server_*).", labelNames: ["method"], registers: [registry] });
  let usage: () => Iterable<PoolUsage> = () => [];
  const seen = new Set<string>();
  /** The current usage per pool (every pool seen so far, 0 when gone). */
  const read = (): Map<string, PoolUsage> => {
    const now = new Map<string, PoolUsage>();
    for (const u of usage()) now.set(u.pool, u);
    for (const p of now.keys()) seen.add(p);
    for (const p of seen) if (!now.has(p)) now.set(p, { pool: p, allocatedAddresses: 0, blocks: 0 });
    return now;
  };
  new Gauge({
    name: "coil_node_allocated_addresses",
    help: "Pod addresses (or dual-stack pairs) allocated on this node.",
    labelNames: ["pool"],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of read().values()) this.set({ pool: u.pool }, u.allocatedAddresses);
    },
  });
  new Gauge({
    name: "coil_node_blocks",
    help: "Address blocks owned by this node.",
    labelNames: ["pool"],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of read().values()) this.set({ pool: u.pool }, u.blocks);
    },
  });
  for (const m of GRPC_METHODS) {
    const l = { grpc_type: "unary", grpc_service: GRPC_SERVICE, grpc_method: m };
    started.inc(l, 0);
    received.inc(l, 0);
    sent.inc(l, 0);
    for (const c of GRPC_CODE_NAMES) handled.inc({ ...l, grpc_code: c }, 0);
  }
  return {
    registry,
    runtime,
    observeCall(method, code, transport) {
      const l = { grpc_type: "unary", grpc_service: GRPC_SERVICE, grpc_method: method };
      started.inc(l);
      received.inc(l);
      if (code === 0) sent.inc(l);
      handled.inc({ ...l, grpc_code: GRPC_CODE_NAMES[code] ?? String(code) });
      if (transport === "fast") fast.inc({ method });
    },
    observeNodeIpam(source) {
      usage = source;
    },
  };
}
