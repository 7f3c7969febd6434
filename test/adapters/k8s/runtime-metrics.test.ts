// controller-runtime's controller and work queue metrics as a WorkQueue feeds them, scraped from the
// registry (no API server): series created at 0 with the queue, adds counted as client-go counts them
// (a key already waiting is no add; one added while running is), depth, waits, work time, active
// workers, unfinished work of a running reconcile, retries, results, and the drop at stop.
import t from "tap";
import { Registry } from "prom-client";
import { WorkQueue, type ReconcileOutcome } from "../../../adapters/k8s/index.js";
import { createRuntimeMetrics, RECONCILE_TIME_BUCKETS, WORKQUEUE_BUCKETS } from "../../../adapters/k8s/runtime-metrics.js";
import { waitFor } from "../../helpers/wait.js";

/** The value of one sample line (`name{labels} value`), undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels) && / \S+$/.test(l));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** A reconcile that waits until released, per key. */
function gate(): { reconcile: (key: string) => Promise<ReconcileOutcome>; release: (key: string, o?: ReconcileOutcome) => void; running: Set<string> } {
  const waiting = new Map<string, (o: ReconcileOutcome) => void>();
  const running = new Set<string>();
  return {
    running,
    reconcile: (key) => {
      running.add(key);
      return new Promise((r) => waiting.set(key, r));
    },
    release: (key, o = { kind: "done" }) => {
      running.delete(key);
      const r = waiting.get(key);
      waiting.delete(key);
      r?.(o);
    },
  };
}

t.test("buckets are controller-runtime's", async (t) => {
  t.equal(RECONCILE_TIME_BUCKETS.length, 40);
  t.same([RECONCILE_TIME_BUCKETS[0], RECONCILE_TIME_BUCKETS.at(-1)], [0.005, 60]);
  t.same(WORKQUEUE_BUCKETS, [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000], "ExponentialBuckets(10e-9, 10, 12)");
});

t.test("a queue's series exist from its creation, as controller-runtime's initMetrics makes them", async (t) => {
  const registry = new Registry();
  const m = createRuntimeMetrics(registry);
  m.queue("blockrequest", { concurrency: 3 });
  const text = await registry.metrics();
  for (const result of ["success", "error", "requeue", "requeue_after"]) t.equal(sample(text, "controller_runtime_reconcile_total", `controller="blockrequest",result="${result}"`), 0, result);
  t.equal(sample(text, "controller_runtime_reconcile_errors_total", 'controller="blockrequest"'), 0);
  t.equal(sample(text, "controller_runtime_terminal_reconcile_errors_total", 'controller="blockrequest"'), 0);
  t.equal(sample(text, "controller_runtime_max_concurrent_reconciles", 'controller="blockrequest"'), 3);
  t.equal(sample(text, "controller_runtime_active_workers", 'controller="blockrequest"'), 0);
  t.equal(sample(text, "controller_runtime_reconcile_time_seconds_count", 'controller="blockrequest"'), 0);
  t.equal(sample(text, "workqueue_depth", 'name="blockrequest",controller="blockrequest",priority="0"'), 0);
  for (const n of ["workqueue_adds_total", "workqueue_retries_total", "workqueue_queue_duration_seconds_count", "workqueue_work_duration_seconds_count", "workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds"]) {
    t.equal(sample(text, n, 'name="blockrequest",controller="blockrequest"'), 0, n);
  }
  t.match(text, /# HELP workqueue_depth Current depth of workqueue by workqueue and priority/);
});

t.test("what a WorkQueue reports", async (t) => {
  const registry = new Registry();
  let clock = 100;
  const m = createRuntimeMetrics(registry, { now: () => clock });
  const g = gate();
  const q = new WorkQueue({ name: "pool", concurrency: 1, backoff: { initialMs: 1, maxMs: 1, jitter: 0 }, reconcile: g.reconcile, metrics: m.queue("pool") });
  t.teardown(() => q.stop());
  const L = 'name="pool",controller="pool"';
  const C = 'controller="pool"';
  const read = async (name: string, labels = L): Promise<number | undefined> => sample(await registry.metrics(), name, labels);

  q.add("a"); // runs at once (1 worker)
  q.add("b");
  q.add("b"); // already waiting: no add
  await waitFor("a running", () => g.running.has("a"));
  t.equal(await read("workqueue_adds_total"), 2, "a and b, b once");
  t.equal(await read("workqueue_depth", `${L},priority="0"`), 1, "b waits");
  t.equal(await read("controller_runtime_active_workers", C), 1);
  clock += 2.5;
  t.equal(await read("workqueue_unfinished_work_seconds"), 2.5, "a has run 2.5 s");
  t.equal(await read("workqueue_longest_running_processor_seconds"), 2.5);
  q.add("a"); // while running: counted, runs again afterwards
  t.equal(await read("workqueue_adds_total"), 3);
  t.equal(await read("workqueue_depth", `${L},priority="0"`), 2, "b and the re-run of a");

  g.release("a", { kind: "retry", error: new Error("conflict") });
  await waitFor("b running", () => g.running.has("b"));
  let text = await registry.metrics();
  t.equal(sample(text, "controller_runtime_reconcile_total", `${C},result="error"`), 1);
  t.equal(sample(text, "controller_runtime_reconcile_errors_total", C), 1);
  t.equal(sample(text, "workqueue_retries_total", L), 1);
  t.equal(sample(text, "workqueue_work_duration_seconds_count", L), 1);
  t.equal(sample(text, "workqueue_work_duration_seconds_sum", L), 2.5, "a worked 2.5 s");
  t.equal(sample(text, "controller_runtime_reconcile_time_seconds_sum", C), 2.5);
  t.equal(sample(text, "controller_runtime_reconcile_time_seconds_bucket", `le="2.5",${C}`), 1);
  t.equal(sample(text, "controller_runtime_reconcile_time_seconds_bucket", `le="2",${C}`), 0);
  t.equal(sample(text, "workqueue_queue_duration_seconds_sum", L), 2.5, "a waited 0 s, b 2.5 s");

  g.release("b", { kind: "terminal", error: "invalid" });
  await waitFor("a running again", () => g.running.has("a"));
  g.release("a", { kind: "requeue-after", ms: 60_000 });
  await q.idle();
  text = await registry.metrics();
  t.equal(sample(text, "controller_runtime_reconcile_total", `${C},result="success"`), 0);
  t.equal(sample(text, "controller_runtime_reconcile_total", `${C},result="error"`), 2);
  t.equal(sample(text, "controller_runtime_reconcile_total", `${C},result="requeue_after"`), 1);
  t.equal(sample(text, "controller_runtime_terminal_reconcile_errors_total", C), 1);
  t.equal(sample(text, "controller_runtime_reconcile_errors_total", C), 2);
  t.equal(sample(text, "controller_runtime_active_workers", C), 0);
  t.equal(sample(text, "workqueue_depth", `${L},priority="0"`), 0);
  t.equal(sample(text, "workqueue_unfinished_work_seconds", L), 0);
});

t.test("stopping drops the waiting keys from the depth", async (t) => {
  const registry = new Registry();
  const m = createRuntimeMetrics(registry);
  const g = gate();
  const q = new WorkQueue({ name: "egress", reconcile: g.reconcile, metrics: m.queue("egress") });
  q.add("x");
  q.add("y");
  q.add("z");
  await waitFor("x running", () => g.running.has("x"));
  q.add("x");
  const stopped = q.stop();
  g.release("x");
  await stopped;
  t.equal(sample(await registry.metrics(), "workqueue_depth", 'name="egress",controller="egress",priority="0"'), 0, "y, z and the re-run of x dropped");
});

t.test("API requests and leader status", async (t) => {
  const registry = new Registry();
  const m = createRuntimeMetrics(registry);
  m.request({ code: "200", method: "GET", host: "10.0.0.1:6443" });
  m.request({ code: "200", method: "GET", host: "10.0.0.1:6443" });
  m.request({ code: "<error>", method: "PUT", host: "10.0.0.1:6443" });
  m.leader("coil-ipam-leader", false);
  let text = await registry.metrics();
  t.equal(sample(text, "rest_client_requests_total", 'code="200",method="GET",host="10.0.0.1:6443"'), 2);
  t.equal(sample(text, "rest_client_requests_total", 'code="<error>",method="PUT"'), 1);
  t.equal(sample(text, "leader_election_master_status", 'name="coil-ipam-leader"'), 0);
  m.leader("coil-ipam-leader", true);
  text = await registry.metrics();
  t.equal(sample(text, "leader_election_master_status", 'name="coil-ipam-leader"'), 1);
});
