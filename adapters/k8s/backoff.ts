/** Exponential backoff with jitter, and an abortable sleep. */

/** Backoff parameters. */
export interface BackoffOptions {
  /** First delay. Default 200 ms. */
  readonly initialMs?: number;
  /** Upper bound. Default 30 s. */
  readonly maxMs?: number;
  /** Multiplier per failure. Default 2. */
  readonly factor?: number;
  /** Random extra fraction in [0, jitter). Default 0.1. */
  readonly jitter?: number;
}

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = Math.min((o.initialMs ?? 200) * (o.factor ?? 2) ** attempt, o.maxMs ?? 30_000);
  return Math.round(base * (1 + random() * (o.jitter ?? 0.1)));
}

/** Sleep `ms`, resolving early (with `false`) when `signal` aborts; `true` when the time passed. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
