// The work queue's outcomes without an API server: retry with backoff, terminal (no requeue),
// requeue-after, and their counts.
import t, { type Test } from "tap";
import { WorkQueue, type Logger, type ReconcileOutcome } from "../../../adapters/k8s/index.js";
import { waitFor } from "../../helpers/wait.js";

/** A logger that keeps every line. */
function recordingLog(): { log: Logger; lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  return { lines, log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

t.test("terminal: logged as an error, counted, never requeued; a new add runs the key again", async (t) => {
  const { log, lines } = recordingLog();
  const runs: string[] = [];
  const seen: Array<[string, ReconcileOutcome["kind"]]> = [];
  const outcomes: Record<string, ReconcileOutcome[]> = {
    bad: [{ kind: "terminal", error: { kind: "invalid-pool", pool: "bad" } }, { kind: "done" }],
    flaky: [{ kind: "retry", error: new Error("conflict") }, { kind: "done" }],
  };
  const q = new WorkQueue({
    name: "test",
    backoff: { initialMs: 1, maxMs: 1, jitter: 0 },
    log,
    onOutcome: (key, o) => void seen.push([key, o.kind]),
    reconcile: async (key) => {
      runs.push(key);
      return outcomes[key]?.shift() ?? { kind: "done" };
    },
  });
  t.teardown(() => q.stop());
  q.add("bad");
  q.add("flaky");
  // flaky's retry (1 ms backoff) runs after bad's terminal outcome was handled: when flaky is done
  // the second time, a requeued "bad" would have been queued long before.
  await waitFor("flaky retried to success", () => q.counts.done >= 1 && q.length === 0, { intervalMs: 2, describe: () => ({ runs, counts: q.counts }) });
  await q.idle();
  t.same(runs, ["bad", "flaky", "flaky"], "bad ran once; flaky was retried");
  t.same(q.counts, { done: 1, retry: 1, terminal: 1, "requeue-after": 0 });
  t.same(seen, [["bad", "terminal"], ["flaky", "retry"], ["flaky", "done"]], "onOutcome saw every outcome");
  const errors = lines.filter((l) => l.level === "error");
  t.same(errors.map((l) => [l.msg, l.fields["key"], l.fields["controller"]]), [["reconcile failed; not retrying (terminal)", "bad", "test"]]);
  t.same(errors[0]?.fields["error"], { kind: "invalid-pool", pool: "bad" }, "the typed error is logged");
  t.same(lines.filter((l) => l.level === "warn").map((l) => l.fields["key"]), ["flaky"], "only the retry is logged as retrying");

  q.add("bad"); // an event for the object brings it back
  await waitFor("bad ran again", () => runs.length === 4, { intervalMs: 2, describe: () => runs });
  await q.idle();
  t.same(q.counts, { done: 2, retry: 1, terminal: 1, "requeue-after": 0 }, "and this time it succeeded");
});

t.test("a throw counts as retry; requeue-after runs the key again after its delay", async (t) => {
  let n = 0;
  const q = new WorkQueue({
    name: "test",
    backoff: { initialMs: 1, maxMs: 1, jitter: 0 },
    reconcile: async () => {
      n++;
      if (n === 1) throw new Error("boom");
      if (n === 2) return { kind: "requeue-after", ms: 1 };
      return { kind: "done" };
    },
  });
  t.teardown(() => q.stop());
  q.add("k");
  await waitFor("three runs", () => q.counts.done === 1, { intervalMs: 2, describe: () => q.counts });
  t.same(q.counts, { done: 1, retry: 1, terminal: 0, "requeue-after": 1 });
});

/** A queue whose keys each fail once (then succeed), with 130 keys added at once and their retries scheduled. */
async function failOnce(t: Test, o: { readonly now: () => number; readonly retryBucket?: false }) {
  const { log, lines } = recordingLog();
  const q = new WorkQueue({
    name: "test",
    concurrency: 16,
    backoff: { initialMs: 5, maxMs: 5, jitter: 0 },
    log,
    ...o,
    reconcile: async (key) => (lines.some((l) => l.fields["key"] === key) ? { kind: "done" } : { kind: "retry", error: new Error("429") }),
  });
  t.teardown(() => q.stop());
  for (let i = 0; i < 130; i++) q.add(`k${i}`);
  await waitFor("130 retries scheduled", () => lines.filter((l) => l.msg === "reconcile failed, retrying").length === 130, { intervalMs: 2 });
  return { q, lines };
}

t.test("retries of all keys together are limited by a token bucket (client-go's 10/s, burst 100), on top of each key's backoff", async (t) => {
  let clock = 0;
  // Every key fails once: 130 retries at the same clock reading.
  const { q, lines } = await failOnce(t, { now: () => clock });
  const delays = lines.filter((l) => l.msg === "reconcile failed, retrying").map((l) => l.fields["retryInMs"] as number);
  t.same(delays.slice(0, 100), Array.from({ length: 100 }, () => 5), "the burst of 100: each key's own backoff");
  t.same(delays.slice(100).map((d) => Math.round(d)), Array.from({ length: 30 }, (_, i) => (i + 1) * 100), "then one every 100 ms (10 a second)");
  clock += 10_000; // ten seconds later the bucket holds 70 tokens again (-30 + 10 × 10)
  q.add("late");
  await waitFor("late's retry scheduled", () => lines.some((l) => l.fields["key"] === "late"), { intervalMs: 2 });
  t.equal(lines.find((l) => l.fields["key"] === "late")?.fields["retryInMs"], 5, "refilled: only the key's own backoff again");
});

t.test("retryBucket: false — no overall limit, each key's backoff only", async (t) => {
  const { lines } = await failOnce(t, { now: () => 0, retryBucket: false });
  t.same(new Set(lines.map((l) => l.fields["retryInMs"])), new Set([5]), "all 130 after 5 ms");
});
