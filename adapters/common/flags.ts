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

/** Parse a Go duration such as `5m`, `1h30m`, `90s`, `500ms` into milliseconds. */
export function parseDuration(s: string): Result<number, string> {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  return s !== "" && pos === s.length ? ok(total) : err(`invalid duration ${JSON.stringify(s)}`);
}

/** Parse `host:port`, `:port`, `[v6]:port`; `0` disables. */
export function parseListenAddr(s: string): Result<ListenAddr | undefined, string> {
  if (s === "0") return ok(undefined);
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) return err(`invalid address ${JSON.stringify(s)}`);
  return ok({ host: m[1] ?? m[2] ?? "", port });
}

/** A Go-style boolean value of flag `--name`: `true`/`1` or `false`/`0`; `undefined` (not given) is `def`. */
export function parseBoolFlag(name: string, v: string | undefined, def: boolean): Result<boolean, string> {
  if (v === undefined) return ok(def);
  if (v === "true" || v === "1") return ok(true);
  if (v === "false" || v === "0") return ok(false);
  return err(`--${name}: ${JSON.stringify(v)} is not a boolean`);
}

/** Go-style booleans: a bare `--flag` (or `-flag`) of a boolean flag becomes `--flag=true`. */
function normaliseBooleans(argv: readonly string[], booleans: readonly string[]): string[] {
  return argv.map((a) => (booleans.some((b) => a === `--${b}` || a === `-${b}`) ? `--${a.replace(/^-+/, "")}=true` : a));
}

/** Parse argv (without node and script) against `spec`: the raw string value of every flag given. */
export function parseFlagValues(argv: readonly string[], spec: FlagSpec): Result<Record<string, string | undefined>, string> {
  const names = [...spec.booleans, ...Object.keys(spec.strings), ...spec.noDefault];
  const options = Object.fromEntries(names.map((k) => [k, { type: "string" as const }]));
  try {
    const args = normaliseBooleans(argv, spec.booleans);
    return ok(parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>);
  } catch (e) {
    return err(e instanceof Error ? e.message : String(e));
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
