/**
 * coil-egress-controller's Prometheus metrics: controller-runtime's controller, work queue, REST
 * client and leader election metrics (the shared set, adapters/k8s/runtime-metrics.ts, as Coil's
 * controller-runtime manager serves them) and, unless disabled, prom-client's process metrics.
 */
import { Registry, collectDefaultMetrics } from "prom-client";
import { createRuntimeMetrics, type RuntimeMetrics } from "../k8s/runtime-metrics.js";

/** Create the metrics in a fresh registry. */
export function createEgressControllerMetrics(opts: { readonly processMetrics?: boolean } = {}): RuntimeMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return createRuntimeMetrics(registry);
}
