// The shared command-line definition (adapters/common/flags.ts): pflag's syntax, typed values,
// errors worded as pflag's, cobra's --help / --version.
import t from "tap";
import { KLOG_FLAGS, MAX_TIMER_MS, ZAP_FLAGS, cliOutcome, defineProgram, parseArgv, parseDurationFlag, parseIntervalFlag, parseProgramArgv, renderHelp, versionText, type FlagDef } from "../../../adapters/common/flags.js";
import { BUILD_INFO } from "../../../adapters/common/version.js";

const P = defineProgram({
  name: "prog",
  summary: "a test program",
  description: "prog does things.",
  flags: [
    { name: "addr", type: "address", default: ":9000", description: "bind address", origin: "ours" },
    { name: "count", type: "int", default: "3", description: "how many", origin: "ours" },
    { name: "every", type: "duration", default: "5m0s", description: "interval", origin: "ours" },
    { name: "on", type: "bool", default: "true", description: "switch", origin: "ours" },
    { name: "name", type: "string", description: "a name", origin: "ours" },
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [{ name: "PROG_NODE", description: "node", required: true }],
  ports: [{ flag: "addr", protocol: "TCP", description: "serves" }],
  examples: ["prog --count 2"],
});

const parse = (argv: string[]) => parseProgramArgv(P, argv);

t.test("defaults, given values, typed access", async (t) => {
  const v = parse([])._unsafeUnwrap();
  t.equal(v.request, undefined);
  t.equal(v.str("addr"), ":9000");
  t.equal(v.str("name"), "", "no default: empty");
  t.equal(v.given("name"), undefined);
  t.equal(v.bool("on"), true);
  const w = parse(["--addr=127.0.0.1:1", "--count", "7", "--on=false", "--name", "-x-"])._unsafeUnwrap();
  t.same([w.str("addr"), w.str("count"), w.bool("on"), w.str("name")], ["127.0.0.1:1", "7", false, "-x-"], "a value may start with a dash (pflag)");
  t.equal(parse(["--on"])._unsafeUnwrap().bool("on"), true, "bare boolean is true");
  t.equal(parse(["--on", "--count=1"])._unsafeUnwrap().str("count"), "1", "a bare boolean does not eat the next argument");
  for (const s of ["f", "F", "FALSE", "False", "0"]) t.equal(parse([`--on=${s}`])._unsafeUnwrap().bool("on"), false, `Go ParseBool ${s}`);
  t.equal(parse(["-count=9"])._unsafeUnwrap().str("count"), "9", "single-dash long name (Go flag style)");
  t.equal(parse(["--count=1", "--count=2"])._unsafeUnwrap().str("count"), "2", "last wins");
});

t.test("klog's -v in every form Coil's pflag accepts", async (t) => {
  for (const argv of [["-v", "4"], ["-v=4"], ["-v4"], ["--v=4"], ["--v", "4"]]) {
    t.equal(parse(argv)._unsafeUnwrap().str("v"), "4", argv.join(" "));
  }
  t.match(parse(["-v=x"])._unsafeUnwrapErr(), { kind: "invalid-value", flag: "v", message: /--v: "x" is not a non-negative integer/ });
  t.ok(parse(["--logtostderr=false", "--stderrthreshold=INFO", "--vmodule=a=2", "--log_file_max_size=10"]).isOk(), "the other klog flags");
  t.ok(parse(["--zap-devel", "--zap-encoder=console", "--zap-time-encoding=iso8601"]).isOk(), "zap flags");
});

t.test("errors are pflag's wording and kinds", async (t) => {
  const cases: Array<[string[], RegExp, string]> = [
    [["--nope"], /^unknown flag: --nope$/, "invalid-argv"],
    [["-x"], /^unknown shorthand flag: 'x' in -x$/, "invalid-argv"],
    [["--count"], /^flag needs an argument: --count$/, "invalid-argv"],
    [["-v"], /^flag needs an argument: -v$/, "invalid-argv"],
    [["stray"], /^unexpected argument "stray"$/, "invalid-argv"],
    [["--count=x"], /^--count: "x" is not an integer$/, "invalid-value"],
    [["--every=10"], /^--every: missing unit in duration "10"$/, "invalid-value"],
    [["--every=1d"], /^--every: unknown unit "d" in duration "1d"$/, "invalid-value"],
    [["--every=1h 30m"], /^--every: unknown unit "h " in duration "1h 30m"$/, "invalid-value"],
    [["--addr=nope"], /^--addr: invalid address "nope"$/, "invalid-value"],
    [["--on=maybe"], /^--on: "maybe" is not a boolean$/, "invalid-value"],
    [["-hx"], /unknown shorthand flag: 'x' in -hx/, "invalid-argv"],
  ];
  for (const [argv, msg, kind] of cases) {
    const r = parse(argv);
    t.ok(r.isErr(), argv.join(" "));
    if (r.isErr()) t.match(r.error, { kind, message: msg }, argv.join(" "));
  }
});

t.test("duration flags take all of Go's time.ParseDuration syntax, as pflag's do", async (t) => {
  for (const [text, ms] of [["1h30m", 5_400_000], ["1.5s", 1_500], ["300us", 0.3], ["-1s", -1_000], ["0", 0], ["+5m", 300_000], [".5s", 500], ["1h0m0s", 3_600_000], ["10\u00b5s", 0.01]] as const) {
    t.equal(parse([`--every=${text}`])._unsafeUnwrap().str("every"), text, `${text} accepted`);
    t.equal(parseDurationFlag("every", text)._unsafeUnwrap(), ms, `${text} = ${ms} ms`);
  }
  t.match(parseDurationFlag("every", "3000000h")._unsafeUnwrapErr(), { kind: "invalid-value", flag: "every", value: "3000000h", cause: { kind: "invalid-duration" }, message: '--every: invalid duration "3000000h"' }, "beyond Go's 2^63-1 ns");
});

t.test("interval flags: positive and within Node's timer range (a longer delay would fire after 1 ms)", async (t) => {
  t.equal(parseIntervalFlag("every", "596h31m23.647s")._unsafeUnwrap(), MAX_TIMER_MS);
  t.equal(parseIntervalFlag("every", "1h30m")._unsafeUnwrap(), 5_400_000);
  t.match(parseIntervalFlag("every", "596h31m23.648s")._unsafeUnwrapErr(), { kind: "invalid-value", flag: "every", message: '--every: "596h31m23.648s" is longer than 596h31m23.647s, the longest timer Node.js can run' });
  t.match(parseIntervalFlag("every", "720h")._unsafeUnwrapErr(), { kind: "invalid-value", flag: "every", value: "720h" });
  for (const z of ["0", "0s", "-1s"]) t.match(parseIntervalFlag("every", z)._unsafeUnwrapErr(), { kind: "invalid-value", flag: "every", message: "--every: must be positive" }, z);
  t.match(parseIntervalFlag("every", "soon")._unsafeUnwrapErr(), { kind: "invalid-value", flag: "every", message: '--every: invalid duration "soon"' });
});

t.test("positionals only when allowed; -- ends the flags", async (t) => {
  const v = parseArgv<string>(["sub", "--x=1", "--", "--not-a-flag"], [{ name: "x", type: "int", description: "", origin: "ours" }], { positionals: true })._unsafeUnwrap();
  t.same(v.positionals, ["sub", "--not-a-flag"]);
  t.equal(v.str("x"), "1");
});

t.test("--help and --version", async (t) => {
  t.equal(parse(["--help"])._unsafeUnwrap().request, "help");
  t.equal(parse(["-h"])._unsafeUnwrap().request, "help");
  t.equal(parse(["--version"])._unsafeUnwrap().request, "version");
  t.equal(parse(["--help=false"])._unsafeUnwrap().request, undefined);
  const help = renderHelp(P);
  t.match(help, /^prog does things\.\n\nUsage:\n {2}prog \[flags\]\n\nExamples:\n {2}prog --count 2\n\nFlags:\n/);
  t.match(help, /\n {6}--addr string +bind address \(default ":9000"\)\n/, "string defaults quoted");
  t.match(help, /\n {6}--count int +how many \(default 3\)\n/);
  t.match(help, /\n {6}--every duration +interval \(default 5m0s\)\n/);
  t.match(help, /\n {2}-h, --help +help for prog\n/);
  t.match(help, /\n {2}-v, --v Level +number for the log level verbosity \[no effect here\]\n/);
  t.match(help, /\n {6}--version +version for prog\n/);
  t.match(help, /\nEnvironment:\n {2}PROG_NODE {3}\(required\) node\n$/);
  const names = [...help.matchAll(/^ {2}(?:-\w, | {4})--(\S+)/gm)].map((m) => m[1]);
  t.same(names, [...names].sort(), "flags sorted by name, as pflag lists them");
  t.equal(new Set(names).size, P.flags.length + 2, "every flag listed once, plus help and version");
  t.equal(versionText("prog"), `prog version ${BUILD_INFO.version} (commit ${BUILD_INFO.commit})\n`);
  t.equal(BUILD_INFO.version, "(devel)", "from source: no embedded version");
  t.equal(BUILD_INFO.commit, "unknown");
});

t.test("cliOutcome: help/version on stdout exit 0, errors on stderr exit 2", async (t) => {
  t.match(cliOutcome(P, parse(["--help"]).map((v) => v.request ?? 1)), { kind: "exit", code: 0, stdout: /^prog does things/, stderr: "" });
  t.match(cliOutcome(P, parse(["--version"]).map((v) => v.request ?? 1)), { kind: "exit", code: 0, stdout: /^prog version /, stderr: "" });
  t.match(cliOutcome(P, parse(["--nope"]).map((v) => v.request ?? 1)), { kind: "exit", code: 2, stdout: "", stderr: /^prog: unknown flag: --nope\n\nprog does things/ });
  t.same(cliOutcome(P, parse([]).map((v) => v.request ?? 1)), { kind: "run", config: 1 });
});

t.test("every klog/zap flag has a description and a known origin", async (t) => {
  const all: readonly FlagDef[] = [...KLOG_FLAGS, ...ZAP_FLAGS];
  for (const f of all) t.ok(f.description.length > 10 && (f.origin === "klog" || f.origin === "zap"), f.name);
});
