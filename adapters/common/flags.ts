/**
 * Command lines of every Coil program, as Coil's Go binaries (cobra + pflag) accept them, from ONE
 * data structure per program: a {@link ProgramDef} lists every flag ({@link FlagDef}: name, type,
 * default, description, where it comes from), environment variable and port. The argv parser
 * ({@link parseProgramArgv}), `--help` ({@link renderHelp}), `--version` ({@link versionText}) and the
 * generated docs/programs/*.md pages (scripts/program-docs.ts) all read that definition, so none of
 * them can drift from the others.
 *
 * Syntax (pflag's): `--flag=value`, `--flag value`; booleans are `--flag` or `--flag=true|false`
 * (Go's ParseBool spellings); shorthands `-v 2`, `-v=2`, `-v2`, `-h`; `--` ends the flags. A
 * single-dash long name (`-metrics-addr`, Go's `flag` package style) is accepted too. Durations are
 * Go durations, all of `time.ParseDuration`'s syntax (`5m`, `1h30m`, `1.5s`, `300us`, `-1s`);
 * listen addresses are `host:port`, `:port` or `[v6]:port` with `0` meaning disabled (as in
 * controller-runtime).
 *
 * Adopting it in a program (see adapters/common/README.md):
 *
 * ```ts
 * export const MY_PROGRAM = defineProgram({ name: "coil-x", summary: "…", description: "…",
 *   flags: [{ name: "metrics-addr", type: "address", default: ":9396", description: "bind address of metrics endpoint", origin: "coil" }, ...KLOG_FLAGS, ...ZAP_FLAGS],
 *   env: [], ports: [{ flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics" }] });
 * export function parseXFlags(argv) {
 *   return parseProgramArgv(MY_PROGRAM, argv).andThen((v) => v.request ?? parseListenAddrFlag("metrics-addr", v.str("metrics-addr")) …);
 * }
 * // main.ts: const flags = configOrExit(MY_PROGRAM, parseXFlags(process.argv.slice(2)));
 * ```
 */
import { BUILD_INFO } from "./version.js";
import { err, ok, Result } from "neverthrow";
import { parseDuration as parseGoDuration } from "../../lib/util/index.js";
import { DEVELOPMENT_LOG_OPTIONS, LOG_LEVELS, PRODUCTION_LOG_OPTIONS, type LogEncoder, type LogOptions, type TimeEncoding } from "./log.js";

/** A listen address; `undefined` (from `0`) means disabled. Port 0 = any free port. */
export interface ListenAddr {
  /** Host part; empty = all interfaces. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** A value that does not parse as the type asked for (before it is tied to a flag). */
export interface ValueError {
  readonly kind: "invalid-duration" | "invalid-address" | "invalid-boolean" | "invalid-integer" | "invalid-ip";
  /** The rejected text. */
  readonly value: string;
  /** What is wrong, e.g. `missing unit in duration "10"`. */
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

/**
 * Parse a Go duration into milliseconds, as pflag's duration flags do (`time.ParseDuration`: `5m`,
 * `1h30m`, `1.5s`, `300us`, `-1s`, `0`); see lib's `util.parseDuration`. Whether a negative or zero
 * value makes sense is the flag's business.
 */
export function parseDuration(s: string): Result<number, ValueError> {
  return parseGoDuration(s);
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

/**
 * The longest delay Node's timers honour (2^31-1 ms, about 24.8 days): a longer one fires after
 * 1 ms, so an interval flag beyond it would run its loop back to back.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `--flag`'s duration used as a timer's interval or timeout: positive and at most
 * {@link MAX_TIMER_MS} (Go's tickers take any positive duration; Node's timers do not).
 */
export function parseIntervalFlag(flag: string, s: string): Result<number, FlagError> {
  return parseDurationFlag(flag, s).andThen((ms) => {
    if (!(ms > 0)) return err(invalidFlagValue(flag, s, "must be positive"));
    if (ms > MAX_TIMER_MS) return err(invalidFlagValue(flag, s, `${JSON.stringify(s)} is longer than 596h31m23.647s, the longest timer Node.js can run`));
    return ok(ms);
  });
}

/** Go's strconv.ParseBool spellings. */
const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** A Go-style boolean value of flag `--name` (`true`/`1`/`t`…, `false`/`0`/`f`…); `undefined` (not given) is `def`. */
export function parseBoolFlag(name: string, v: string | undefined, def: boolean): Result<boolean, FlagError> {
  if (v === undefined) return ok(def);
  if (TRUE.has(v)) return ok(true);
  if (FALSE.has(v)) return ok(false);
  return err(flagValueError(name, { kind: "invalid-boolean", value: v, message: `${JSON.stringify(v)} is not a boolean` }));
}


/**
 * A flag's value type: what the parser accepts and what `--help` shows after the name (pflag's type
 * names). `bool` takes no separate argument; `address` is a listen address, `level` klog's verbosity.
 */
export type FlagType = "bool" | "string" | "int" | "int32" | "uint" | "duration" | "address" | "ip" | "level";

/**
 * Where a flag (and its description) comes from: `coil` = Coil v2.15.0 has the flag and the
 * description is its pflag wording; `klog` / `zap` / `cobra` = the library flags Coil's binaries
 * register (klog.InitFlags, controller-runtime's zap.Options.BindFlags, cobra's help/version), with
 * their wording; `ours` = this implementation only.
 */
export type FlagOrigin = "coil" | "klog" | "zap" | "cobra" | "ours";

/** One command-line flag. */
export interface FlagDef {
  /** Long name, without dashes. */
  readonly name: string;
  /** One-letter shorthand (`-v`), if any. */
  readonly shorthand?: string;
  /** Value type. */
  readonly type: FlagType;
  /** Default as text (what the program uses when the flag is absent); absent = no default (empty). */
  readonly default?: string;
  /** One-line description, shown by `--help` and in the docs. */
  readonly description: string;
  /** Where the flag comes from. */
  readonly origin: FlagOrigin;
  /** Set when the flag is accepted (for manifest compatibility) but has no effect: says why. */
  readonly ignored?: string;
}

/** One environment variable a program reads. */
export interface EnvDef {
  /** Variable name. */
  readonly name: string;
  /** What it is for. */
  readonly description: string;
  /** Default when unset or empty. */
  readonly default?: string;
  /** The program refuses to start without it. */
  readonly required?: boolean;
}

/** One port or socket a program listens on. */
export interface PortDef {
  /** The flag that sets it (its default is the port shown in the docs). */
  readonly flag: string;
  /** Transport. */
  readonly protocol: "TCP" | "UDP" | "UNIX";
  /** What is served there. */
  readonly description: string;
}

/** Everything a program's command line, `--help` and docs page say about it. */
export interface ProgramDef<F extends readonly FlagDef[] = readonly FlagDef[]> {
  /** Executable name. */
  readonly name: string;
  /** One line (cobra's Short). */
  readonly summary: string;
  /** Paragraphs (cobra's Long), shown by `--help` and on the docs page. */
  readonly description: string;
  /** Usage line after the name; default `[flags]`. */
  readonly usage?: string;
  /** The program's own flags (`--help`/`--version` are added by {@link allFlags}). */
  readonly flags: F;
  /** Environment variables read. */
  readonly env: readonly EnvDef[];
  /** Ports and sockets served. */
  readonly ports: readonly PortDef[];
  /** Example command lines, shown by `--help`. */
  readonly examples?: readonly string[];
}

/** Identity helper keeping the flag names as literal types (so `str("typo")` does not compile). */
export function defineProgram<const F extends readonly FlagDef[]>(def: ProgramDef<F>): ProgramDef<F> {
  return def;
}

/** The name union of a program's flags. */
export type FlagName<P> = P extends ProgramDef<infer F> ? F[number]["name"] | "help" | "version" : never;

/** cobra's `-h, --help` and `--version` flags, added to every program. */
export function standardFlags(program: string): readonly FlagDef[] {
  return [
    { name: "help", shorthand: "h", type: "bool", default: "false", description: `help for ${program}`, origin: "cobra" },
    { name: "version", type: "bool", default: "false", description: `version for ${program}`, origin: "cobra" },
  ];
}

/** A program's flags with {@link standardFlags}, sorted by name as pflag lists them. */
export function allFlags(def: ProgramDef): readonly FlagDef[] {
  return [...def.flags, ...standardFlags(def.name)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * klog's flags (klog.InitFlags, k8s.io/klog/v2 v2.140.0), which Coil's coild, coil-ipam-controller,
 * coil-router, coil-egress and coil-egress-controller register: accepted and validated, without effect
 * (no klog here; the log level is `--zap-log-level`).
 */
export const KLOG_FLAGS: readonly FlagDef[] = [
  { name: "add_dir_header", type: "bool", default: "false", description: "If true, adds the file directory to the header of the log messages", origin: "klog", ignored: "no klog here" },
  { name: "alsologtostderr", type: "bool", default: "false", description: "log to standard error as well as files (no effect when -logtostderr=true)", origin: "klog", ignored: "no klog here" },
  { name: "alsologtostderrthreshold", type: "string", description: "logs at or above this threshold go to stderr when -alsologtostderr=true (no effect when -logtostderr=true)", origin: "klog", ignored: "no klog here" },
  { name: "legacy_stderr_threshold_behavior", type: "bool", default: "true", description: "If true, stderrthreshold is ignored when logtostderr=true (legacy behavior). If false, stderrthreshold is honored even when logtostderr=true", origin: "klog", ignored: "no klog here" },
  { name: "log_backtrace_at", type: "string", description: "when logging hits line file:N, emit a stack trace", origin: "klog", ignored: "no klog here" },
  { name: "log_dir", type: "string", description: "If non-empty, write log files in this directory (no effect when -logtostderr=true)", origin: "klog", ignored: "logs go to stderr" },
  { name: "log_file", type: "string", description: "If non-empty, use this log file (no effect when -logtostderr=true)", origin: "klog", ignored: "logs go to stderr" },
  { name: "log_file_max_size", type: "uint", default: "1800", description: "Defines the maximum size a log file can grow to (no effect when -logtostderr=true). Unit is megabytes. If the value is 0, the maximum file size is unlimited.", origin: "klog", ignored: "logs go to stderr" },
  { name: "logtostderr", type: "bool", default: "true", description: "log to standard error instead of files", origin: "klog", ignored: "logs always go to stderr" },
  { name: "one_output", type: "bool", default: "false", description: "If true, only write logs to their native severity level (vs also writing to each lower severity level; no effect when -logtostderr=true)", origin: "klog", ignored: "no klog here" },
  { name: "skip_headers", type: "bool", default: "false", description: "If true, avoid header prefixes in the log messages", origin: "klog", ignored: "no klog here" },
  { name: "skip_log_headers", type: "bool", default: "false", description: "If true, avoid headers when opening log files (no effect when -logtostderr=true)", origin: "klog", ignored: "no klog here" },
  { name: "stderrthreshold", type: "string", default: "2", description: "logs at or above this threshold go to stderr when writing to files and stderr (no effect when -logtostderr=true or -alsologtostderr=true unless -legacy_stderr_threshold_behavior=false)", origin: "klog", ignored: "no klog here" },
  { name: "v", shorthand: "v", type: "level", default: "0", description: "number for the log level verbosity", origin: "klog", ignored: "no klog here; use --zap-log-level" },
  { name: "vmodule", type: "string", description: "comma-separated list of pattern=N settings for file-filtered logging", origin: "klog", ignored: "no klog here" },
];

/**
 * controller-runtime's zap flags (zap.Options.BindFlags, v0.23.3), which the same Coil programs
 * register, with its semantics ({@link parseLogFlags}): `--zap-devel` switches the defaults to
 * console lines, debug level and stack traces from warnings; the other four override one setting each.
 */
export const ZAP_FLAGS = [
  { name: "zap-devel", type: "bool", default: "false", description: "Development Mode defaults(encoder=consoleEncoder,logLevel=Debug,stackTraceLevel=Warn). Production Mode defaults(encoder=jsonEncoder,logLevel=Info,stackTraceLevel=Error)", origin: "zap" },
  { name: "zap-encoder", type: "string", description: "Zap log encoding (one of 'json' or 'console')", origin: "zap" },
  { name: "zap-log-level", type: "string", default: "info", description: "Zap Level to configure the verbosity of logging. Can be one of 'debug', 'info', 'error', 'panic'or any integer value > 0 which corresponds to custom debug levels of increasing verbosity", origin: "zap" },
  { name: "zap-stacktrace-level", type: "string", description: "Zap Level at and above which stacktraces are captured (one of 'info', 'error', 'panic').", origin: "zap" },
  { name: "zap-time-encoding", type: "string", description: "Zap time encoding (one of 'epoch', 'millis', 'nano', 'iso8601', 'rfc3339' or 'rfc3339nano'). Defaults to 'epoch'.", origin: "zap" },
] as const satisfies readonly FlagDef[];

/** The names of {@link ZAP_FLAGS}. */
type ZapFlagName = (typeof ZAP_FLAGS)[number]["name"];

/** zap's level names as `--zap-log-level` accepts them (controller-runtime's `levelStrings`). */
const ZAP_LEVELS: Readonly<Record<string, number>> = { debug: LOG_LEVELS.debug, info: LOG_LEVELS.info, error: LOG_LEVELS.error, panic: LOG_LEVELS.panic };

/** `--zap-stacktrace-level`'s names (controller-runtime's `stackLevelStrings`). */
const ZAP_STACK_LEVELS: Readonly<Record<string, number>> = { info: LOG_LEVELS.info, error: LOG_LEVELS.error, panic: LOG_LEVELS.panic };

/** `--zap-time-encoding`'s names; `nano` is the spelling the flag's help text uses for controller-runtime's `nanos`. */
const ZAP_TIME_ENCODINGS: Readonly<Record<string, TimeEncoding>> = {
  rfc3339nano: "rfc3339nano",
  rfc3339: "rfc3339",
  iso8601: "iso8601",
  millis: "millis",
  nanos: "nanos",
  nano: "nanos",
  epoch: "epoch",
};

/**
 * The {@link LogOptions} of a parsed command line with {@link ZAP_FLAGS}, as controller-runtime's
 * `zap.Options` reads them: production defaults ({@link PRODUCTION_LOG_OPTIONS}), or development ones
 * with `--zap-devel`; `--zap-encoder` (json|console), `--zap-log-level` (debug|info|error|panic or an
 * integer N > 0, i.e. debug lines of verbosity up to N), `--zap-stacktrace-level` (info|error|panic)
 * and `--zap-time-encoding` override them, in any order. Names are case-insensitive; anything else
 * is refused with controller-runtime's wording.
 */
export function parseLogFlags(v: Pick<FlagValues<ZapFlagName>, "given">): Result<LogOptions, FlagError> {
  const devel = parseBoolFlag("zap-devel", v.given("zap-devel"), false);
  if (devel.isErr()) return err(devel.error);
  const d = devel.value ? DEVELOPMENT_LOG_OPTIONS : PRODUCTION_LOG_OPTIONS;
  const pick = <T>(flag: ZapFlagName, what: string, read: (lower: string, raw: string) => T | undefined, def: T): Result<T, FlagError> => {
    const raw = v.given(flag);
    if (raw === undefined) return ok(def);
    const got = read(raw.toLowerCase(), raw);
    return got === undefined ? err(invalidFlagValue(flag, raw, `invalid ${what} "${raw}"`)) : ok(got);
  };
  const level = (lower: string, raw: string): number | undefined => {
    const named = ZAP_LEVELS[lower];
    if (named !== undefined) return named;
    return /^[+-]?\d+$/.test(raw) && Number(raw) > 0 && Number(raw) <= 128 ? -Number(raw) : undefined;
  };
  return Result.combine([
    pick<LogEncoder>("zap-encoder", "encoder value", (l) => (l === "json" || l === "console" ? l : undefined), d.encoder),
    pick("zap-log-level", "log level", level, d.level),
    pick("zap-stacktrace-level", "stacktrace level", (l) => ZAP_STACK_LEVELS[l], d.stacktraceLevel),
    pick("zap-time-encoding", "time-encoding value", (l) => ZAP_TIME_ENCODINGS[l], d.timeEncoding),
  ]).map(([encoder, level, stacktraceLevel, timeEncoding]) => ({ encoder, level, stacktraceLevel, timeEncoding }));
}

/** The parsed command line of a program: typed access to every flag's value. */
export interface FlagValues<N extends string> {
  /** `help` or `version` when `--help`/`--version` was given (the rest is then not validated further). */
  readonly request: "help" | "version" | undefined;
  /** The value given, else the flag's default, else "". */
  readonly str: (name: N) => string;
  /** The value given, `undefined` when the flag was absent. */
  readonly given: (name: N) => string | undefined;
  /** A boolean flag's value (given or default; already validated). */
  readonly bool: (name: N) => boolean;
  /** Arguments that are not flags (only when the caller allows them). */
  readonly positionals: readonly string[];
}

/** Options of {@link parseArgv}. */
export interface ParseArgvOptions {
  /** Accept non-flag arguments (sub-commands); default false. */
  readonly positionals?: boolean;
}

/** Validate `value` against the flag's type (ranges are the program's business). */
function checkType(f: FlagDef, value: string): Result<string, FlagError> {
  const bad = (why: string): Result<string, FlagError> => err(invalidFlagValue(f.name, value, why));
  switch (f.type) {
    case "bool":
      return parseBoolFlag(f.name, value, false).map(() => value);
    case "int":
    case "int32":
      return /^-?\d+$/.test(value) ? ok(value) : bad(`${JSON.stringify(value)} is not an integer`);
    case "uint":
    case "level":
      return /^\d+$/.test(value) ? ok(value) : bad(`${JSON.stringify(value)} is not a non-negative integer`);
    case "duration":
      return parseDurationFlag(f.name, value).map(() => value);
    case "address":
      return parseListenAddrFlag(f.name, value).map(() => value);
    case "string":
    case "ip":
      return ok(value);
  }
}

/**
 * Parse argv (without node and script) against `flags` with pflag's syntax (see the module doc).
 * Every value is checked against its flag's {@link FlagType}; an unknown flag, a missing value or a
 * stray argument is an `invalid-argv` error worded as pflag's.
 */
export function parseArgv<N extends string>(argv: readonly string[], flags: readonly FlagDef[], opts: ParseArgvOptions = {}): Result<FlagValues<N>, FlagError> {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.shorthand !== undefined).map((f) => [f.shorthand ?? "", f]));
  const values = new Map<string, string>();
  const positionals: string[] = [];
  const argvErr = (message: string): Result<FlagValues<N>, FlagError> => err({ kind: "invalid-argv", message });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let f: FlagDef | undefined;
    let inline: string | undefined;
    let shown: string;
    const long = a.startsWith("--") ? /^--([^-=][^=]*)(?:=([\s\S]*))?$/.exec(a) : /^-([^-=][^=]+)(?:=([\s\S]*))?$/.exec(a);
    const short = /^-([^-=])(=?)([\s\S]*)$/.exec(a);
    if (a.startsWith("--") || (long !== null && byName.has(long[1] ?? ""))) {
      if (long === null) return argvErr(`bad flag syntax: ${a}`);
      f = byName.get(long[1] ?? "");
      inline = long[2];
      shown = `--${long[1] ?? ""}`;
      if (f === undefined) return argvErr(`unknown flag: ${shown}`);
    } else if (short !== null) {
      f = byShort.get(short[1] ?? "");
      shown = `-${short[1] ?? ""}`;
      if (f === undefined) return argvErr(`unknown shorthand flag: '${short[1] ?? ""}' in ${a}`);
      inline = short[2] === "=" || (short[3] ?? "") !== "" ? (short[3] ?? "") : undefined;
      if (f.type === "bool" && short[2] !== "=" && inline !== undefined) return argvErr(`unknown shorthand flag: '${inline.slice(0, 1)}' in ${a}`);
    } else {
      if (opts.positionals !== true) return argvErr(`unexpected argument ${JSON.stringify(a)}`);
      positionals.push(a);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (f.type === "bool") value = "true";
      else if (i + 1 < argv.length) value = argv[++i] ?? "";
      else return argvErr(`flag needs an argument: ${shown}`);
    }
    const checked = checkType(f, value);
    if (checked.isErr()) return err(checked.error);
    values.set(f.name, value);
  }
  const str = (n: string): string => values.get(n) ?? byName.get(n)?.default ?? "";
  const request = values.has("help") && TRUE.has(values.get("help") ?? "") ? "help" : values.has("version") && TRUE.has(values.get("version") ?? "") ? "version" : undefined;
  return ok({
    request,
    str,
    given: (n: string) => values.get(n),
    bool: (n: string) => TRUE.has(str(n)),
    positionals,
  });
}

/** Parse a program's argv against its definition ({@link allFlags}). */
export function parseProgramArgv<P extends ProgramDef>(def: P, argv: readonly string[], opts: ParseArgvOptions = {}): Result<FlagValues<FlagName<P>>, FlagError> {
  return parseArgv<FlagName<P>>(argv, allFlags(def), opts);
}

/** pflag's type name shown after a flag in `--help` ("" for booleans). */
export function typeName(t: FlagType): string {
  switch (t) {
    case "bool":
      return "";
    case "address":
    case "ip":
      return "string";
    case "level":
      return "Level";
    default:
      return t;
  }
}

/** The `(default …)` suffix as pflag prints it: none for zero values, strings quoted. */
export function defaultText(f: FlagDef): string {
  const d = f.default;
  if (d === undefined || d === "" || d === "false" || (d === "0" && f.type !== "string")) return "";
  return f.type === "string" || f.type === "address" || f.type === "ip" ? ` (default ${JSON.stringify(d)})` : ` (default ${d})`;
}

/** pflag's flag table: `  -h, --help   help for x (default …)`, aligned. */
export function flagTable(flags: readonly FlagDef[]): string {
  const left = flags.map((f) => `${f.shorthand === undefined ? "      " : `  -${f.shorthand}, `}--${f.name}${typeName(f.type) === "" ? "" : ` ${typeName(f.type)}`}`);
  const width = Math.max(0, ...left.map((l) => l.length));
  return flags.map((f, i) => `${(left[i] ?? "").padEnd(width)}   ${f.description}${defaultText(f)}${f.ignored === undefined ? "" : " [no effect here]"}`).join("\n");
}

/** `--help` text, cobra's layout: description, usage, examples, flags, environment. */
export function renderHelp(def: ProgramDef): string {
  const parts = [def.description.trim(), `Usage:\n  ${def.name} ${def.usage ?? "[flags]"}`];
  if (def.examples !== undefined && def.examples.length > 0) parts.push(`Examples:\n${def.examples.map((e) => `  ${e}`).join("\n")}`);
  parts.push(`Flags:\n${flagTable(allFlags(def))}`);
  if (def.env.length > 0) {
    const width = Math.max(...def.env.map((e) => e.name.length));
    const line = (e: EnvDef): string => `  ${e.name.padEnd(width)}   ${e.required === true ? "(required) " : ""}${e.description}${e.default === undefined ? "" : ` (default ${JSON.stringify(e.default)})`}`;
    parts.push(`Environment:\n${def.env.map(line).join("\n")}`);
  }
  return `${parts.join("\n\n")}\n`;
}

/** `--version` text, cobra's (`coild version 2.15.0`) plus the commit the program was built from. */
export function versionText(program: string): string {
  return `${program} version ${BUILD_INFO.version} (commit ${BUILD_INFO.commit})\n`;
}

/** What a program's entry point does with its parsed command line. */
export type CliOutcome<T> =
  /** Start with this configuration. */
  | { readonly kind: "run"; readonly config: T }
  /** Print and exit (help, version, refused flags). */
  | { readonly kind: "exit"; readonly code: number; readonly stdout: string; readonly stderr: string };

/**
 * Settle a parse result: `help` → help on stdout, exit 0; `version` → version on stdout, exit 0; an
 * error → `<name>: <message>` and the help on stderr, exit 2; else run.
 */
export function cliOutcome<T>(def: ProgramDef, parsed: Result<T | "help" | "version", FlagError>): CliOutcome<T> {
  if (parsed.isErr()) return { kind: "exit", code: 2, stdout: "", stderr: `${def.name}: ${parsed.error.message}\n\n${renderHelp(def)}` };
  if (parsed.value === "help") return { kind: "exit", code: 0, stdout: renderHelp(def), stderr: "" };
  if (parsed.value === "version") return { kind: "exit", code: 0, stdout: versionText(def.name), stderr: "" };
  return { kind: "run", config: parsed.value };
}

/**
 * A program's entry point: the configuration, or print and exit as {@link cliOutcome} says. The one
 * function here that touches the process (stdout, stderr, exit).
 */
export function configOrExit<T>(def: ProgramDef, parsed: Result<T | "help" | "version", FlagError>): T {
  const o = cliOutcome(def, parsed);
  if (o.kind === "run") return o.config;
  if (o.stdout !== "") process.stdout.write(o.stdout);
  if (o.stderr !== "") process.stderr.write(o.stderr);
  return process.exit(o.code);
}

/** A controller's leader election settings (`--leader-elect*`, see {@link leaderElectionFlags}). */
export interface LeaderElectionConfig {
  /** `--leader-elect` (default true). */
  readonly leaderElect: boolean;
  /** `--leader-elect-namespace` (default `kube-system`). */
  readonly leaderElectNamespace: string;
  /** `--leader-elect-id`: the Lease's name. */
  readonly leaderElectId: string;
  /** `--leader-elect-lease-duration` (default 15s). */
  readonly leaseDurationMs: number;
  /** `--leader-elect-renew-deadline` (default 10s). */
  readonly renewDeadlineMs: number;
  /** `--leader-elect-retry-period` (default 2s). */
  readonly retryPeriodMs: number;
}

/**
 * This project's `--leader-elect*` flags of a controller whose Lease is named `id` (Coil's controllers
 * elect with fixed settings in code; these make them tunable, with Coil's values as defaults).
 */
export function leaderElectionFlags<const Id extends string>(id: Id) {
  return [
    { name: "leader-elect", type: "bool", default: "true", description: "elect a leader among the replicas (Lease); only the leader reconciles", origin: "ours" },
    { name: "leader-elect-namespace", type: "string", default: "kube-system", description: "namespace of the leader election Lease", origin: "ours" },
    { name: "leader-elect-id", type: "string", default: id, description: "name of the leader election Lease (Coil's)", origin: "ours" },
    { name: "leader-elect-lease-duration", type: "duration", default: "15s", description: "how long a non-leader waits before taking over an unrenewed lease", origin: "ours" },
    { name: "leader-elect-renew-deadline", type: "duration", default: "10s", description: "how long the leader retries renewing before it gives up leading", origin: "ours" },
    { name: "leader-elect-retry-period", type: "duration", default: "2s", description: "interval between leader election attempts", origin: "ours" },
  ] as const satisfies readonly FlagDef[];
}

/** The names of {@link leaderElectionFlags}. */
type LeaderFlagName = ReturnType<typeof leaderElectionFlags>[number]["name"];

/**
 * Read the {@link leaderElectionFlags} of a parsed command line; the durations must satisfy
 * retry-period < renew-deadline < lease-duration (else `conflicting-flags`).
 */
export function parseLeaderElection(v: Pick<FlagValues<LeaderFlagName>, "str" | "given">): Result<LeaderElectionConfig, FlagError> {
  const d = (k: "leader-elect-lease-duration" | "leader-elect-renew-deadline" | "leader-elect-retry-period"): Result<number, FlagError> => parseIntervalFlag(k, v.str(k));
  return Result.combine([parseBoolFlag("leader-elect", v.given("leader-elect"), true), d("leader-elect-lease-duration"), d("leader-elect-renew-deadline"), d("leader-elect-retry-period")]).andThen(
    ([leaderElect, leaseDurationMs, renewDeadlineMs, retryPeriodMs]): Result<LeaderElectionConfig, FlagError> => {
      if (!(retryPeriodMs > 0 && retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
        const flags = ["leader-elect-retry-period", "leader-elect-renew-deadline", "leader-elect-lease-duration"];
        return err({ kind: "conflicting-flags", flags, message: "leader election needs retry-period < renew-deadline < lease-duration" });
      }
      return ok({ leaderElect, leaderElectNamespace: v.str("leader-elect-namespace"), leaderElectId: v.str("leader-elect-id"), leaseDurationMs, renewDeadlineMs, retryPeriodMs });
    },
  );
}
