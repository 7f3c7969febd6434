/**
 * coil-egress's configuration (Coil §1.6): env `COIL_POD_NAMESPACE` (the Egress namespace),
 * `COIL_EGRESS_NAME`, `COIL_POD_ADDRESSES` (the pod's `status.podIPs`, comma separated), `HOSTNAME`
 * (the `pod` label of the metrics); flags `--metrics-addr :8080`, `--health-addr :8081`,
 * `--fou-port 5555`, `--enable-sport-auto`, `--backend iptables|nftables`, plus this project's
 * `--tunnel fou|vxlan` (VXLAN for kernels without FoU) and `--kubeconfig`.
 */
import { err, ok, Result } from "neverthrow";
import { DEFAULT_FOU_PORT } from "../../lib/constants.js";
import { ipFamily, parseIp, type Ip } from "../../lib/net/index.js";
import {
  KLOG_FLAGS,
  ZAP_FLAGS,
  defineProgram,
  invalidFlagValue,
  parseBoolFlag,
  parseIntFlag,
  parseListenAddrFlag,
  parseProgramArgv,
  renderHelp,
  type FlagError,
  type ListenAddr,
  parseLogFlags,
} from "../common/flags.js";
import type { LogOptions } from "../common/log.js";

/** The tunnel encapsulation: Coil's FoU, or VXLAN (this project's addition). */
export type TunnelKind = "fou" | "vxlan";

/** The NAT rule backend. */
export type Backend = "iptables" | "nftables";

/** Parsed coil-egress configuration. */
export interface EgressFlags {
  /** `COIL_POD_NAMESPACE`: namespace of the Egress (and of this pod). */
  readonly namespace: string;
  /** `COIL_EGRESS_NAME`: name of the Egress this pod serves. */
  readonly egressName: string;
  /** The pod's IPv4 address from `COIL_POD_ADDRESSES`. */
  readonly podIPv4: Ip | undefined;
  /** The pod's IPv6 address from `COIL_POD_ADDRESSES`. */
  readonly podIPv6: Ip | undefined;
  /** `HOSTNAME`: the pod name used as the `pod` label of the metrics. */
  readonly podName: string;
  /** `--metrics-addr` (default `:8080`; `0` disables). */
  readonly metricsAddr: ListenAddr | undefined;
  /** `--health-addr` (default `:8081`; `0` disables). */
  readonly healthAddr: ListenAddr | undefined;
  /** `--fou-port` (default 5555): the tunnel's UDP port (also the VXLAN port). */
  readonly fouPort: number;
  /** `--enable-sport-auto`: encap source port chosen by the kernel (FoU). */
  readonly sportAuto: boolean;
  /** `--backend` (default `iptables`). */
  readonly backend: Backend;
  /** `--tunnel` (default `fou`). */
  readonly tunnel: TunnelKind;
  /** `--kubeconfig` (default: `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  readonly kubeconfig: string | undefined;
  /** How logs are written (`--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level`, `--zap-time-encoding`). */
  readonly log: LogOptions;
}

/** coil-egress's command line, environment and ports: the one definition its parser, `--help` and docs/programs/coil-egress.md use. */
export const EGRESS = defineProgram({
  name: "coil-egress",
  summary: "manage foo-over-udp tunnels in egress pods",
  description: "coil-egress manages Foo-over-UDP tunnels in pods created by Egress.",
  flags: [
    { name: "metrics-addr", type: "address", default: ":8080", description: "bind address of metrics endpoint", origin: "coil" },
    { name: "health-addr", type: "address", default: ":8081", description: "bind address of health/readiness probes", origin: "coil" },
    { name: "fou-port", type: "int", default: String(DEFAULT_FOU_PORT), description: "port number for foo-over-udp tunnels", origin: "coil" },
    { name: "enable-sport-auto", type: "bool", default: "false", description: "enable automatic source port assignment", origin: "coil" },
    { name: "backend", type: "string", default: "iptables", description: "Backend for egress NAT rules: iptables or nftables (default: iptables)", origin: "coil" },
    { name: "tunnel", type: "string", default: "fou", description: "tunnel encapsulation: fou (Coil's) or vxlan (for kernels without FoU; UDP port --fou-port)", origin: "ours" },
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [
    { name: "COIL_POD_NAMESPACE", description: "namespace of the Egress (and of this pod)", required: true },
    { name: "COIL_EGRESS_NAME", description: "name of the Egress this pod serves", required: true },
    { name: "COIL_POD_ADDRESSES", description: "this pod's addresses (status.podIPs, comma separated): the tunnels' local ends", required: true },
    { name: "HOSTNAME", description: "this pod's name: the pod label of the metrics" },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
  ],
  ports: [
    { flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics (GET /metrics)" },
    { flag: "health-addr", protocol: "TCP", description: "health and readiness probes (GET /healthz, /readyz)" },
    { flag: "fou-port", protocol: "UDP", description: "the tunnels from client pods (FoU, or VXLAN with --tunnel=vxlan)" },
  ],
});

/** The `--help` text. */
export function usage(): string {
  return renderHelp(EGRESS);
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): Result<string, FlagError> {
  const v = env[name] ?? "";
  return v === "" ? err({ kind: "missing-env", name, message: `${name} environment variable should be set` }) : ok(v);
}

/** Parse `COIL_POD_ADDRESSES` as Coil does: IPv4 → the v4 local, else the v6 local; an invalid entry is an error. */
export function parsePodAddresses(s: string): Result<{ v4: Ip | undefined; v6: Ip | undefined }, FlagError> {
  let v4: Ip | undefined;
  let v6: Ip | undefined;
  for (const part of s.split(",")) {
    const ip = parseIp(part.trim());
    if (ip.isErr()) return err({ kind: "invalid-value", flag: "COIL_POD_ADDRESSES", value: s, message: `COIL_POD_ADDRESSES: invalid address ${JSON.stringify(part)}` });
    if (ipFamily(ip.value) === 4) v4 = ip.value;
    else v6 = ip.value;
  }
  return ok({ v4, v6 });
}

/** Parse argv (without node and script) and the environment. `help`/`version` when `--help`/`--version` was given (the environment is then not read). */
export function parseEgressFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Result<EgressFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(EGRESS, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const log = parseLogFlags(v);
  if (log.isErr()) return err(log.error);
  const str = v.str;
  const backend = str("backend");
  if (backend !== "iptables" && backend !== "nftables") return err(invalidFlagValue("backend", backend, `must be iptables or nftables, got ${JSON.stringify(backend)}`));
  const tunnel = str("tunnel");
  if (tunnel !== "fou" && tunnel !== "vxlan") return err(invalidFlagValue("tunnel", tunnel, `must be fou or vxlan, got ${JSON.stringify(tunnel)}`));
  return Result.combine([required(env, "COIL_POD_NAMESPACE"), required(env, "COIL_EGRESS_NAME"), required(env, "COIL_POD_ADDRESSES")]).andThen(([namespace, egressName, addrs]) =>
    Result.combine([
      parseListenAddrFlag("metrics-addr", str("metrics-addr")),
      parseListenAddrFlag("health-addr", str("health-addr")),
      parseIntFlag("fou-port", str("fou-port"), 1, 65535),
      parseBoolFlag("enable-sport-auto", v.given("enable-sport-auto"), false),
      parsePodAddresses(addrs),
    ]).map(
      ([metricsAddr, healthAddr, fouPort, sportAuto, ips]): EgressFlags => ({
        namespace,
        egressName,
        podIPv4: ips.v4,
        podIPv6: ips.v6,
        podName: env["HOSTNAME"] ?? "",
        metricsAddr,
        healthAddr,
        fouPort,
        sportAuto,
        backend,
        tunnel,
        kubeconfig: v.given("kubeconfig"),
        log: log.value,
      }),
    ),
  );
}
