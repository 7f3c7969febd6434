// The work queue's outcomes without an API server: retry with backoff, terminal (no requeue),
// requeue-after, and their counts.
import t from "tap";
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
