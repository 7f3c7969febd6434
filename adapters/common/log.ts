/**
 * Structured logs shared by every adapter (coild, the Kubernetes controllers, the installer), written
 * as controller-runtime's zap logger writes Coil's (`--zap-*` flags, see {@link LogOptions}):
 *
 * - `json` (production): one object per line, zap's production keys in zap's order — `level`, `ts`,
 *   `logger`, `msg`, then the fields, then `stacktrace` on lines at or above the stack trace level;
 * - `console` (development): `TIME\tLEVEL\tlogger\tmsg\t{"field": value, …}` with upper-case levels,
 *   the stack trace on the lines after.
 *
 * `ts` follows `--zap-time-encoding` (controller-runtime's default RFC 3339). A logger has a dotted
 * name (`coild`, `coild.egress`, zap's `Named`) written as `logger`. Lines go to an injected sink
 * (stderr in production). The {@link Logger} shape is the one every adapter uses.
 */

/** Log fields: plain JSON values. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger. */
export interface Logger {
  /** Debug detail (only when enabled). */
  debug(msg: string, fields?: LogFields): void;
  /** Normal events. */
  info(msg: string, fields?: LogFields): void;
  /** Something went wrong but the process continues. */
  warn(msg: string, fields?: LogFields): void;
  /** A failure. */
  error(msg: string, fields?: LogFields): void;
  /** A child logger named `<this name>.<name>` (zap's `Named`); loggers without names ignore it (see {@link named}). */
  named?(name: string): Logger;
}

/** zap's encoders: `json` (production) or `console` (development). */
export type LogEncoder = "json" | "console";

/** zap's time encodings (`--zap-time-encoding`). */
export type TimeEncoding = "epoch" | "millis" | "nanos" | "iso8601" | "rfc3339" | "rfc3339nano";

/** zap's levels as numbers: lower is more verbose. `-1` debug (`-N` for `--zap-log-level=N`), `0` info, `1` warn, `2` error, `4` panic. */
export const LOG_LEVELS = { debug: -1, info: 0, warn: 1, error: 2, panic: 4 } as const;

/** How lines are written: what `--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level` and `--zap-time-encoding` set. */
export interface LogOptions {
  /** Line format. */
  readonly encoder: LogEncoder;
  /** Lowest level written (see {@link LOG_LEVELS}). */
  readonly level: number;
  /** Lines at or above this level carry a `stacktrace` (the JavaScript stack of the logging call). */
  readonly stacktraceLevel: number;
  /** How `ts` is written. */
  readonly timeEncoding: TimeEncoding;
}

/** controller-runtime's production defaults: JSON, info, stack traces on errors, RFC 3339 times. */
export const PRODUCTION_LOG_OPTIONS: LogOptions = { encoder: "json", level: LOG_LEVELS.info, stacktraceLevel: LOG_LEVELS.error, timeEncoding: "rfc3339" };

/** controller-runtime's development defaults (`--zap-devel`): console, debug, stack traces on warnings. */
export const DEVELOPMENT_LOG_OPTIONS: LogOptions = { encoder: "console", level: LOG_LEVELS.debug, stacktraceLevel: LOG_LEVELS.warn, timeEncoding: "rfc3339" };

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions extends Partial<LogOptions> {
  /** Receives each line, newline included. */
  readonly write: (line: string) => void;
  /** Clock for the `ts` field: a `Date`, or Unix nanoseconds; default {@link preciseClock}. */
  readonly now?: () => Date | bigint;
  /** Emit `debug` lines (the same as `level: -1`; `level` wins when both are given). */
  readonly debug?: boolean;
  /** The logger's name, written as `logger` (e.g. `coild`; children are `coild.<name>`). */
  readonly name?: string;
  /** Fields added to every line after `msg` (e.g. `{ node: "n1" }`). */
  readonly base?: LogFields;
  /** Minutes east of UTC the times are written in; default the process's local zone, as Go's `time.Now()`. */
  readonly utcOffsetMinutes?: number;
}

/** JSON.stringify replacer: bigints as decimal strings. */
const bigints = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? v.toString() : v);

/** `v` as JSON; a value JSON cannot encode (a cycle, a throwing toJSON) becomes `"<unserialisable TYPE>"`. */
function encode(v: unknown): string {
  try {
    return JSON.stringify(v, bigints) ?? "null";
  } catch {
    return JSON.stringify(`<unserialisable ${typeof v}>`);
  }
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Go's `Z07:00` (`colon`) or `Z0700` zone for an offset in minutes east of UTC. */
function zone(offset: number, colon: boolean): string {
  if (offset === 0) return "Z";
  const a = Math.abs(offset);
  return `${offset < 0 ? "-" : "+"}${pad(Math.floor(a / 60))}${colon ? ":" : ""}${pad(a % 60)}`;
}

/** Nanoseconds in a millisecond. */
const NS_PER_MS = 1_000_000n;

/**
 * A clock of Unix time in nanoseconds (Go's `time.Now().UnixNano()`) with the monotonic clock's
 * resolution: `Date.now()` has only milliseconds, which orders nothing in a burst of lines. The
 * monotonic clock is anchored to the wall clock and re-anchored whenever the two disagree by a
 * millisecond or more (the first call, the wall clock stepped, drift), so a time is never outside the
 * millisecond `Date.now()` gives and never goes back unless the wall clock itself did.
 */
export function preciseClock(): () => bigint {
  let anchor: bigint | undefined; // wall ns minus monotonic ns
  let last = 0n;
  return () => {
    const mono = process.hrtime.bigint();
    const wall = BigInt(Date.now()) * NS_PER_MS;
    let t = anchor === undefined ? wall - 1n : anchor + mono;
    if (t < wall || t >= wall + NS_PER_MS) {
      anchor = wall - mono;
      t = wall;
    }
    // A re-anchoring (the wall clock slewed past the monotonic one) must not go back within the
    // millisecond the wall clock reads; only a wall clock that itself went back takes the time back.
    if (t < last && last < wall + NS_PER_MS) t = last;
    last = t;
    return t;
  };
}

/** The clock of every logger not given one: one anchor for the process. */
const DEFAULT_CLOCK = preciseClock();

/**
 * A time as zap's time encoders write it, as a JSON value: `epoch` seconds and `millis` as numbers
 * (Go's `float64(nanos) / unit`, shortest form), `nanos` as an integer, the others as strings in the
 * zone `utcOffsetMinutes` east of UTC (Go's layouts: `iso8601` `2006-01-02T15:04:05.000Z0700`,
 * `rfc3339` `2006-01-02T15:04:05Z07:00`, `rfc3339nano` with the fraction's trailing zeros dropped).
 * `t` is a `Date` (millisecond resolution) or Unix nanoseconds.
 */
export function encodeTime(t: Date | bigint, enc: TimeEncoding, utcOffsetMinutes?: number): string {
  const nanos = typeof t === "bigint" ? t : BigInt(t.getTime()) * NS_PER_MS;
  const ms = Number(nanos / NS_PER_MS - (nanos % NS_PER_MS < 0n ? 1n : 0n)); // floor, also before 1970
  const subMs = Number(nanos - BigInt(ms) * NS_PER_MS); // 0 ≤ subMs < 1e6
  const offset = utcOffsetMinutes ?? -new Date(ms).getTimezoneOffset();
  switch (enc) {
    case "epoch":
      return String(Number(nanos) / 1e9);
    case "millis":
      return String(Number(nanos) / 1e6);
    case "nanos":
      return nanos.toString();
    default: {
      const l = new Date(ms + offset * 60_000);
      const base = `${pad(l.getUTCFullYear(), 4)}-${pad(l.getUTCMonth() + 1)}-${pad(l.getUTCDate())}T${pad(l.getUTCHours())}:${pad(l.getUTCMinutes())}:${pad(l.getUTCSeconds())}`;
      const frac9 = `${pad(l.getUTCMilliseconds(), 3)}${pad(subMs, 6)}`;
      const text =
        enc === "iso8601"
          ? `${base}.${frac9.slice(0, 3)}${zone(offset, false)}`
          : enc === "rfc3339"
            ? `${base}${zone(offset, true)}`
            : `${base}${/^0+$/.test(frac9) ? "" : `.${frac9.replace(/0+$/, "")}`}${zone(offset, true)}`;
      return JSON.stringify(text);
    }
  }
}

/**
 * The stack of the logging call (zap's `stacktrace`): the frames below this function, the emitter and
 * the level method are dropped (counted, not matched by file: the programs run bundled into one file).
 */
function stackHere(): string {
  return (new Error().stack ?? "")
    .split("\n")
    .slice(4)
    .map((l) => l.trim())
    .join("\n");
}

/** The level names as each encoder writes them. */
const LEVEL_NAMES: Readonly<Record<"debug" | "info" | "warn" | "error", number>> = { debug: LOG_LEVELS.debug, info: LOG_LEVELS.info, warn: LOG_LEVELS.warn, error: LOG_LEVELS.error };

/**
 * A logger writing zap's JSON or console lines (see the module doc). Bigints are written as decimal
 * strings; a field JSON cannot encode (a cycle) is replaced by `"<unserialisable TYPE>"`, the other
 * fields are kept. Without options: JSON, info and above, RFC 3339 times, no stack traces.
 */
export function createJsonLogger(opts: JsonLoggerOptions): Logger {
  const now = opts.now ?? DEFAULT_CLOCK;
  const base = opts.base ?? {};
  const encoder = opts.encoder ?? "json";
  const level = opts.level ?? (opts.debug === true ? LOG_LEVELS.debug : LOG_LEVELS.info);
  const stackLevel = opts.stacktraceLevel ?? Number.POSITIVE_INFINITY;
  const timeEncoding = opts.timeEncoding ?? "rfc3339";
  const emit = (name: keyof typeof LEVEL_NAMES, msg: string, fields: LogFields = {}): void => {
    const n = LEVEL_NAMES[name];
    if (n < level) return;
    const ts = encodeTime(now(), timeEncoding, opts.utcOffsetMinutes);
    const all = Object.entries({ ...base, ...fields });
    const stack = n >= stackLevel ? stackHere() : undefined;
    let line: string;
    if (encoder === "json") {
      const parts = [`"level":${JSON.stringify(name)}`, `"ts":${ts}`];
      if (opts.name !== undefined) parts.push(`"logger":${JSON.stringify(opts.name)}`);
      parts.push(`"msg":${JSON.stringify(msg)}`);
      for (const [k, v] of all) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${encode(v)}`);
      if (stack !== undefined) parts.push(`"stacktrace":${JSON.stringify(stack)}`);
      line = `{${parts.join(",")}}`;
    } else {
      const time = ts.startsWith('"') ? (JSON.parse(ts) as string) : ts;
      const cols = [time, name.toUpperCase(), ...(opts.name === undefined ? [] : [opts.name]), msg];
      const kept = all.filter(([, v]) => v !== undefined);
      if (kept.length > 0) cols.push(`{${kept.map(([k, v]) => `${JSON.stringify(k)}: ${encode(v)}`).join(", ")}}`);
      line = cols.join("\t") + (stack === undefined ? "" : `\n${stack}`);
    }
    opts.write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    named: (child) => createJsonLogger({ ...opts, name: opts.name === undefined ? child : `${opts.name}.${child}` }),
  };
}

/** `log`'s child named `name` (zap's `Named`); a logger that cannot name children is returned as it is. */
export function named(log: Logger, name: string): Logger {
  return log.named?.(name) ?? log;
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
