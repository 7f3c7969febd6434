/**
 * Waiting in tests: poll for the condition a test is about to assert, never sleep a fixed time and
 * never read state "a moment after" an action. On timeout the error names what was awaited, how
 * long, the probe's last error and (with `describe`) what was seen instead.
 */

/**
 * How many times its nominal timeout a wait may run: `COIL_TEST_TIMEOUT_SCALE` (a positive number),
 * else 3. A timeout is an upper bound for a condition that normally holds in a fraction of it; on a
 * loaded 2-core machine (the suite must pass beside `stress-ng --cpu 2`) process start-ups take
 * several times longer than on a quiet one. A wait ends as soon as its condition holds, so the
 * scale changes nothing for a passing wait: a failing one only fails later.
 */
export const TIMEOUT_SCALE: number = ((): number => {
  const v = Number(process.env["COIL_TEST_TIMEOUT_SCALE"]);
  return Number.isFinite(v) && v > 0 ? v : 3;
})();

/** A nominal timeout scaled by {@link TIMEOUT_SCALE}. */
export function scaledTimeout(nominalMs: number): number {
  return Math.round(nominalMs * TIMEOUT_SCALE);
}

/** Options of {@link eventually} and {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long times {@link TIMEOUT_SCALE} (default 20 000 ms). */
  readonly timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  readonly intervalMs?: number;
  /** What was observed instead, for the timeout message (e.g. the current metric value). */
  readonly describe?: () => unknown;
  /** A reason to give up at once (e.g. the process under test exited), or `undefined` to go on. */
  readonly abortIf?: () => string | undefined;
}

/**
 * Poll `probe` until it returns a value other than `undefined` and return that value; throw after
 * `timeoutMs` (or as soon as `abortIf` gives a reason) with `what` in the message. A probe that
 * throws counts as "not yet"; its last error is reported.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = scaledTimeout(opts.timeoutMs ?? 20_000);
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    const aborted = opts.abortIf?.();
    const elapsed = Date.now() - started;
    if (aborted !== undefined || elapsed > timeoutMs) {
      const why = aborted ?? `timed out after ${elapsed} ms`;
      const seen = opts.describe === undefined ? "" : `; observed: ${describeValue(opts.describe)}`;
      throw new Error(`waiting for ${what}: ${why}${last === undefined ? "" : `; last error: ${errorText(last)}`}${seen}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** {@link eventually} for a boolean condition. */
export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, opts: WaitOptions = {}): Promise<void> {
  await eventually(what, async () => ((await condition()) ? true : undefined), opts);
}

/** A thrown value as text: an Error's name and message, a string as is, anything else as JSON. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  if (typeof e === "string") return e;
  try {
    return JSON.stringify(e) ?? typeof e;
  } catch {
    return `<${typeof e}>`;
  }
}

function describeValue(describe: () => unknown): string {
  try {
    const v = describe();
    return typeof v === "string" ? v : JSON.stringify(v);
  } catch (e) {
    return `(describe threw: ${errorText(e)})`;
  }
}
