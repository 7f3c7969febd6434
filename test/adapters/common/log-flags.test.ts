// The --zap-* flags read as controller-runtime's zap.Options reads them (parseLogFlags), in every
// program that registers them.
import t from "tap";
import { ZAP_FLAGS, parseArgv, parseLogFlags, type FlagError } from "../../../adapters/common/flags.js";
import { DEVELOPMENT_LOG_OPTIONS, PRODUCTION_LOG_OPTIONS, type LogOptions } from "../../../adapters/common/log.js";
import { parseCoildFlags } from "../../../adapters/daemon/flags.js";
import { parseIpamControllerFlags } from "../../../adapters/ipam-controller/flags.js";
import { parseEgressControllerFlags } from "../../../adapters/egress-controller/flags.js";
import { parseRouterFlags } from "../../../adapters/router/flags.js";
import { parseEgressFlags } from "../../../adapters/egress/flags.js";
import type { Result } from "neverthrow";

function parse(argv: readonly string[]): Result<LogOptions, FlagError> {
  return parseArgv<(typeof ZAP_FLAGS)[number]["name"]>(argv, ZAP_FLAGS).andThen((v) => parseLogFlags(v));
}

t.test("defaults are controller-runtime's production ones; --zap-devel its development ones", async (t) => {
  t.same(parse([])._unsafeUnwrap(), PRODUCTION_LOG_OPTIONS);
  t.same(PRODUCTION_LOG_OPTIONS, { encoder: "json", level: 0, stacktraceLevel: 2, timeEncoding: "rfc3339" });
  t.same(parse(["--zap-devel"])._unsafeUnwrap(), DEVELOPMENT_LOG_OPTIONS);
  t.same(DEVELOPMENT_LOG_OPTIONS, { encoder: "console", level: -1, stacktraceLevel: 1, timeEncoding: "rfc3339" });
  t.same(parse(["--zap-devel=false"])._unsafeUnwrap(), PRODUCTION_LOG_OPTIONS);
});

t.test("each flag overrides one setting, before or after --zap-devel", async (t) => {
  const cases: Array<[string[], Partial<LogOptions>]> = [
    [["--zap-encoder=console"], { encoder: "console", level: 0 }],
    [["--zap-encoder", "JSON"], { encoder: "json" }],
    [["--zap-encoder=json", "--zap-devel"], { encoder: "json", level: -1, stacktraceLevel: 1 }],
    [["--zap-devel", "--zap-log-level=info"], { encoder: "console", level: 0 }],
    [["--zap-log-level=debug"], { level: -1 }],
    [["--zap-log-level=Error"], { level: 2 }],
    [["--zap-log-level=panic"], { level: 4 }],
    [["--zap-log-level=3"], { level: -3 }],
    [["--zap-stacktrace-level=panic"], { stacktraceLevel: 4 }],
    [["--zap-stacktrace-level=info"], { stacktraceLevel: 0 }],
    [["--zap-time-encoding=epoch"], { timeEncoding: "epoch" }],
    [["--zap-time-encoding=millis"], { timeEncoding: "millis" }],
    [["--zap-time-encoding=nanos"], { timeEncoding: "nanos" }],
    [["--zap-time-encoding=nano"], { timeEncoding: "nanos" }],
    [["--zap-time-encoding=ISO8601"], { timeEncoding: "iso8601" }],
    [["--zap-time-encoding=rfc3339"], { timeEncoding: "rfc3339" }],
    [["--zap-time-encoding=rfc3339nano"], { timeEncoding: "rfc3339nano" }],
  ];
  for (const [argv, want] of cases) t.match(parse(argv)._unsafeUnwrap(), want, argv.join(" "));
});

t.test("bad values are refused with controller-runtime's wording, naming the flag", async (t) => {
  const cases: Array<[string[], string]> = [
    [["--zap-encoder=text"], '--zap-encoder: invalid encoder value "text"'],
    [["--zap-log-level=warn"], '--zap-log-level: invalid log level "warn"'],
    [["--zap-log-level=0"], '--zap-log-level: invalid log level "0"'],
    [["--zap-log-level=-2"], '--zap-log-level: invalid log level "-2"'],
    [["--zap-stacktrace-level=debug"], '--zap-stacktrace-level: invalid stacktrace level "debug"'],
    [["--zap-time-encoding=unix"], '--zap-time-encoding: invalid time-encoding value "unix"'],
    [["--zap-devel=maybe"], '--zap-devel: "maybe" is not a boolean'],
  ];
  for (const [argv, message] of cases) {
    const e = parse(argv)._unsafeUnwrapErr();
    t.match(e, { kind: "invalid-value", flag: argv[0]?.slice(2).split("=")[0], message }, argv.join(" "));
  }
});

t.test("every program that registers the zap flags reads them", async (t) => {
  const argv = ["--zap-encoder=console", "--zap-log-level=error", "--zap-time-encoding=iso8601"];
  const want = { encoder: "console", level: 2, stacktraceLevel: 2, timeEncoding: "iso8601" };
  const egressEnv = { COIL_POD_NAMESPACE: "ns", COIL_EGRESS_NAME: "eg", COIL_POD_ADDRESSES: "10.0.0.1" };
  const parsed: Array<[string, unknown]> = [
    ["coild", parseCoildFlags(argv, {})._unsafeUnwrap()],
    ["coil-ipam-controller", parseIpamControllerFlags(argv)._unsafeUnwrap()],
    ["coil-egress-controller", parseEgressControllerFlags(argv)._unsafeUnwrap()],
    ["coil-router", parseRouterFlags(argv, { COIL_NODE_NAME: "n1" })._unsafeUnwrap()],
    ["coil-egress", parseEgressFlags(argv, egressEnv)._unsafeUnwrap()],
  ];
  for (const [name, f] of parsed) t.same((f as { log: LogOptions }).log, want, name);
  t.match(parseCoildFlags(["--zap-log-level=verbose"], {})._unsafeUnwrapErr(), { kind: "invalid-value", flag: "zap-log-level" }, "a program refuses a bad value");
});
