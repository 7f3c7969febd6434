/**
 * coil-ipam-controller's command line: Coil's flags (§1.4, same names and defaults) plus
 * `--kubeconfig`, leader-election tuning and the reconcile concurrency. Go-style booleans
 * (`--flag`, `--flag=true|false`) and durations (`1h`, `10s`, `500ms`).
 */
import { err, ok, Result } from "neverthrow";
import { PORTS } from "../../lib/constants.js";
import {
  KLOG_FLAGS,
  ZAP_FLAGS,
  defineProgram,
  invalidFlagValue,
  parseBoolFlag,
  parseIntervalFlag,
  leaderElectionFlags,
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

export { parseDuration, parseListenAddr, type ListenAddr } from "../common/flags.js";

/** Parsed configuration (the leader-election settings are the shared `--leader-elect*` flags, Lease `coil-ipam-leader`). */
export interface IpamControllerFlags extends LeaderElectionConfig {
  /** `--metrics-addr` (default `:9386`). */
  readonly metricsAddr: ListenAddr | undefined;
  /** `--health-addr` (default `:9387`). */
  readonly healthAddr: ListenAddr | undefined;
  /** `--webhook-addr` (default `:9443`). */
  readonly webhookAddr: ListenAddr;
  /** `--cert-dir` (default `/certs`). */
  readonly certDir: string;
  /** `--gc-interval` (default 1h). */
  readonly gcIntervalMs: number;
  /** `--enable-cert-rotation`. */
  readonly enableCertRotation: boolean;
  /** `--enable-restart-on-cert-refresh`. */
  readonly enableRestartOnCertRefresh: boolean;
  /** `--kubeconfig` (default: `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  readonly kubeconfig: string | undefined;
  /**
   * `--max-concurrent-reconciles` for BlockRequests (default {@link DEFAULT_BLOCK_REQUEST_WORKERS};
   * controller-runtime's and Coil's is 1).
   */
  readonly concurrency: number;
  /** How logs are written (`--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level`, `--zap-time-encoding`). */
  readonly log: LogOptions;
}

/**
 * BlockRequest workers by default. Coil (controller-runtime's default) has one, so a burst of
 * requests (nodes joining, coild restarting everywhere) waits on one API round trip after another;
 * the AddressBlock CREATE runs outside the pool lock here (pool-manager.ts), so workers overlap
 * their round trips and the burst is bounded by the API server's CPU instead. 1,000 requests on
 * this project's 2-core bench machine: 1 worker ≈ Go's time, 8 workers 0.65×, 16 workers (with a
 * socket each) 0.52× after the REST client's per-request path was trimmed, near the 0.51× of a Node.js
 * program doing only the protocol's requests; 32 no better than 16 (bench/RESULTS-ipam-controller.md).
 */
export const DEFAULT_BLOCK_REQUEST_WORKERS = 16;

/** coil-ipam-controller's command line and ports: the one definition its parser, `--help` and docs/programs/coil-ipam-controller.md use. */
export const IPAM_CONTROLLER = defineProgram({
  name: "coil-ipam-controller",
  summary: "controller for coil ipam related custom resources",
  description: "coil-ipam-controller is a Kubernetes controller for coil ipam related custom resources.",
  flags: [
    { name: "metrics-addr", type: "address", default: `:${PORTS.ipamControllerMetrics}`, description: "bind address of metrics endpoint", origin: "coil" },
    { name: "health-addr", type: "address", default: `:${PORTS.ipamControllerHealth}`, description: "bind address of health/readiness probes", origin: "coil" },
    { name: "webhook-addr", type: "address", default: `:${PORTS.ipamControllerWebhook}`, description: "bind address of admission webhook", origin: "coil" },
    { name: "cert-dir", type: "string", default: "/certs", description: "directory to locate TLS certs for webhook", origin: "coil" },
    { name: "gc-interval", type: "duration", default: "1h0m0s", description: "garbage collection interval", origin: "coil" },
    { name: "enable-cert-rotation", type: "bool", default: "false", description: "enables webhook's certificate generation", origin: "coil" },
    { name: "enable-restart-on-cert-refresh", type: "bool", default: "false", description: "enables pod's restart on webhook certificate refresh", origin: "coil" },
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    ...leaderElectionFlags("coil-ipam-leader"),
    { name: "max-concurrent-reconciles", type: "int", default: String(DEFAULT_BLOCK_REQUEST_WORKERS), description: "BlockRequests reconciled at once (1..64; Coil: 1)", origin: "ours" },
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
  ],
  ports: [
    { flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics (GET /metrics)" },
    { flag: "health-addr", protocol: "TCP", description: "health and readiness probes (GET /healthz, /readyz)" },
    { flag: "webhook-addr", protocol: "TCP", description: "admission webhooks for AddressPool (HTTPS, certificates from --cert-dir)" },
  ],
});

/** The `--help` text. */
export function usage(): string {
  return renderHelp(IPAM_CONTROLLER);
}

/** Parse argv (without node and script). `help` when `--help` was given. */
export function parseIpamControllerFlags(argv: readonly string[]): Result<IpamControllerFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(IPAM_CONTROLLER, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const log = parseLogFlags(v);
  if (log.isErr()) return err(log.error);
  const str = v.str;
  const values = { "enable-cert-rotation": v.given("enable-cert-rotation"), "enable-restart-on-cert-refresh": v.given("enable-restart-on-cert-refresh"), kubeconfig: v.given("kubeconfig") };
  const concurrency = parseIntFlag("max-concurrent-reconciles", str("max-concurrent-reconciles"), 1, 64);
  if (concurrency.isErr()) return err(concurrency.error);
  const addr = (k: "metrics-addr" | "health-addr" | "webhook-addr"): Result<ListenAddr | undefined, FlagError> => parseListenAddrFlag(k, str(k));
  const gcInterval = parseIntervalFlag("gc-interval", str("gc-interval"));
  return Result.combine([addr("metrics-addr"), addr("health-addr"), addr("webhook-addr")]).andThen(([metricsAddr, healthAddr, webhookAddr]) => {
    if (webhookAddr === undefined) return err(invalidFlagValue("webhook-addr", str("webhook-addr"), "cannot be disabled"));
    return Result.combine([
      parseBoolFlag("enable-cert-rotation", values["enable-cert-rotation"], false),
      parseBoolFlag("enable-restart-on-cert-refresh", values["enable-restart-on-cert-refresh"], false),
      gcInterval,
      parseLeaderElection(v),
    ]).map(
      ([enableCertRotation, enableRestartOnCertRefresh, gcIntervalMs, election]): IpamControllerFlags => ({
        metricsAddr,
        healthAddr,
        webhookAddr,
        certDir: str("cert-dir"),
        gcIntervalMs,
        enableCertRotation,
        enableRestartOnCertRefresh,
        kubeconfig: values["kubeconfig"],
        ...election,
        concurrency: concurrency.value,
        log: log.value,
      }),
    );
  });
}
