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
  parseDurationFlag,
  parseIntFlag,
  parseListenAddrFlag,
  parseProgramArgv,
  renderHelp,
  type FlagError,
  type ListenAddr,
} from "../common/flags.js";

export { parseDuration, parseListenAddr, type ListenAddr } from "../common/flags.js";

/** Parsed configuration. */
export interface IpamControllerFlags {
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
  /** `--leader-elect` (default true). */
  readonly leaderElect: boolean;
  /** `--leader-elect-namespace` (default `kube-system`). */
  readonly leaderElectNamespace: string;
  /** `--leader-elect-id` (default `coil-ipam-leader`). */
  readonly leaderElectId: string;
  /** `--leader-elect-lease-duration` (default 15s). */
  readonly leaseDurationMs: number;
  /** `--leader-elect-renew-deadline` (default 10s). */
  readonly renewDeadlineMs: number;
  /** `--leader-elect-retry-period` (default 2s). */
  readonly retryPeriodMs: number;
  /** `--max-concurrent-reconciles` for BlockRequests (default 1, controller-runtime's). */
  readonly concurrency: number;
  /** `--zap-log-level=debug`. */
  readonly debug: boolean;
}

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
    { name: "leader-elect", type: "bool", default: "true", description: "elect a leader among the replicas (Lease); only the leader reconciles", origin: "ours" },
    { name: "leader-elect-namespace", type: "string", default: "kube-system", description: "namespace of the leader election Lease", origin: "ours" },
    { name: "leader-elect-id", type: "string", default: "coil-ipam-leader", description: "name of the leader election Lease (Coil's)", origin: "ours" },
    { name: "leader-elect-lease-duration", type: "duration", default: "15s", description: "how long a non-leader waits before taking over an unrenewed lease", origin: "ours" },
    { name: "leader-elect-renew-deadline", type: "duration", default: "10s", description: "how long the leader retries renewing before it gives up leading", origin: "ours" },
    { name: "leader-elect-retry-period", type: "duration", default: "2s", description: "interval between leader election attempts", origin: "ours" },
    { name: "max-concurrent-reconciles", type: "int", default: "1", description: "BlockRequests reconciled at once (1..64; controller-runtime's default 1)", origin: "ours" },
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

const LEADER_DURATIONS = ["leader-elect-retry-period", "leader-elect-renew-deadline", "leader-elect-lease-duration"];

type DurationFlag = "gc-interval" | "leader-elect-lease-duration" | "leader-elect-renew-deadline" | "leader-elect-retry-period";

function durations(str: (k: DurationFlag) => string): Result<[number, number, number, number], FlagError> {
  const d = (k: DurationFlag): Result<number, FlagError> => parseDurationFlag(k, str(k));
  return Result.combine([d("gc-interval"), d("leader-elect-lease-duration"), d("leader-elect-renew-deadline"), d("leader-elect-retry-period")]).andThen(
    ([gc, lease, renew, retry]) => {
      if (gc <= 0) return err(invalidFlagValue("gc-interval", str("gc-interval"), "must be positive"));
      if (!(retry > 0 && retry < renew && renew < lease)) {
        const conflict: FlagError = { kind: "conflicting-flags", flags: LEADER_DURATIONS, message: "leader election needs retry-period < renew-deadline < lease-duration" };
        return err(conflict);
      }
      return ok<[number, number, number, number], FlagError>([gc, lease, renew, retry]);
    },
  );
}

/** Parse argv (without node and script). `help` when `--help` was given. */
export function parseIpamControllerFlags(argv: readonly string[]): Result<IpamControllerFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(IPAM_CONTROLLER, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const str = v.str;
  const values = { "enable-cert-rotation": v.given("enable-cert-rotation"), "enable-restart-on-cert-refresh": v.given("enable-restart-on-cert-refresh"), "leader-elect": v.given("leader-elect"), kubeconfig: v.given("kubeconfig") };
  const concurrency = parseIntFlag("max-concurrent-reconciles", str("max-concurrent-reconciles"), 1, 64);
  if (concurrency.isErr()) return err(concurrency.error);
  const addr = (k: "metrics-addr" | "health-addr" | "webhook-addr"): Result<ListenAddr | undefined, FlagError> => parseListenAddrFlag(k, str(k));
  return Result.combine([addr("metrics-addr"), addr("health-addr"), addr("webhook-addr")]).andThen(
    ([metricsAddr, healthAddr, webhookAddr]) =>
      Result.combine([
        parseBoolFlag("enable-cert-rotation", values["enable-cert-rotation"], false),
        parseBoolFlag("enable-restart-on-cert-refresh", values["enable-restart-on-cert-refresh"], false),
        parseBoolFlag("leader-elect", values["leader-elect"], true),
      ]).andThen(([enableCertRotation, enableRestartOnCertRefresh, leaderElect]) =>
        durations(str).andThen(([gcIntervalMs, leaseDurationMs, renewDeadlineMs, retryPeriodMs]) => {
          if (webhookAddr === undefined) return err(invalidFlagValue("webhook-addr", str("webhook-addr"), "cannot be disabled"));
          return ok<IpamControllerFlags, FlagError>({
            metricsAddr,
            healthAddr,
            webhookAddr,
            certDir: str("cert-dir"),
            gcIntervalMs,
            enableCertRotation,
            enableRestartOnCertRefresh,
            kubeconfig: values["kubeconfig"],
            leaderElect,
            leaderElectNamespace: str("leader-elect-namespace"),
            leaderElectId: str("leader-elect-id"),
            leaseDurationMs,
            renewDeadlineMs,
            retryPeriodMs,
            concurrency: concurrency.value,
            debug: str("zap-log-level") === "debug",
          });
        }),
      ),
  );
}
