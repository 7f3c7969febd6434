// coil-egress's command line and environment (adapters/egress/flags.ts): Coil's defaults, the
// required environment, refused values.
import t from "tap";
import { parseEgressFlags, type EgressFlags } from "../../../adapters/egress/flags.js";

const ENV = { COIL_POD_NAMESPACE: "ns", COIL_EGRESS_NAME: "eg", COIL_POD_ADDRESSES: "10.0.0.5,fd00::5", HOSTNAME: "eg-abc" };

function parsed(argv: readonly string[], env: Record<string, string> = ENV): EgressFlags {
  const f = parseEgressFlags(argv, env)._unsafeUnwrap();
  if (typeof f === "string") throw new Error(`parsed as --${f}`);
  return f;
}

t.test("defaults are Coil's; the environment names the Egress and the pod", async (t) => {
  const f = parsed([]);
  t.same([f.metricsAddr, f.healthAddr, f.fouPort, f.sportAuto, f.backend, f.tunnel], [{ host: "", port: 8080 }, { host: "", port: 8081 }, 5555, false, "iptables", "fou"]);
  t.same([f.namespace, f.egressName, f.podName, f.podIPv4 === undefined, f.podIPv6 === undefined], ["ns", "eg", "eg-abc", false, false]);
  t.same([f.kubeconfig, f.log.level], [undefined, 0]);
});

t.test("values given (as coil-egress-controller passes them)", async (t) => {
  const f = parsed(["--zap-stacktrace-level=panic", "--enable-sport-auto=true", "--backend=nftables", "--fou-port", "6000", "--tunnel=vxlan", "--metrics-addr=0"]);
  t.same([f.sportAuto, f.backend, f.fouPort, f.tunnel, f.metricsAddr], [true, "nftables", 6000, "vxlan", undefined]);
});

t.test("--help and --version need no environment", async (t) => {
  t.equal(parseEgressFlags(["--help"], {})._unsafeUnwrap(), "help");
  t.equal(parseEgressFlags(["--version"], {})._unsafeUnwrap(), "version");
});

t.test("refused", async (t) => {
  const bad: Array<[string[], Record<string, string>, string, RegExp]> = [
    [[], { ...ENV, COIL_POD_NAMESPACE: "" }, "missing-env", /COIL_POD_NAMESPACE environment variable should be set/],
    [[], { COIL_POD_NAMESPACE: "ns", COIL_EGRESS_NAME: "eg" }, "missing-env", /COIL_POD_ADDRESSES/],
    [[], { ...ENV, COIL_POD_ADDRESSES: "10.0.0.5,nope" }, "invalid-value", /COIL_POD_ADDRESSES: invalid address "nope"/],
    [["--backend=ipvs"], ENV, "invalid-value", /--backend: must be iptables or nftables/],
    [["--tunnel=gre"], ENV, "invalid-value", /--tunnel: must be fou or vxlan/],
    [["--fou-port=0"], ENV, "invalid-value", /--fou-port/],
    [["--enable-sport-auto=maybe"], ENV, "invalid-value", /--enable-sport-auto/],
    [["--egress-port=1"], ENV, "invalid-argv", /unknown flag: --egress-port/],
  ];
  for (const [argv, env, kind, why] of bad) {
    const e = parseEgressFlags(argv, env)._unsafeUnwrapErr();
    t.equal(e.kind, kind, `${argv.join(" ")} ${JSON.stringify(env)}`);
    t.match(e.message, why);
  }
});
