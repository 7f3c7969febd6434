/**
 * The trigger loop of coil-router: `notify()` is Coil's non-blocking send on a 1-slot channel
 * (any number of notifications while a sync runs or waits collapse into one more sync), a ticker
 * notifies every `intervalMs`, and a failed sync is retried after an exponential backoff (Coil's
 * runner returns the error and the process exits instead; here the DaemonSet pod stays up and
 * ready, and logs every failure). A terminal failure (one a retry cannot fix) is logged and
 * counted but not retried: the next notification or tick syncs again.
 */
import { backoffDelay, type BackoffOptions, type Logger } from "../k8s/index.js";

/** Timers, injectable for tests. */
export interface RouterClock {
  /** Call `fn` every `ms`; returns a cancel function. */
  every(ms: number, fn: () => void): () => void;
  /** Resolve after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock (setInterval / setTimeout). */
export const REAL_CLOCK: RouterClock = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    }),
};

/**
 * How one sync ended: `done`; `retry` — a failure that may pass, synced again after a backoff;
 * `terminal` — a failure a retry cannot fix (logged and counted, no retry; as controller-runtime's
 * `reconcile.TerminalError`).
 */
export type SyncOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "retry"; readonly error: unknown }
  | { readonly kind: "terminal"; readonly error: unknown };

/** Options of {@link SyncLoop}. */
export interface SyncLoopOptions {
  /** One sync. A throw counts as `retry`. */
  readonly sync: () => Promise<SyncOutcome>;
  /** Ticker period. */
  readonly intervalMs: number;
  /** Clock. */
  readonly clock: RouterClock;
  /** Backoff between failed attempts (default 1 s doubling to 60 s). */
  readonly backoff?: BackoffOptions;
  /** Logger. */
  readonly log: Logger;
}

/** A coalescing single-worker sync loop. */
export class SyncLoop {
  readonly #o: SyncLoopOptions;
  readonly #stop = new AbortController();
  #pending = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #cancelTicker: (() => void) | undefined;
  /** Consecutive failed attempts (0 after a success or a terminal failure). */
  failures = 0;
  /** Terminal failures so far (not retried). */
  terminalFailures = 0;

  /** @param o - see {@link SyncLoopOptions}. */
  constructor(o: SyncLoopOptions) {
    this.#o = o;
  }

  /** Request a sync (non-blocking; coalesces with any pending request). */
  notify(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Start the worker and the ticker. */
  start(): void {
    this.#cancelTicker ??= this.#o.clock.every(this.#o.intervalMs, () => this.notify());
    this.#loop ??= this.#run();
  }

  /** Stop: no new sync starts; waits for the running one. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#cancelTicker?.();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      if (!this.#pending) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
        continue;
      }
      this.#pending = false;
      const outcome = await this.#o.sync().catch((error: unknown): SyncOutcome => ({ kind: "retry", error }));
      switch (outcome.kind) {
        case "done":
          this.failures = 0;
          break;
        case "terminal":
          this.failures = 0;
          this.terminalFailures++;
          this.#o.log.error("sync failed; not retrying (terminal)", { error: describe(outcome.error), terminalFailures: this.terminalFailures });
          break;
        case "retry": {
          const delay = backoffDelay(this.failures++, { initialMs: 1000, maxMs: 60_000, ...this.#o.backoff });
          this.#o.log.info("retrying sync", { afterMs: delay, failures: this.failures, error: describe(outcome.error) });
          await this.#o.clock.sleep(delay, signal);
          this.#pending = true;
          break;
        }
      }
    }
  }
}

/** An error as a log field: an Error's message, anything else as it is. */
function describe(e: unknown): unknown {
  return e instanceof Error ? e.message : e;
}
