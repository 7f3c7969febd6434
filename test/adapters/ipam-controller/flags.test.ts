import t from "tap";
import { parseDuration, parseIpamControllerFlags, usage, type IpamControllerFlags } from "../../../adapters/ipam-controller/flags.js";

t.test("defaults are Coil's (but 16 BlockRequest workers)", async (t) => {
  const f = parseIpamControllerFlags([])._unsafeUnwrap();
  t.not(f, "help");
  if (typeof f === "string") return;
  t.same(f.metricsAddr, { host: "", port: 9386 });
  t.same(f.healthAddr, { host: "", port: 9387 });
  t.same(f.webhookAddr, { host: "", port: 9443 });
  t.equal(f.certDir, "/certs");
  t.equal(f.gcIntervalMs, 3_600_000);
  t.same([f.enableCertRotation, f.enableRestartOnCertRefresh], [false, false]);
  t.same([f.leaderElect, f.leaderElectNamespace, f.leaderElectId], [true, "kube-system", "coil-ipam-leader"]);
  t.same([f.leaseDurationMs, f.renewDeadlineMs, f.retryPeriodMs], [15_000, 10_000, 2_000]);
  t.equal(f.concurrency, 16, "16 BlockRequest workers by default (Coil: 1)");
  t.equal(f.kubeconfig, undefined);
});

const cases = [
  { name: "gc interval as e2e patches it", argv: ["--gc-interval=10s"], pick: (f: IpamControllerFlags): unknown => f.gcIntervalMs, want: 10_000 },
  { name: "bare boolean", argv: ["--enable-cert-rotation"], pick: (f: IpamControllerFlags): unknown => f.enableCertRotation, want: true },
  { name: "explicit false", argv: ["--leader-elect=false"], pick: (f: IpamControllerFlags): unknown => f.leaderElect, want: false },
  { name: "metrics disabled", argv: ["--metrics-addr=0"], pick: (f: IpamControllerFlags): unknown => f.metricsAddr, want: undefined },
  { name: "ipv6 listen", argv: ["--health-addr=[::1]:8080"], pick: (f: IpamControllerFlags): unknown => f.healthAddr, want: { host: "::1", port: 8080 } },
  { name: "kubeconfig", argv: ["--kubeconfig", "/tmp/kc"], pick: (f: IpamControllerFlags): unknown => f.kubeconfig, want: "/tmp/kc" },
  { name: "zap flags accepted", argv: ["--zap-log-level=debug", "--zap-encoder=json"], pick: (f: IpamControllerFlags): unknown => [f.log.level, f.log.encoder], want: [-1, "json"] },
];
for (const c of cases) {
  t.test(c.name, async (t) => {
    const f = parseIpamControllerFlags(c.argv)._unsafeUnwrap();
    if (typeof f === "string") return t.fail(`parsed as --${f}`);
    t.same(c.pick(f), c.want);
  });
}

const bad = [
  { argv: ["--gc-interval=soon"], why: /gc-interval/ },
  { argv: ["--gc-interval=0s"], why: /positive/ },
  { argv: ["--gc-interval=-1h"], why: /positive/ },
  { argv: ["--gc-interval=720h"], why: /--gc-interval: "720h" is longer than 596h31m23\.647s/ },
  { argv: ["--leader-elect-lease-duration=720h"], why: /--leader-elect-lease-duration: "720h" is longer than/ },
  { argv: ["--leader-elect-renew-deadline=20s"], why: /retry-period < renew-deadline < lease-duration/ },
  { argv: ["--metrics-addr=9386"], why: /invalid address/ },
  { argv: ["--webhook-addr=0"], why: /cannot be disabled/ },
  { argv: ["--enable-cert-rotation=maybe"], why: /not a boolean/ },
  { argv: ["--max-concurrent-reconciles=0"], why: /max-concurrent-reconciles/ },
  { argv: ["--unknown"], why: /unknown flag: --/ },
];
for (const c of bad) {
  t.test(`rejects ${c.argv.join(" ")}`, async (t) => {
    const r = parseIpamControllerFlags(c.argv);
    t.ok(r.isErr());
    if (r.isErr()) t.match(r.error.message, c.why);
  });
}

t.test("errors are kinds", async (t) => {
  t.match(parseIpamControllerFlags(["--leader-elect-renew-deadline=20s"])._unsafeUnwrapErr(), {
    kind: "conflicting-flags",
    flags: ["leader-elect-retry-period", "leader-elect-renew-deadline", "leader-elect-lease-duration"],
  });
  t.match(parseIpamControllerFlags(["--enable-cert-rotation=maybe"])._unsafeUnwrapErr(), {
    kind: "invalid-value",
    flag: "enable-cert-rotation",
    value: "maybe",
    cause: { kind: "invalid-boolean" },
  });
  t.match(parseIpamControllerFlags(["--max-concurrent-reconciles=65"])._unsafeUnwrapErr(), { kind: "invalid-value", flag: "max-concurrent-reconciles", value: "65" });
  t.match(parseIpamControllerFlags(["--unknown"])._unsafeUnwrapErr(), { kind: "invalid-argv" });
});

t.test("help and durations", async (t) => {
  t.equal(parseIpamControllerFlags(["--help"])._unsafeUnwrap(), "help");
  t.match(usage(), /--gc-interval duration +garbage collection interval \(default 1h0m0s\)/);
  t.same(parseDuration("1h30m").map((x) => x), parseDuration("90m"));
  t.ok(parseDuration("").isErr());
});
