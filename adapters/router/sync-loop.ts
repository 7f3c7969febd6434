/**
 * The trigger loop of coil-router: `notify()` is Coil's non-blocking send on a 1-slot channel
 * (any number of notifications while a sync runs or waits collapse into one more sync), a ticker
 * notifies every `intervalMs`, and a failed sync is retried after an exponential backoff (Coil's
 * runner returns the error and the process exits instead; here the DaemonSet pod stays up and
 * ready, and logs every failure).
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

/** Options of {@link SyncLoop}. */
export interface SyncLoopOptions {
  /** One sync; `true` on success. */
  readonly sync: () => Promise<boolean>;
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
  /** Consecutive failed attempts (0 after a success). */
  failures = 0;

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
      if (await this.#o.sync().catch(() => false)) {
        this.failures = 0;
        continue;
      }
      const delay = backoffDelay(this.failures++, { initialMs: 1000, maxMs: 60_000, ...this.#o.backoff });
      this.#o.log.info("retrying sync", { afterMs: delay, failures: this.failures });
      await this.#o.clock.sleep(delay, signal);
      this.#pending = true;
    }
  }
}
