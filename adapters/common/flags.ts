/**
 * Command-line helpers shared by the Coil binaries (coild, coil-ipam-controller): Go-style flags as
 * Coil's Go binaries accept them. Booleans are `--flag` or `--flag=true|false|1|0`, durations are Go
 * durations (`5m`, `1h30m`, `90s`, `500ms`), listen addresses are `host:port`, `:port` or
 * `[v6]:port` with `0` meaning disabled (as in controller-runtime).
 */
import { parseArgs } from "node:util";
import { err, ok, type Result } from "neverthrow";

/** A listen address; `undefined` (from `0`) means disabled. Port 0 = any free port. */
export interface ListenAddr {
  /** Host part; empty = all interfaces. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** The flags a binary accepts; every value is read as a string and converted by the caller. */
export interface FlagSpec {
  /** Go-style boolean flags (`--flag` alone means `--flag=true`). */
  readonly booleans: readonly string[];
  /** String flags with their default value (shown by {@link flagUsage}). */
  readonly strings: Readonly<Record<string, string>>;
  /** String flags without a default. */
  readonly noDefault: readonly string[];
}

/** A value that does not parse as the type asked for (before it is tied to a flag). */
export interface ValueError {
  readonly kind: "invalid-duration" | "invalid-address" | "invalid-boolean" | "invalid-integer" | "invalid-ip";
  /** The rejected text. */
  readonly value: string;
  /** What is wrong, e.g. `invalid duration "10"`. */
  readonly message: string;
}

/**
 * Why a program's flags (and environment) were refused. `message` is the line the program prints
 * before its usage text; the other fields say the same for a caller that decides by kind.
 */
export type FlagError =
  /** argv does not parse: an unknown flag, a flag without its value. */
  | { readonly kind: "invalid-argv"; readonly message: string }
  /** A flag's value is malformed or out of range. */
  | { readonly kind: "invalid-value"; readonly flag: string; readonly value: string; readonly cause?: ValueError; readonly message: string }
  /** A required environment variable is not set. */
  | { readonly kind: "missing-env"; readonly name: string; readonly message: string }
  /** Flags each valid alone but not together. */
  | { readonly kind: "conflicting-flags"; readonly flags: readonly string[]; readonly message: string };

/** `--flag`'s value `value` is refused because `why` (e.g. `must be positive`). */
export function invalidFlagValue(flag: string, value: string, why: string): FlagError {
  return { kind: "invalid-value", flag, value, message: `--${flag}: ${why}` };
}

/** `--flag`'s value did not parse ({@link ValueError}). */
export function flagValueError(flag: string, cause: ValueError): FlagError {
  return { kind: "invalid-value", flag, value: cause.value, cause, message: `--${flag}: ${cause.message}` };
}

/** An integer flag value in [min, max]. */
export function parseIntFlag(flag: string, v: string, min: number, max: number): Result<number, FlagError> {
  const n = Number(v);
  return /^\d+$/.test(v) && n >= min && n <= max ? ok(n) : err(invalidFlagValue(flag, v, `${JSON.stringify(v)} is not an integer in [${min}, ${max}]`));
}

/** Parse a Go duration such as `5m`, `1h30m`, `90s`, `500ms` into milliseconds. */
export function parseDuration(s: string): Result<number, ValueError> {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  return s !== "" && pos === s.length ? ok(total) : err({ kind: "invalid-duration", value: s, message: `invalid duration ${JSON.stringify(s)}` });
}

/** Parse `host:port`, `:port`, `[v6]:port`; `0` disables. */
export function parseListenAddr(s: string): Result<ListenAddr | undefined, ValueError> {
  if (s === "0") return ok(undefined);
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) return err({ kind: "invalid-address", value: s, message: `invalid address ${JSON.stringify(s)}` });
  return ok({ host: m[1] ?? m[2] ?? "", port });
}

/** `--flag`'s listen address (see {@link parseListenAddr}). */
export function parseListenAddrFlag(flag: string, s: string): Result<ListenAddr | undefined, FlagError> {
  return parseListenAddr(s).mapErr((e) => flagValueError(flag, e));
}

/** `--flag`'s duration in milliseconds (see {@link parseDuration}). */
export function parseDurationFlag(flag: string, s: string): Result<number, FlagError> {
  return parseDuration(s).mapErr((e) => flagValueError(flag, e));
}

/** A Go-style boolean value of flag `--name`: `true`/`1` or `false`/`0`; `undefined` (not given) is `def`. */
export function parseBoolFlag(name: string, v: string | undefined, def: boolean): Result<boolean, FlagError> {
  if (v === undefined) return ok(def);
  if (v === "true" || v === "1") return ok(true);
  if (v === "false" || v === "0") return ok(false);
  return err(flagValueError(name, { kind: "invalid-boolean", value: v, message: `${JSON.stringify(v)} is not a boolean` }));
}

/** Go-style booleans: a bare `--flag` (or `-flag`) of a boolean flag becomes `--flag=true`. */
function normaliseBooleans(argv: readonly string[], booleans: readonly string[]): string[] {
  return argv.map((a) => (booleans.some((b) => a === `--${b}` || a === `-${b}`) ? `--${a.replace(/^-+/, "")}=true` : a));
}

/** Parse argv (without node and script) against `spec`: the raw string value of every flag given. */
export function parseFlagValues(argv: readonly string[], spec: FlagSpec): Result<Record<string, string | undefined>, FlagError> {
  const names = [...spec.booleans, ...Object.keys(spec.strings), ...spec.noDefault];
  const options = Object.fromEntries(names.map((k) => [k, { type: "string" as const }]));
  try {
    const args = normaliseBooleans(argv, spec.booleans);
    return ok(parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>);
  } catch (e) {
    // node:util parseArgs throws (ERR_PARSE_ARGS_*) on an unknown flag or a missing value.
    return err({ kind: "invalid-argv", message: e instanceof Error ? e.message : JSON.stringify(e) });
  }
}

/** The usage text of binary `name`: one line per flag, with defaults. */
export function flagUsage(name: string, spec: FlagSpec): string {
  const lines = [
    ...spec.booleans.map((b) => `  --${b}[=true|false]`),
    ...Object.entries(spec.strings).map(([k, v]) => `  --${k} (default ${JSON.stringify(v)})`),
    ...spec.noDefault.map((k) => `  --${k}`),
  ];
  return `Usage: ${name} [flags]\n${lines.join("\n")}\n`;
}
