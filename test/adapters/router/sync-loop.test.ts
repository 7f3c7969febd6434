// The trigger loop with a manual clock: 1-slot coalescing, ticker, retry with backoff after failures.
import t from "tap";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";
import { REAL_CLOCK, SyncLoop, type RouterClock, type SyncOutcome } from "../../../adapters/router/sync-loop.js";
import { waitFor } from "../../helpers/wait.js";

const DONE: SyncOutcome = { kind: "done" };
const RETRY: SyncOutcome = { kind: "retry", error: { kind: "list-nodes-failed" } };

/** A clock whose ticker and sleeps fire only when the test says so. */
function manualClock() {
  const tickers: Array<() => void> = [];
  const sleeps: Array<{ ms: number; wake: () => void }> = [];
  const clock: RouterClock = {
    every: (ms, fn) => {
      tickers.push(fn);
      return () => void tickers.splice(tickers.indexOf(fn), 1);
    },
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        sleeps.push({ ms, wake: resolve });
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
  };
  return { clock, tick: () => tickers.forEach((f) => f()), sleeps, tickers };
}
const flush = () => new Promise((r) => setImmediate(r));

t.test("notifications during a sync collapse into one more sync", async (t) => {
  const c = manualClock();
  let release: () => void = () => undefined;
  let calls = 0;
  const loop = new SyncLoop({
    sync: () => (calls++, new Promise<SyncOutcome>((r) => (release = () => r(DONE)))),
    intervalMs: 1000,
    clock: c.clock,
    log: SILENT_LOGGER,
  });
  loop.start();
  await flush();
  t.equal(calls, 0, "no sync before a trigger (Coil: no block, no ticker → no sync)");
  loop.notify();
  await flush();
  t.equal(calls, 1);
  for (let i = 0; i < 10; i++) loop.notify();
  release();
  await flush();
  t.equal(calls, 2, "10 notifications while running → 1 more sync");
  release();
  await flush();
  t.equal(calls, 2, "then idle");
  c.tick();
  await flush();
  t.equal(calls, 3, "the ticker triggers a sync");
  release();
  await loop.stop();
  t.equal(c.tickers.length, 0, "ticker cancelled");
});

t.test("a failed sync is retried with a growing backoff; success resets it", async (t) => {
  const c = manualClock();
  const results = [RETRY, RETRY, DONE];
  let calls = 0;
  const loop = new SyncLoop({ sync: async () => results[calls++] ?? DONE, intervalMs: 1000, clock: c.clock, log: SILENT_LOGGER, backoff: { jitter: 0 } });
  loop.start();
  loop.notify();
  await flush();
  t.equal(calls, 1);
  t.same(c.sleeps.map((s) => s.ms), [1000], "first retry after 1 s");
  c.sleeps[0]?.wake();
  await flush();
  t.equal(calls, 2);
  t.same(c.sleeps.map((s) => s.ms), [1000, 2000], "then 2 s");
  t.equal(loop.failures, 2);
  c.sleeps[1]?.wake();
  await flush();
  t.equal(calls, 3);
  t.equal(loop.failures, 0, "reset after success");
  t.equal(c.sleeps.length, 2, "no more retries");
  await loop.stop();
});

t.test("a terminal failure is logged and counted, not retried; the next trigger syncs again", async (t) => {
  const c = manualClock();
  const results: SyncOutcome[] = [RETRY, { kind: "terminal", error: { kind: "plan-failed" } }, DONE];
  let calls = 0;
  const logged: Array<{ level: string; msg: string }> = [];
  const log = {
    debug: () => undefined,
    info: (msg: string) => void logged.push({ level: "info", msg }),
    warn: (msg: string) => void logged.push({ level: "warn", msg }),
    error: (msg: string) => void logged.push({ level: "error", msg }),
  };
  const loop = new SyncLoop({ sync: async () => results[calls++] ?? DONE, intervalMs: 1000, clock: c.clock, log, backoff: { jitter: 0 } });
  loop.start();
  loop.notify();
  await flush();
  t.same([calls, c.sleeps.length, loop.failures], [1, 1, 1], "a retry waits for its backoff");
  c.sleeps[0]?.wake();
  await flush();
  t.equal(calls, 2, "the retry ran and failed terminally");
  t.equal(loop.terminalFailures, 1, "counted");
  t.equal(loop.failures, 0, "the backoff is reset");
  t.equal(c.sleeps.length, 1, "no backoff wait after a terminal failure");
  t.same(logged.filter((l) => l.level === "error"), [{ level: "error", msg: "sync failed; not retrying (terminal)" }], "logged as an error");
  await flush();
  t.equal(calls, 2, "not retried");
  c.tick();
  await flush();
  t.equal(calls, 3, "the next trigger syncs again");
  await loop.stop();
});

t.test("a throwing sync counts as a failure; stop ends a backoff wait", async (t) => {
  const c = manualClock();
  let calls = 0;
  const loop = new SyncLoop({
    sync: async () => {
      calls++;
      throw new Error("boom");
    },
    intervalMs: 1000,
    clock: c.clock,
    log: SILENT_LOGGER,
  });
  loop.start();
  loop.notify();
  await flush();
  t.equal(loop.failures, 1);
  await loop.stop();
  t.equal(calls, 1, "no retry after stop");
});

t.test("REAL_CLOCK", async (t) => {
  let n = 0;
  const cancel = REAL_CLOCK.every(5, () => n++);
  // Wait for the ticks rather than sleeping a fixed 30 ms: a loaded machine can run the 5 ms
  // interval only once before a 30 ms timer.
  await waitFor("the 5 ms ticker to fire twice", () => n >= 2, { intervalMs: 5, describe: () => ({ ticks: n }) });
  cancel();
  const after = n;
  // Proof that the cancelled ticker is silent: a later ticker of the same period fires twice meanwhile.
  let m = 0;
  const cancelLater = REAL_CLOCK.every(5, () => m++);
  await waitFor("a second 5 ms ticker to fire twice", () => m >= 2, { intervalMs: 5, describe: () => ({ ticks: m }) });
  cancelLater();
  t.equal(n, after, `the cancelled ticker did not fire again (${after} ticks before cancel)`);
  const ac = new AbortController();
  const t0 = performance.now();
  setTimeout(() => ac.abort(), 5);
  await REAL_CLOCK.sleep(300_000, ac.signal);
  t.ok(performance.now() - t0 < 60_000, "abort ends the 300 s sleep");
  const aborted = new AbortController();
  aborted.abort();
  await REAL_CLOCK.sleep(10_000, aborted.signal);
});
