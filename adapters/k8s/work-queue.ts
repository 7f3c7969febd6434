/**
 * A controller work queue in controller-runtime's manner: keys are de-duplicated, one key is never
 * processed by two workers at once (a key added while in flight runs again afterwards), failed
 * keys are retried with per-key exponential backoff, a terminal failure is logged and counted but
 * not retried, and `concurrency` workers drain it.
 */
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { SILENT_LOGGER, type Logger } from "./log.js";

/**
 * What a reconcile returns:
 * - `done`;
 * - `retry`: a failure that may pass (an API error, a conflict): run again after a per-key
 *   exponential backoff;
 * - `terminal`: a failure a retry cannot fix (an invalid object, a pool that no longer exists):
 *   logged as an error and counted, never requeued — controller-runtime's `reconcile.TerminalError`.
 *   The key runs again only when something adds it again (an event for the object);
 * - `requeue-after`: run again after `ms`.
 */
export type ReconcileOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "retry"; readonly error: unknown }
  | { readonly kind: "terminal"; readonly error: unknown }
  | { readonly kind: "requeue-after"; readonly ms: number };

/** How many reconciles ended in each {@link ReconcileOutcome} kind. */
export type ReconcileCounts = Readonly<Record<ReconcileOutcome["kind"], number>>;

/**
 * What a {@link WorkQueue} tells its metrics (controller-runtime's queue and controller metrics,
 * `adapters/k8s/runtime-metrics.ts`). Keys are counted as client-go counts items: an add of a key
 * already waiting is no add; an add of a key being processed is one (it runs again afterwards).
 */
export interface WorkQueueMetrics {
  /** `key` entered the queue (or was marked to run again after its reconcile). */
  added(key: string): void;
  /** A waiting `key` was discarded (the queue stopped). */
  dropped(key: string): void;
  /** A worker took `key`. */
  started(key: string): void;
  /** A worker finished `key` with this outcome. */
  finished(key: string, outcome: ReconcileOutcome["kind"]): void;
  /** `key` failed and was scheduled to run again after a backoff. */
  retried(key: string): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Name for logs. */
  readonly name: string;
  /** Reconcile one key. Must not throw (a throw counts as `retry`). */
  readonly reconcile: (key: string) => Promise<ReconcileOutcome>;
  /** Parallel workers. Default 1 (controller-runtime's MaxConcurrentReconciles). */
  readonly concurrency?: number;
  /** Retry backoff. Default 5 ms doubling up to 60 s. */
  readonly backoff?: BackoffOptions;
  /**
   * The overall limit on retries of all keys together (a token bucket), on top of each key's
   * backoff: a retry waits for the later of the two. Default {@link DEFAULT_RETRY_BUCKET}
   * (client-go's `DefaultControllerRateLimiter`); `false` for none.
   */
  readonly retryBucket?: RetryBucketOptions | false;
  /** Clock of the retry bucket (ms, monotonic). Default `performance.now`. */
  readonly now?: () => number;
  /** Logger. */
  readonly log?: Logger;
  /** Told how every reconcile ended. */
  readonly onOutcome?: (key: string, outcome: ReconcileOutcome) => void;
  /** Queue and controller metrics (see {@link WorkQueueMetrics}). */
  readonly metrics?: WorkQueueMetrics;
}

/** A token bucket: `perSecond` tokens a second, at most `burst` saved up. */
export interface RetryBucketOptions {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Tokens the bucket holds at most (and starts with). */
  readonly burst: number;
}

/**
 * client-go's overall retry limit (`DefaultControllerRateLimiter`: 10 a second, burst 100): when an
 * API server fails everything, the workers together retry at most 10 keys a second after the first
 * 100, however many workers and keys there are.
 */
export const DEFAULT_RETRY_BUCKET: RetryBucketOptions = { perSecond: 10, burst: 100 };

/** A token bucket that hands out reservations (golang.org/x/time/rate's `Reserve().Delay()`). */
class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly o: RetryBucketOptions,
    readonly now: () => number,
  ) {
    this.#tokens = o.burst;
    this.#at = now();
  }
  /** Take one token; resolves to how long (ms) to wait until it is there (0 = now). */
  reserve(): number {
    const t = this.now();
    this.#tokens = Math.min(this.o.burst, this.#tokens + ((t - this.#at) / 1000) * this.o.perSecond);
    this.#at = t;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.o.perSecond) * 1000;
  }
}

/** A de-duplicating, rate-limited queue of keys. */
export class WorkQueue {
  readonly #o: WorkQueueOptions;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #inFlight = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #active = 0;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  readonly #counts: Record<ReconcileOutcome["kind"], number> = { done: 0, retry: 0, terminal: 0, "requeue-after": 0 };

  readonly #bucket: TokenBucket | undefined;

  /** @param o - see {@link WorkQueueOptions}. */
  constructor(o: WorkQueueOptions) {
    this.#o = o;
    this.#bucket = o.retryBucket === false ? undefined : new TokenBucket(o.retryBucket ?? DEFAULT_RETRY_BUCKET, o.now ?? (() => performance.now()));
  }

  /** Enqueue `key` (no-op if already queued; re-run after completion if in flight). */
  add(key: string): void {
    if (this.#stopped) return;
    if (this.#inFlight.has(key)) {
      if (!this.#dirty.has(key)) this.#o.metrics?.added(key);
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#o.metrics?.added(key);
    this.#enqueue(key);
  }

  /** Put `key` (counted as added already) in line and start workers. */
  #enqueue(key: string): void {
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  /** Enqueue `key` after `ms`. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped || this.#timers.has(key)) return;
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** How many reconciles ended in each outcome so far (a throw counts as `retry`). */
  get counts(): ReconcileCounts {
    return { ...this.#counts };
  }

  /** Keys waiting or running. */
  get length(): number {
    return this.#queue.length + this.#active;
  }

  /** Stop: drop queued keys and timers; resolves when running reconciles have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const key of this.#queue) this.#o.metrics?.dropped(key);
    this.#queue.length = 0;
    this.#queued.clear();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await this.idle();
  }

  /** Resolves when nothing is running (queued keys may remain only while stopped). */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  #pump(): void {
    const max = this.#o.concurrency ?? 1;
    while (!this.#stopped && this.#active < max && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      this.#queued.delete(key);
      this.#inFlight.add(key);
      this.#active++;
      this.#o.metrics?.started(key);
      void this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    let outcome: ReconcileOutcome;
    try {
      outcome = await this.#o.reconcile(key);
    } catch (error) {
      outcome = { kind: "retry", error };
    }
    this.#inFlight.delete(key);
    this.#active--;
    this.#o.metrics?.finished(key, outcome.kind);
    this.#after(key, outcome);
    if (this.#dirty.delete(key)) {
      // Counted when it was marked; run it again unless the queue stopped meanwhile.
      if (this.#stopped) this.#o.metrics?.dropped(key);
      else this.#enqueue(key);
    }
    this.#pump();
    if (this.#active === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #after(key: string, outcome: ReconcileOutcome): void {
    this.#counts[outcome.kind]++;
    this.#o.onOutcome?.(key, outcome);
    const log = this.#o.log ?? SILENT_LOGGER;
    switch (outcome.kind) {
      case "done":
        this.#failures.delete(key);
        return;
      case "requeue-after":
        this.#failures.delete(key);
        this.addAfter(key, outcome.ms);
        return;
      case "terminal":
        // Not requeued: the next event for the object brings the key back (with a fresh backoff).
        this.#failures.delete(key);
        log.error("reconcile failed; not retrying (terminal)", { controller: this.#o.name, key, error: describe(outcome.error) });
        return;
      case "retry": {
        const n = this.#failures.get(key) ?? 0;
        this.#failures.set(key, n + 1);
        const delay = Math.max(backoffDelay(n, { initialMs: 5, maxMs: 60_000, ...this.#o.backoff }), this.#bucket?.reserve() ?? 0);
        log.warn("reconcile failed, retrying", { controller: this.#o.name, key, retryInMs: delay, error: describe(outcome.error) });
        this.#o.metrics?.retried(key);
        if (!this.#dirty.has(key)) this.addAfter(key, delay);
        return;
      }
    }
  }
}

function describe(e: unknown): unknown {
  if (e instanceof Error) return e.message;
  return e;
}
