// The trigger loop with a manual clock: 1-slot coalescing, ticker, retry with backoff after failures.
import t from "tap";
import { SILENT_LOGGER } from "../../../adapters/k8s/index.js";
import { REAL_CLOCK, SyncLoop, type RouterClock } from "../../../adapters/router/sync-loop.js";
import { waitFor } from "../../helpers/wait.js";

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
    sync: () => (calls++, new Promise<boolean>((r) => (release = () => r(true)))),
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
  const results = [false, false, true];
  let calls = 0;
  const loop = new SyncLoop({ sync: async () => results[calls++] ?? true, intervalMs: 1000, clock: c.clock, log: SILENT_LOGGER, backoff: { jitter: 0 } });
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
  await REAL_CLOCK.sleep(10_000, ac.signal);
  t.ok(performance.now() - t0 < 1000, "abort ends the sleep");
  const aborted = new AbortController();
  aborted.abort();
  await REAL_CLOCK.sleep(10_000, aborted.signal);
});
