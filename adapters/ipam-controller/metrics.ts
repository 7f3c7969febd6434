/**
 * coil-ipam-controller's Prometheus metrics: `coil_controller_max_blocks{pool}` and
 * `coil_controller_allocated_blocks{pool}` (Coil's names), controller-runtime's controller, work
 * queue, REST client and leader election metrics (the shared set, adapters/k8s/runtime-metrics.ts,
 * which Coil's controller-runtime manager serves too), plus prom-client's process metrics.
 */
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { createRuntimeMetrics, type RuntimeMetrics } from "../k8s/runtime-metrics.js";

/** The controller's metric set. */
export interface ControllerMetrics {
  /** The registry to serve. */
  readonly registry: Registry;
  /** controller-runtime's metrics in the same registry (queues, API requests, leader status). */
  readonly runtime: RuntimeMetrics;
  /** Set both gauges of a pool. */
  setPool(pool: string, maxBlocks: number, allocated: number): void;
  /** Set the allocated gauge of a pool. */
  setAllocated(pool: string, allocated: number): void;
  /** Delete a pool's series (the pool disappeared). */
  dropPool(pool: string): void;
}

/** Create the metrics in a fresh registry (both pool vectors start empty, as Coil resets them). */
export function createControllerMetrics(opts: { readonly processMetrics?: boolean } = {}): ControllerMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const runtime = createRuntimeMetrics(registry);
  const max = new Gauge({ name: "coil_controller_max_blocks", help: "the maximum number of blocks", labelNames: ["pool"], registers: [registry] });
  const allocated = new Gauge({
    name: "coil_controller_allocated_blocks",
    help: "the number of allocated blocks",
    labelNames: ["pool"],
    registers: [registry],
  });
  return {
    registry,
    runtime,
    setPool(pool, m, a) {
      max.set({ pool }, m);
      allocated.set({ pool }, a);
    },
    setAllocated(pool, a) {
      allocated.set({ pool }, a);
    },
    dropPool(pool) {
      max.remove({ pool });
      allocated.remove({ pool });
    },
  };
}
