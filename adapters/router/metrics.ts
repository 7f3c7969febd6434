/**
 * coil-router's Prometheus metrics (Coil §8): `coil_router_syncs_total{node}` (+1 per successful
 * sync) and `coil_router_routes_synced{node}` (routes computed by the last successful sync), with
 * `node` a constant label, controller-runtime's `rest_client_requests_total` (the shared set,
 * adapters/k8s/runtime-metrics.ts; coil-router has no controller, so only its API requests show),
 * plus prom-client's process metrics.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { createRuntimeMetrics, type RuntimeMetrics } from "../k8s/runtime-metrics.js";

/** The router's metric set. */
export interface RouterMetrics {
  /** The registry to serve. */
  readonly registry: Registry;
  /** controller-runtime's metrics in the same registry (API requests). */
  readonly runtime: RuntimeMetrics;
  /** Record one successful sync that computed `routes` routes. */
  synced(routes: number): void;
}

/** Create the metrics in a fresh registry; both series exist (at 0) from the start, as in Coil. */
export function createRouterMetrics(opts: { readonly node: string; readonly processMetrics?: boolean }): RouterMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const runtime = createRuntimeMetrics(registry);
  const syncs = new Counter({ name: "coil_router_syncs_total", help: "the number of routing table syncs", labelNames: ["node"], registers: [registry] });
  const routes = new Gauge({ name: "coil_router_routes_synced", help: "the number of routes synced", labelNames: ["node"], registers: [registry] });
  const labels = { node: opts.node };
  syncs.inc(labels, 0);
  routes.set(labels, 0);
  return {
    registry,
    runtime,
    synced(n) {
      syncs.inc(labels);
      routes.set(labels, n);
    },
  };
}
