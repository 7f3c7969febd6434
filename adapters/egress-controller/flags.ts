/**
 * coil-egress-controller's command line: Coil's flags (§1.5, same names and defaults) plus
 * `--kubeconfig` and leader-election tuning. Go-style booleans (`--flag`, `--flag=true|false`) and
 * durations (`10s`, `500ms`).
 */
import { err, ok, Result } from "neverthrow";
import { DEFAULT_FOU_PORT, PORTS } from "../../lib/constants.js";
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

/** Parsed configuration. */
export interface EgressControllerFlags {
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
  /** `--leader-elect-id` (default `coil-egress-leader`). */
  readonly leaderElectId: string;
  /** `--leader-elect-lease-duration` (default 15s). */
  readonly leaseDurationMs: number;
  /** `--leader-elect-renew-deadline` (default 10s). */
  readonly renewDeadlineMs: number;
  /** `--leader-elect-retry-period` (default 2s). */
  readonly retryPeriodMs: number;
  /** `--zap-log-level=debug`. */
  readonly debug: boolean;
}

const BOOLEANS = ["enable-cert-rotation", "enable-restart-on-cert-refresh", "leader-elect", "help"];
const STRINGS: Record<string, string> = {
  "metrics-addr": `:${PORTS.egressControllerMetrics}`,
  "health-addr": `:${PORTS.egressControllerHealth}`,
  "webhook-addr": `:${PORTS.egressControllerWebhook}`,
  "cert-dir": "/certs",
  "egress-port": String(DEFAULT_FOU_PORT),
  backend: "iptables",
  "leader-elect-namespace": "kube-system",
  "leader-elect-id": "coil-egress-leader",
  "leader-elect-lease-duration": "15s",
  "leader-elect-renew-deadline": "10s",
  "leader-elect-retry-period": "2s",
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
  return flagUsage("coil-egress-controller", SPEC);
}

const LEADER_DURATIONS = ["leader-elect-retry-period", "leader-elect-renew-deadline", "leader-elect-lease-duration"];

function leaderDurations(str: (k: string) => string): Result<[number, number, number], FlagError> {
  const d = (k: string): Result<number, FlagError> => parseDurationFlag(k, str(k));
  return Result.combine([d("leader-elect-lease-duration"), d("leader-elect-renew-deadline"), d("leader-elect-retry-period")]).andThen(([lease, renew, retry]) => {
    if (!(retry > 0 && retry < renew && renew < lease)) {
      const conflict: FlagError = { kind: "conflicting-flags", flags: LEADER_DURATIONS, message: "leader election needs retry-period < renew-deadline < lease-duration" };
      return err(conflict);
    }
    return ok<[number, number, number], FlagError>([lease, renew, retry]);
  });
}

/** Parse argv (without node and script). `help` when `--help` was given. */
export function parseEgressControllerFlags(argv: readonly string[]): Result<EgressControllerFlags | "help", FlagError> {
  const parsed = parseFlagValues(argv, SPEC);
  if (parsed.isErr()) return err(parsed.error);
  const values = parsed.value;
  if (values["help"] !== undefined) return ok("help");
  const str = (k: string): string => values[k] ?? STRINGS[k] ?? "";
  const backend = str("backend");
  if (backend !== "iptables" && backend !== "nftables") return err(invalidFlagValue("backend", backend, `invalid backend: ${backend}`));
  const port = parseIntFlag("egress-port", str("egress-port"), 1, 65535);
  if (port.isErr()) return err(port.error);
  const addr = (k: string): Result<ListenAddr | undefined, FlagError> => parseListenAddrFlag(k, str(k));
  return Result.combine([addr("metrics-addr"), addr("health-addr"), addr("webhook-addr")]).andThen(([metricsAddr, healthAddr, webhookAddr]) =>
    Result.combine([
      parseBoolFlag("enable-cert-rotation", values["enable-cert-rotation"], false),
      parseBoolFlag("enable-restart-on-cert-refresh", values["enable-restart-on-cert-refresh"], false),
      parseBoolFlag("leader-elect", values["leader-elect"], true),
    ]).andThen(([enableCertRotation, enableRestartOnCertRefresh, leaderElect]) =>
      leaderDurations(str).andThen(([leaseDurationMs, renewDeadlineMs, retryPeriodMs]) => {
        if (webhookAddr === undefined) return err(invalidFlagValue("webhook-addr", str("webhook-addr"), "cannot be disabled"));
        return ok<EgressControllerFlags, FlagError>({
          metricsAddr,
          healthAddr,
          webhookAddr,
          certDir: str("cert-dir"),
          egressPort: port.value,
          backend,
          enableCertRotation,
          enableRestartOnCertRefresh,
          kubeconfig: values["kubeconfig"],
          leaderElect,
          leaderElectNamespace: str("leader-elect-namespace"),
          leaderElectId: str("leader-elect-id"),
          leaseDurationMs,
          renewDeadlineMs,
          retryPeriodMs,
          debug: str("zap-log-level") === "debug",
        });
      }),
    ),
  );
}
