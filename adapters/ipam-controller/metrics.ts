/**
 * coil-ipam-controller's Prometheus metrics: `coil_controller_max_blocks{pool}` and
 * `coil_controller_allocated_blocks{pool}` (Coil's names), controller-runtime's reconcile counters
 * (`controller_runtime_reconcile_total{controller,result}`, `controller_runtime_reconcile_errors_total`,
 * `controller_runtime_terminal_reconcile_errors_total`, which Coil's controller-runtime manager
 * serves too), plus prom-client's process metrics.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { ReconcileOutcome } from "../k8s/index.js";

/** The controller's metric set. */
export interface ControllerMetrics {
  /** The registry to serve. */
  readonly registry: Registry;
  /** Set both gauges of a pool. */
  setPool(pool: string, maxBlocks: number, allocated: number): void;
  /** Set the allocated gauge of a pool. */
  setAllocated(pool: string, allocated: number): void;
  /** Delete a pool's series (the pool disappeared). */
  dropPool(pool: string): void;
  /** Count one reconcile of `controller` that ended in `outcome` (controller-runtime's counters). */
  reconciled(controller: string, outcome: ReconcileOutcome["kind"]): void;
}

/** controller-runtime's `result` label for each outcome (a terminal failure is an `error`). */
const RESULT_LABEL: Readonly<Record<ReconcileOutcome["kind"], string>> = {
  done: "success",
  retry: "error",
  terminal: "error",
  "requeue-after": "requeue_after",
};

/** Create the metrics in a fresh registry (both vectors start empty, as Coil resets them). */
export function createControllerMetrics(opts: { readonly processMetrics?: boolean } = {}): ControllerMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const max = new Gauge({ name: "coil_controller_max_blocks", help: "the maximum number of blocks", labelNames: ["pool"], registers: [registry] });
  const allocated = new Gauge({
    name: "coil_controller_allocated_blocks",
    help: "the number of allocated blocks",
    labelNames: ["pool"],
    registers: [registry],
  });
  const reconciles = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"],
    registers: [registry],
  });
  const terminal = new Counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"],
    registers: [registry],
  });
  return {
    registry,
    reconciled(controller, outcome) {
      reconciles.inc({ controller, result: RESULT_LABEL[outcome] });
      if (outcome === "retry" || outcome === "terminal") errors.inc({ controller });
      if (outcome === "terminal") terminal.inc({ controller });
    },
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
