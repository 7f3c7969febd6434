import t from "tap";
import { parseCoildFlags, parseDuration, parseListenAddr } from "../../../adapters/daemon/flags.js";

t.test("defaults are Coil's", async (t) => {
  const f = parseCoildFlags([])._unsafeUnwrap();
  t.not(f, "help");
  if (typeof f === "string") return;
  t.match(f, {
    metricsAddr: { host: "", port: 9384 },
    healthAddr: { host: "", port: 9385 },
    podTableId: 116,
    podRulePrio: 2000,
    exportTableId: 119,
    protocolId: 30,
    socket: "/run/coild.sock",
    compatCalico: false,
    enableIpam: true,
    enableEgress: true,
    enableStaticIp: true,
    addressBlockGcIntervalMs: 300_000,
    backend: "iptables",
    store: "local",
    stateDir: "/var/lib/coil",
  });
});

t.test("Go-style booleans, durations, addresses", async (t) => {
  const f = parseCoildFlags(["--compat-calico", "--enable-egress=false", "--enable-static-ip=false", "--addressblock-gc-interval=1h30m", "--metrics-addr=127.0.0.1:0", "--health-addr", "[::1]:9999", "--node-ipv4=10.0.0.1", "--zap-stacktrace-level=panic"])._unsafeUnwrap();
  if (typeof f === "string") return t.fail(f);
  t.match(f, { compatCalico: true, enableEgress: false, enableStaticIp: false, addressBlockGcIntervalMs: 5_400_000, metricsAddr: { host: "127.0.0.1", port: 0 }, healthAddr: { host: "::1", port: 9999 }, nodeIPv4: "10.0.0.1" });
  t.same(parseDuration("500ms")._unsafeUnwrap(), 500);
  t.ok(parseDuration("5x").isErr());
  t.same(parseListenAddr("0")._unsafeUnwrap(), undefined);
});

t.test("errors", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--enable-ipam=false", "--enable-egress=false"], /both IPAM and egress are disabled/],
    [["--backend=pf"], /--backend/],
    [["--store=etcd"], /--store/],
    [["--pod-table-id=x"], /--pod-table-id/],
    [["--protocol-id=256"], /--protocol-id/],
    [["--node-ipv4=fd00::1"], /--node-ipv4/],
    [["--nope"], /unknown flag: --/],
    [["--compat-calico=maybe"], /not a boolean/],
    // Go's time.NewTicker refuses a non-positive interval; Node's setInterval would run GC every 1 ms.
    [["--addressblock-gc-interval=0s"], /^--addressblock-gc-interval: must be positive$/],
    [["--addressblock-gc-interval=-5m"], /^--addressblock-gc-interval: must be positive$/],
    [["--addressblock-gc-interval=720h"], /^--addressblock-gc-interval: "720h" is longer than 596h31m23\.647s/],
  ];
  for (const [argv, want] of cases) {
    const r = parseCoildFlags(argv);
    t.ok(r.isErr(), argv.join(" "));
    if (r.isErr()) t.match(r.error.message, want);
  }
  t.equal(parseCoildFlags(["--help"])._unsafeUnwrap(), "help");
});
