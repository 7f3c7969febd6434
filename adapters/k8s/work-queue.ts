/**
 * A controller work queue in controller-runtime's manner: keys are de-duplicated, one key is never
 * processed by two workers at once (a key added while in flight runs again afterwards), failed
 * keys are retried with per-key exponential backoff, and `concurrency` workers drain it.
 */
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { SILENT_LOGGER, type Logger } from "./log.js";

/** What a reconcile returns: done, retry with backoff, or run again after a delay. */
export type ReconcileOutcome =
  | { readonly kind: "done" }
  | { readonly kind: "retry"; readonly error: unknown }
  | { readonly kind: "requeue-after"; readonly ms: number };

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
  /** Logger. */
  readonly log?: Logger;
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

  /** @param o - see {@link WorkQueueOptions}. */
  constructor(o: WorkQueueOptions) {
    this.#o = o;
  }

  /** Enqueue `key` (no-op if already queued; re-run after completion if in flight). */
  add(key: string): void {
    if (this.#stopped) return;
    if (this.#inFlight.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
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

  /** Keys waiting or running. */
  get length(): number {
    return this.#queue.length + this.#active;
  }

  /** Stop: drop queued keys and timers; resolves when running reconciles have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
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
    this.#after(key, outcome);
    if (this.#dirty.delete(key)) this.add(key);
    this.#pump();
    if (this.#active === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #after(key: string, outcome: ReconcileOutcome): void {
    if (outcome.kind === "done") {
      this.#failures.delete(key);
    } else if (outcome.kind === "requeue-after") {
      this.#failures.delete(key);
      this.addAfter(key, outcome.ms);
    } else {
      const n = this.#failures.get(key) ?? 0;
      this.#failures.set(key, n + 1);
      const delay = backoffDelay(n, { initialMs: 5, maxMs: 60_000, ...this.#o.backoff });
      (this.#o.log ?? SILENT_LOGGER).warn("reconcile failed, retrying", {
        controller: this.#o.name,
        key,
        retryInMs: delay,
        error: describe(outcome.error),
      });
      if (!this.#dirty.has(key)) this.addAfter(key, delay);
    }
  }
}

function describe(e: unknown): unknown {
  if (e instanceof Error) return e.message;
  return e;
}
