// coil-egress-controller's command line (adapters/egress-controller/flags.ts): Coil's defaults, this
// project's leader-election flags (adapters/common/flags.ts leaderElectionFlags), refused values.
import t from "tap";
import { parseEgressControllerFlags, type EgressControllerFlags } from "../../../adapters/egress-controller/flags.js";

function parsed(argv: readonly string[]): EgressControllerFlags {
  const f = parseEgressControllerFlags(argv)._unsafeUnwrap();
  if (typeof f === "string") throw new Error(`parsed as --${f}`);
  return f;
}

t.test("defaults are Coil's", async (t) => {
  const f = parsed([]);
  t.same([f.metricsAddr, f.healthAddr, f.webhookAddr], [{ host: "", port: 9396 }, { host: "", port: 9397 }, { host: "", port: 9444 }]);
  t.same([f.certDir, f.egressPort, f.backend, f.tunnel], ["/certs", 5555, "iptables", "fou"]);
  t.same([f.enableCertRotation, f.enableRestartOnCertRefresh, f.kubeconfig, f.log.level], [false, false, undefined, 0]);
  t.same([f.leaderElect, f.leaderElectNamespace, f.leaderElectId], [true, "kube-system", "coil-egress-leader"]);
  t.same([f.leaseDurationMs, f.renewDeadlineMs, f.retryPeriodMs], [15_000, 10_000, 2_000]);
});

t.test("values given", async (t) => {
  const f = parsed(["--egress-port", "5566", "--backend=nftables", "--tunnel=vxlan", "--enable-cert-rotation", "--leader-elect=false", "--leader-elect-id=x", "--leader-elect-retry-period=1s", "--kubeconfig", "/kc", "--zap-log-level=debug", "-v", "2"]);
  t.same([f.egressPort, f.backend, f.tunnel, f.enableCertRotation, f.leaderElect, f.leaderElectId, f.retryPeriodMs, f.kubeconfig, f.log.level], [5566, "nftables", "vxlan", true, false, "x", 1000, "/kc", -1]);
  t.equal(parseEgressControllerFlags(["--help"])._unsafeUnwrap(), "help");
  t.equal(parseEgressControllerFlags(["--version"])._unsafeUnwrap(), "version");
});

t.test("refused", async (t) => {
  const bad: Array<[string[], string, RegExp]> = [
    [["--backend=ipvs"], "invalid-value", /--backend: invalid backend: ipvs/],
    [["--tunnel=ipip"], "invalid-value", /--tunnel: must be fou or vxlan, got "ipip"/],
    [["--egress-port=x"], "invalid-value", /--egress-port: "x" is not an integer/],
    [["--egress-port=70000"], "invalid-value", /--egress-port: "70000" is not an integer in \[1, 65535\]/],
    [["--webhook-addr=0"], "invalid-value", /--webhook-addr: cannot be disabled/],
    [["--leader-elect-renew-deadline=20s"], "conflicting-flags", /retry-period < renew-deadline < lease-duration/],
    [["--leader-elect-lease-duration=soon"], "invalid-value", /--leader-elect-lease-duration: invalid duration/],
    [["--gc-interval=1h"], "invalid-argv", /unknown flag: --gc-interval/],
  ];
  for (const [argv, kind, why] of bad) {
    const e = parseEgressControllerFlags(argv)._unsafeUnwrapErr();
    t.equal(e.kind, kind, argv.join(" "));
    t.match(e.message, why, argv.join(" "));
  }
});
