/**
 * coil-ipam-controller's command line: Coil's flags (§1.4, same names and defaults) plus
 * `--kubeconfig`, leader-election tuning and the reconcile concurrency. Go-style booleans
 * (`--flag`, `--flag=true|false`) and durations (`1h`, `10s`, `500ms`).
 */
import { err, ok, Result } from "neverthrow";
import { PORTS } from "../../lib/constants.js";
import {
  flagUsage,
  invalidFlagValue,
  parseBoolFlag,
  parseDurationFlag,
  parseFlagValues,
  parseIntFlag,
  parseListenAddrFlag,
  type FlagError,
  type FlagSpec,
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

const BOOLEANS = ["enable-cert-rotation", "enable-restart-on-cert-refresh", "leader-elect", "help"];
const STRINGS: Record<string, string> = {
  "metrics-addr": `:${PORTS.ipamControllerMetrics}`,
  "health-addr": `:${PORTS.ipamControllerHealth}`,
  "webhook-addr": `:${PORTS.ipamControllerWebhook}`,
  "cert-dir": "/certs",
  "gc-interval": "1h",
  "leader-elect-namespace": "kube-system",
  "leader-elect-id": "coil-ipam-leader",
  "leader-elect-lease-duration": "15s",
  "leader-elect-renew-deadline": "10s",
  "leader-elect-retry-period": "2s",
  "max-concurrent-reconciles": "1",
  "zap-log-level": "info",
  // Accepted for manifest compatibility, no effect.
  "zap-stacktrace-level": "",
  "zap-encoder": "",
  "zap-time-encoding": "",
};
const NO_DEFAULT = ["kubeconfig"];

const SPEC: FlagSpec = { booleans: BOOLEANS, strings: STRINGS, noDefault: NO_DEFAULT };

/** The usage text. */
export function usage(): string {
  return flagUsage("coil-ipam-controller", SPEC);
}

const LEADER_DURATIONS = ["leader-elect-retry-period", "leader-elect-renew-deadline", "leader-elect-lease-duration"];

function durations(str: (k: string) => string): Result<[number, number, number, number], FlagError> {
  const d = (k: string): Result<number, FlagError> => parseDurationFlag(k, str(k));
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
export function parseIpamControllerFlags(argv: readonly string[]): Result<IpamControllerFlags | "help", FlagError> {
  const parsed = parseFlagValues(argv, SPEC);
  if (parsed.isErr()) return err(parsed.error);
  const values = parsed.value;
  if (values["help"] !== undefined) return ok("help");
  const str = (k: string): string => values[k] ?? STRINGS[k] ?? "";
  const concurrency = parseIntFlag("max-concurrent-reconciles", str("max-concurrent-reconciles"), 1, 64);
  if (concurrency.isErr()) return err(concurrency.error);
  const addr = (k: string): Result<ListenAddr | undefined, FlagError> => parseListenAddrFlag(k, str(k));
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
