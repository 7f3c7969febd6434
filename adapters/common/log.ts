/**
 * Structured logs shared by every adapter (coild, the Kubernetes controllers, the installer): one
 * JSON object per line (`level`, `ts`, `msg`, then fields) written to an injected sink (stderr in
 * production). The {@link Logger} shape is the one every adapter uses.
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
}

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Receives each line, newline included. */
  readonly write: (line: string) => void;
  /** Clock for the `ts` field. */
  readonly now?: () => Date;
  /** Emit `debug` lines. */
  readonly debug?: boolean;
  /** Fields added to every line (e.g. `{ component: "coil-ipam-controller" }`). */
  readonly base?: LogFields;
}

/** JSON.stringify replacer: bigints as decimal strings. */
const bigints = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? v.toString() : v);

/** Whether JSON.stringify can encode `v`. */
function encodable(v: unknown): boolean {
  try {
    JSON.stringify(v, bigints);
    return true;
  } catch {
    return false;
  }
}

/** A JSON-lines logger. Bigints are written as decimal strings; a field JSON cannot encode (a cycle)
 * is replaced by `"<unserialisable TYPE>"`, the other fields are kept. */
export function createJsonLogger(opts: JsonLoggerOptions): Logger {
  const now = opts.now ?? (() => new Date());
  const base = opts.base ?? {};
  const emit = (level: string, msg: string, fields: LogFields = {}): void => {
    let line: string;
    try {
      line = JSON.stringify({ level, ts: now().toISOString(), msg, ...base, ...fields }, bigints);
    } catch {
      // A field JSON cannot encode (a cycle, a throwing toJSON): keep every other field and name
      // the bad ones, instead of losing the line or logging "[object Object]".
      const kept = Object.fromEntries(Object.entries({ ...base, ...fields }).map(([k, v]) => [k, encodable(v) ? v : `<unserialisable ${typeof v}>`]));
      line = JSON.stringify({ level, ts: now().toISOString(), msg, ...kept }, bigints);
    }
    opts.write(`${line}\n`);
  };
  return {
    debug: (m, f) => {
      if (opts.debug === true) emit("debug", m, f);
    },
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
