import t from "tap";
import { parseProtocolId, parseRouterFlags, usage } from "../../../adapters/router/flags.js";
import { PRODUCTION_LOG_OPTIONS } from "../../../adapters/common/log.js";

const ENV = { COIL_NODE_NAME: "node1" };

t.test("defaults are Coil's (§1.7)", async (t) => {
  t.same(parseRouterFlags([], ENV)._unsafeUnwrap(), {
    nodeName: "node1",
    metricsAddr: { host: "", port: 9388 },
    healthAddr: { host: "", port: 9389 },
    protocolId: 31,
    updateIntervalMs: 600_000,
    kubeconfig: undefined,
    log: PRODUCTION_LOG_OPTIONS,
  });
});

t.test("flags", async (t) => {
  const cases: Array<{ argv: string[]; want: Record<string, unknown> }> = [
    { argv: ["--metrics-addr", "127.0.0.1:0", "--health-addr=0"], want: { metricsAddr: { host: "127.0.0.1", port: 0 }, healthAddr: undefined } },
    { argv: ["--protocol-id", "99"], want: { protocolId: 99 } },
    { argv: ["--update-interval", "1m30s"], want: { updateIntervalMs: 90_000 } },
    { argv: ["--kubeconfig", "/tmp/kc", "--zap-log-level=debug"], want: { kubeconfig: "/tmp/kc", log: { level: -1 } } },
    { argv: ["--zap-stacktrace-level=panic"], want: { protocolId: 31, log: { stacktraceLevel: 4 } } },
  ];
  for (const c of cases) t.match(parseRouterFlags(c.argv, ENV)._unsafeUnwrap(), c.want, c.argv.join(" "));
  t.equal(parseRouterFlags(["--help"], {})._unsafeUnwrap(), "help", "--help needs no env");
  t.match(usage(), /--protocol-id int +route author ID \(default 31\)[\s\S]*Environment:\n {2}COIL_NODE_NAME +\(required\)/);
});

t.test("errors", async (t) => {
  const cases: Array<{ argv: string[]; env?: Record<string, string>; want: RegExp }> = [
    { argv: [], env: {}, want: /COIL_NODE_NAME/ },
    { argv: [], env: { COIL_NODE_NAME: "" }, want: /COIL_NODE_NAME/ },
    { argv: ["--protocol-id", "30"], want: /30 is coild's route protocol/ },
    { argv: ["--protocol-id", "0"], want: /not an integer in \[1, 255\]/ },
    { argv: ["--protocol-id", "256"], want: /not an integer/ },
    { argv: ["--protocol-id", "3x"], want: /not an integer/ },
    { argv: ["--update-interval", "0s"], want: /must be positive/ },
    { argv: ["--update-interval", "10"], want: /--update-interval: missing unit in duration "10"/ },
    { argv: ["--update-interval", "-10m"], want: /--update-interval: must be positive/ },
    { argv: ["--update-interval", "720h"], want: /--update-interval: "720h" is longer than 596h31m23\.647s/ },
    { argv: ["--metrics-addr", "nope"], want: /invalid address/ },
    { argv: ["--no-such-flag"], want: /unknown flag: --/ },
  ];
  for (const c of cases) {
    const r = parseRouterFlags(c.argv, c.env ?? ENV);
    t.ok(r.isErr(), `${c.argv.join(" ")}: error`);
    if (r.isErr()) t.match(r.error.message, c.want);
  }
  t.equal(parseProtocolId("31")._unsafeUnwrap(), 31);
});

t.test("errors are kinds: which flag, which value, which variable", async (t) => {
  t.match(parseRouterFlags([], {})._unsafeUnwrapErr(), { kind: "missing-env", name: "COIL_NODE_NAME" });
  t.match(parseRouterFlags(["--no-such-flag"], ENV)._unsafeUnwrapErr(), { kind: "invalid-argv" });
  t.match(parseRouterFlags(["--protocol-id", "30"], ENV)._unsafeUnwrapErr(), { kind: "invalid-value", flag: "protocol-id", value: "30" });
  t.match(parseRouterFlags(["--update-interval", "10"], ENV)._unsafeUnwrapErr(), {
    kind: "invalid-value",
    flag: "update-interval",
    value: "10",
    cause: { kind: "invalid-duration", value: "10" },
  });
  t.match(parseRouterFlags(["--metrics-addr", "nope"], ENV)._unsafeUnwrapErr(), { kind: "invalid-value", flag: "metrics-addr", cause: { kind: "invalid-address" } });
});
