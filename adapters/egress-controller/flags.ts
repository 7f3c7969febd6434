/**
 * coil-egress-controller's command line: Coil's flags (§1.5, same names and defaults) plus
 * `--kubeconfig` and leader-election tuning. Go-style booleans (`--flag`, `--flag=true|false`) and
 * durations (`10s`, `500ms`).
 */
import { err, ok, Result } from "neverthrow";
import { DEFAULT_FOU_PORT, PORTS } from "../../lib/constants.js";
import {
  KLOG_FLAGS,
  ZAP_FLAGS,
  defineProgram,
  invalidFlagValue,
  leaderElectionFlags,
  parseBoolFlag,
  parseIntFlag,
  parseLeaderElection,
  parseListenAddrFlag,
  parseProgramArgv,
  renderHelp,
  type FlagError,
  type LeaderElectionConfig,
  type ListenAddr,
  parseLogFlags,
} from "../common/flags.js";
import type { LogOptions } from "../common/log.js";

/** Parsed configuration. */
export interface EgressControllerFlags extends LeaderElectionConfig {
  /** `--metrics-addr` (default `:9396`). */
  readonly metricsAddr: ListenAddr | undefined;
  /** `--health-addr` (default `:9397`). */
  readonly healthAddr: ListenAddr | undefined;
  /** `--webhook-addr` (default `:9444`). */
  readonly webhookAddr: ListenAddr;
  /** `--cert-dir` (default `/certs`). */
  readonly certDir: string;
  /** `--egress-port` (default 5555): the egress Services' UDP port. */
  readonly egressPort: number;
  /** `--backend` (default `iptables`): passed to the egress pods. */
  readonly backend: "iptables" | "nftables";
  /** `--tunnel` (default `fou`, ours): the egress pods' encapsulation; `vxlan` is passed to them as `--tunnel=vxlan`. */
  readonly tunnel: "fou" | "vxlan";
  /** `--enable-cert-rotation`. */
  readonly enableCertRotation: boolean;
  /** `--enable-restart-on-cert-refresh`. */
  readonly enableRestartOnCertRefresh: boolean;
  /** `--kubeconfig` (default: `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  readonly kubeconfig: string | undefined;
  /** How logs are written (`--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level`, `--zap-time-encoding`). */
  readonly log: LogOptions;
}

/** coil-egress-controller's command line and ports: the one definition its parser, `--help` and docs/programs/coil-egress-controller.md use. */
export const EGRESS_CONTROLLER = defineProgram({
  name: "coil-egress-controller",
  summary: "controller for coil egress related custom resources",
  description: "coil-egress-controller is a Kubernetes controller for coil egress related custom resources.",
  flags: [
    { name: "metrics-addr", type: "address", default: `:${PORTS.egressControllerMetrics}`, description: "bind address of metrics endpoint", origin: "coil" },
    { name: "health-addr", type: "address", default: `:${PORTS.egressControllerHealth}`, description: "bind address of health/readiness probes", origin: "coil" },
    { name: "webhook-addr", type: "address", default: `:${PORTS.egressControllerWebhook}`, description: "bind address of admission webhook", origin: "coil" },
    { name: "cert-dir", type: "string", default: "/certs", description: "directory to locate TLS certs for webhook", origin: "coil" },
    { name: "egress-port", type: "int32", default: String(DEFAULT_FOU_PORT), description: "UDP port number used by coil-egress", origin: "coil" },
    { name: "backend", type: "string", default: "iptables", description: "Backend for egress NAT rules: iptables or nftables (default: iptables)", origin: "coil" },
    { name: "enable-cert-rotation", type: "bool", default: "false", description: "enables webhook's certificate generation", origin: "coil" },
    { name: "enable-restart-on-cert-refresh", type: "bool", default: "false", description: "enables pod's restart on webhook certificate refresh", origin: "coil" },
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    { name: "tunnel", type: "string", default: "fou", description: "egress tunnel encapsulation of the egress pods: fou (Coil's) or vxlan (for kernels without FoU; passed to them as --tunnel=vxlan); must match coild's --tunnel", origin: "ours" },
    ...leaderElectionFlags("coil-egress-leader"),
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [
    { name: "COIL_POD_NAMESPACE", description: "namespace of this controller's Pod (with COIL_POD_NAME: its first container's image is the egress pods' default image)", required: true },
    { name: "COIL_POD_NAME", description: "name of this controller's Pod", required: true },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
  ],
  ports: [
    { flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics (GET /metrics)" },
    { flag: "health-addr", protocol: "TCP", description: "health and readiness probes (GET /healthz, /readyz)" },
    { flag: "webhook-addr", protocol: "TCP", description: "admission webhooks for Egress (HTTPS, certificates from --cert-dir)" },
  ],
});

/** The `--help` text. */
export function usage(): string {
  return renderHelp(EGRESS_CONTROLLER);
}

/** Parse argv (without node and script). `help`/`version` when `--help`/`--version` was given. */
export function parseEgressControllerFlags(argv: readonly string[]): Result<EgressControllerFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(EGRESS_CONTROLLER, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const log = parseLogFlags(v);
  if (log.isErr()) return err(log.error);
  const backend = v.str("backend");
  if (backend !== "iptables" && backend !== "nftables") return err(invalidFlagValue("backend", backend, `invalid backend: ${backend}`));
  const tunnel = v.str("tunnel");
  if (tunnel !== "fou" && tunnel !== "vxlan") return err(invalidFlagValue("tunnel", tunnel, `must be fou or vxlan, got ${JSON.stringify(tunnel)}`));
  const addr = (k: "metrics-addr" | "health-addr" | "webhook-addr"): Result<ListenAddr | undefined, FlagError> => parseListenAddrFlag(k, v.str(k));
  return Result.combine([
    parseIntFlag("egress-port", v.str("egress-port"), 1, 65535),
    addr("metrics-addr"),
    addr("health-addr"),
    addr("webhook-addr"),
    parseBoolFlag("enable-cert-rotation", v.given("enable-cert-rotation"), false),
    parseBoolFlag("enable-restart-on-cert-refresh", v.given("enable-restart-on-cert-refresh"), false),
  ]).andThen(([egressPort, metricsAddr, healthAddr, webhookAddr, enableCertRotation, enableRestartOnCertRefresh]) =>
    parseLeaderElection(v).andThen((leader): Result<EgressControllerFlags, FlagError> => {
      if (webhookAddr === undefined) return err(invalidFlagValue("webhook-addr", v.str("webhook-addr"), "cannot be disabled"));
      return ok({ metricsAddr, healthAddr, webhookAddr, certDir: v.str("cert-dir"), egressPort, backend, tunnel, enableCertRotation, enableRestartOnCertRefresh, kubeconfig: v.given("kubeconfig"), ...leader, log: log.value });
    }),
  );
}
