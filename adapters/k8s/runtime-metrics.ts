/**
 * controller-runtime's metric set (v0.23.3), one implementation for every program that has
 * controllers, work queues, API clients or a leader election (coil-ipam-controller,
 * coil-egress-controller, coil-router, coild's Kubernetes store). Names, help texts, labels and
 * buckets are controller-runtime's (pkg/internal/controller/metrics, pkg/internal/metrics/workqueue.go,
 * pkg/metrics/client_go_adapter.go, pkg/metrics/leaderelection.go), so Coil's dashboards and alerts
 * read them unchanged:
 *
 * - `controller_runtime_reconcile_total{controller,result}` (`success`, `error`, `requeue`,
 *   `requeue_after`), `controller_runtime_reconcile_errors_total{controller}`,
 *   `controller_runtime_terminal_reconcile_errors_total{controller}`,
 *   `controller_runtime_reconcile_time_seconds{controller}` (histogram),
 *   `controller_runtime_max_concurrent_reconciles{controller}`, `controller_runtime_active_workers{controller}`
 *   — every series of a controller exists (at 0) from its queue's creation, as `initMetrics` does;
 * - `workqueue_depth{name,controller,priority}`, `workqueue_adds_total`, `workqueue_queue_duration_seconds`,
 *   `workqueue_work_duration_seconds`, `workqueue_unfinished_work_seconds`,
 *   `workqueue_longest_running_processor_seconds`, `workqueue_retries_total` (`{name,controller}`, both
 *   the controller's name as controller-runtime sets them; `priority` is always `"0"`: our queue has
 *   no priorities, controller-runtime's default priority queue files ordinary adds under 0). The two
 *   "unfinished" gauges are computed at scrape time (client-go refreshes them every 500 ms);
 * - `rest_client_requests_total{code,method,host}` (code `<error>` when no HTTP answer came), fed by
 *   {@link RuntimeMetrics.request}, which `makeClients` and the informers' watches call;
 * - `leader_election_master_status{name}` (1 leading, 0 not; `name` = the Lease's name), fed by
 *   {@link RuntimeMetrics.leader}.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RequestObserver } from "./clients.js";
import type { ReconcileOutcome, WorkQueueMetrics } from "./work-queue.js";

/** controller-runtime's `controller_runtime_reconcile_time_seconds` buckets. */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20,
  25, 30, 40, 50, 60,
];

/** The work queue histograms' buckets: `prometheus.ExponentialBuckets(10e-9, 10, 12)` (10 ns … 1000 s). */
export const WORKQUEUE_BUCKETS: readonly number[] = Array.from({ length: 12 }, (_, i) => Number(`1e${i - 8}`));

/** controller-runtime's `result` label of each {@link ReconcileOutcome} kind (a terminal failure is an `error`). */
export const RESULT_LABEL: Readonly<Record<ReconcileOutcome["kind"], string>> = {
  done: "success",
  retry: "error",
  terminal: "error",
  "requeue-after": "requeue_after",
};

/** Options of {@link RuntimeMetrics.queue}. */
export interface QueueMetricsOptions {
  /** The queue's workers (`controller_runtime_max_concurrent_reconciles`). Default 1. */
  readonly concurrency?: number;
}

/** The shared metric set of one program (one registry). */
export interface RuntimeMetrics {
  /** The registry the metrics are registered in. */
  readonly registry: Registry;
  /**
   * The instruments of controller `name`'s work queue, to pass as `WorkQueueOptions.metrics`. Creates
   * (or resets to 0 the gauges of) the controller's series; a queue made again under the same name
   * (a new leadership term) continues the same series.
   */
  queue(name: string, opts?: QueueMetricsOptions): WorkQueueMetrics;
  /** Count one API request (`rest_client_requests_total`); pass to `makeClients` / informers as `onRequest`. */
  readonly request: RequestObserver;
  /** Set `leader_election_master_status{name}` (pass to the leader elector as `onLeading`). */
  readonly leader: (name: string, leading: boolean) => void;
}

/** Per-queue bookkeeping (add and start times by key, as client-go's queue metrics keep them). */
interface QueueState {
  readonly addTimes: Map<string, number>;
  readonly startTimes: Map<string, number>;
}

/** Options of {@link createRuntimeMetrics}. */
export interface RuntimeMetricsOptions {
  /** Monotonic clock in seconds (tests). Default `performance.now() / 1000`. */
  readonly now?: () => number;
}

/** Register the controller-runtime metric set in `registry`. */
export function createRuntimeMetrics(registry: Registry, opts: RuntimeMetricsOptions = {}): RuntimeMetrics {
  const now = opts.now ?? ((): number => performance.now() / 1000);
  const registers = [registry];
  const ctl = ["controller"] as const;
  const q = ["name", "controller"] as const;
  const reconcileTotal = new Counter({ name: "controller_runtime_reconcile_total", help: "Total number of reconciliations per controller", labelNames: ["controller", "result"], registers });
  const reconcileErrors = new Counter({ name: "controller_runtime_reconcile_errors_total", help: "Total number of reconciliation errors per controller", labelNames: ctl, registers });
  const terminalErrors = new Counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ctl,
    registers,
  });
  const reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ctl,
    buckets: [...RECONCILE_TIME_BUCKETS],
    registers,
  });
  const workerCount = new Gauge({ name: "controller_runtime_max_concurrent_reconciles", help: "Maximum number of concurrent reconciles per controller", labelNames: ctl, registers });
  const activeWorkers = new Gauge({ name: "controller_runtime_active_workers", help: "Number of currently used workers per controller", labelNames: ctl, registers });
  const depth = new Gauge({ name: "workqueue_depth", help: "Current depth of workqueue by workqueue and priority", labelNames: ["name", "controller", "priority"], registers });
  const adds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: q, registers });
  const latency = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: q,
    buckets: [...WORKQUEUE_BUCKETS],
    registers,
  });
  const workDuration = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from workqueue takes.",
    labelNames: q,
    buckets: [...WORKQUEUE_BUCKETS],
    registers,
  });
  const states = new Map<string, QueueState>();
  new Gauge({
    name: "workqueue_unfinished_work_seconds",
    help:
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    labelNames: q,
    registers,
    collect() {
      const t = now();
      for (const [name, s] of states) this.set({ name, controller: name }, [...s.startTimes.values()].reduce((sum, start) => sum + (t - start), 0));
    },
  });
  new Gauge({
    name: "workqueue_longest_running_processor_seconds",
    help: "How many seconds has the longest running processor for workqueue been running.",
    labelNames: q,
    registers,
    collect() {
      const t = now();
      for (const [name, s] of states) this.set({ name, controller: name }, Math.max(0, ...[...s.startTimes.values()].map((start) => t - start)));
    },
  });
  const retries = new Counter({ name: "workqueue_retries_total", help: "Total number of retries handled by workqueue", labelNames: q, registers });
  const requests = new Counter({ name: "rest_client_requests_total", help: "Number of HTTP requests, partitioned by status code, method, and host.", labelNames: ["code", "method", "host"], registers });
  const leaderGauge = new Gauge({
    name: "leader_election_master_status",
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ["name"],
    registers,
  });

  const queue = (name: string, o: QueueMetricsOptions = {}): WorkQueueMetrics => {
    const c = { controller: name };
    const ql = { name, controller: name };
    const dl = { ...ql, priority: "0" };
    for (const result of ["error", "requeue_after", "requeue", "success"]) reconcileTotal.inc({ ...c, result }, 0);
    reconcileErrors.inc(c, 0);
    terminalErrors.inc(c, 0);
    reconcileTime.zero(c);
    workerCount.set(c, o.concurrency ?? 1);
    activeWorkers.set(c, 0);
    depth.set(dl, 0);
    adds.inc(ql, 0);
    latency.zero(ql);
    workDuration.zero(ql);
    retries.inc(ql, 0);
    const s: QueueState = { addTimes: new Map(), startTimes: new Map() };
    states.set(name, s);
    return {
      added(key) {
        adds.inc(ql);
        depth.inc(dl);
        if (!s.addTimes.has(key)) s.addTimes.set(key, now());
      },
      dropped(key) {
        depth.dec(dl);
        s.addTimes.delete(key);
      },
      started(key) {
        depth.dec(dl);
        const t = now();
        const added = s.addTimes.get(key);
        if (added !== undefined) latency.observe(ql, t - added);
        s.addTimes.delete(key);
        s.startTimes.set(key, t);
        activeWorkers.inc(c);
      },
      finished(key, outcome) {
        const start = s.startTimes.get(key);
        s.startTimes.delete(key);
        activeWorkers.dec(c);
        if (start !== undefined) {
          const seconds = now() - start;
          workDuration.observe(ql, seconds);
          reconcileTime.observe(c, seconds);
        }
        reconcileTotal.inc({ ...c, result: RESULT_LABEL[outcome] });
        if (outcome === "retry" || outcome === "terminal") reconcileErrors.inc(c);
        if (outcome === "terminal") terminalErrors.inc(c);
      },
      retried() {
        retries.inc(ql);
      },
    };
  };
  return {
    registry,
    queue,
    request: (r) => requests.inc({ code: r.code, method: r.method, host: r.host }),
    leader: (name, leading) => leaderGauge.set({ name }, leading ? 1 : 0),
  };
}
