import { err, ok, type Result } from "neverthrow";

/**
 * Why a text is not a Go duration. `message` is Go's `time.ParseDuration` wording without its
 * `time: ` prefix (`invalid duration "x"`, `missing unit in duration "5"`, `unknown unit "d" in
 * duration "1d"`); `value` is the text as given.
 */
export interface DurationError {
  /** Discriminant. */
  readonly kind: "invalid-duration";
  /** The rejected text. */
  readonly value: string;
  /** What is wrong, in Go's words. */
  readonly message: string;
}

/** Nanoseconds per unit, as Go's `time.unitMap` (both spellings of micro: U+00B5 and U+03BC). */
const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n],
  ["\u03bcs", 1_000n],
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);

const MAX_NS = 1n << 63n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";

/**
 * Parse a Go duration exactly as Go's `time.ParseDuration` (and so pflag's duration flags) does:
 * `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with the units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`,
 * e.g. `300ms`, `-1.5h`, `2h45m`, `1h0m0s`; a bare `0` (signed or not) is zero; no whitespace.
 * The value is computed in whole nanoseconds as Go does (fractions truncated, more than 2^63-1 ns
 * refused) and returned in milliseconds (sub-millisecond values are fractional: `1500us` is 1.5).
 * Callers decide whether a negative or zero duration makes sense for them.
 */
export function parseDuration(text: string): Result<number, DurationError> {
  const fail = (message: string): Result<number, DurationError> => err({ kind: "invalid-duration", value: text, message });
  const invalid = (): Result<number, DurationError> => fail(`invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return ok(0);
  if (s === "") return invalid();
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === "." || isDigit(s[i]))) return invalid();
    // [0-9]*: Go's leadingInt, which refuses an integer part beyond 2^63.
    let v = 0n;
    const intStart = i;
    for (; isDigit(s[i]); i++) {
      if (v > MAX_NS / 10n) return invalid();
      v = v * 10n + BigInt(Number(s[i]));
      if (v > MAX_NS) return invalid();
    }
    const pre = i > intStart;
    // (\.[0-9]*)?: Go's leadingFraction, which stops accumulating digits once they would overflow.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[i] === ".") {
      i++;
      const fracStart = i;
      let overflow = false;
      for (; isDigit(s[i]); i++) {
        if (overflow) continue;
        if (f > (MAX_NS - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(Number(s[i]));
        if (y > MAX_NS) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = i > fracStart;
    }
    if (!pre && !post) return invalid();
    const unitStart = i;
    while (i < s.length && s[i] !== "." && !isDigit(s[i])) i++;
    if (i === unitStart) return fail(`missing unit in duration ${JSON.stringify(text)}`);
    const u = s.slice(unitStart, i);
    const unit = UNIT_NS.get(u);
    if (unit === undefined) return fail(`unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(text)}`);
    if (v > MAX_NS / unit) return invalid();
    v *= unit;
    if (f > 0n) {
      // As Go: float64 arithmetic for the fraction, truncated to whole nanoseconds.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_NS) return invalid();
    }
    total += v;
    if (total > MAX_NS) return invalid();
  }
  if (!neg && total > MAX_NS - 1n) return invalid();
  if (total === 0n) return ok(0);
  const ms = Number(total) / 1e6;
  return ok(neg ? -ms : ms);
}
