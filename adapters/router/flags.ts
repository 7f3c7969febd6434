/**
 * coil-router's configuration (Coil §1.7): env `COIL_NODE_NAME` (required) and the flags
 * `--metrics-addr :9388`, `--health-addr :9389`, `--protocol-id 31`, `--update-interval 10m`,
 * plus `--kubeconfig`. Go-style values as in the other binaries (adapters/common/flags.ts).
 */
import { err, ok, Result } from "neverthrow";
import { PORTS, PROTOCOL_COILD, PROTOCOL_ROUTER } from "../../lib/constants.js";
import {
  flagUsage,
  invalidFlagValue,
  parseDurationFlag,
  parseFlagValues,
  parseListenAddrFlag,
  type FlagError,
  type FlagSpec,
  type ListenAddr,
} from "../common/flags.js";

/** Parsed configuration. */
export interface RouterFlags {
  /** `COIL_NODE_NAME`: the node this router runs on (its own blocks get no route). */
  readonly nodeName: string;
  /** `--metrics-addr` (default `:9388`; `0` disables). */
  readonly metricsAddr: ListenAddr | undefined;
  /** `--health-addr` (default `:9389`; `0` disables). */
  readonly healthAddr: ListenAddr | undefined;
  /** `--protocol-id` (default 31): the route protocol marking coil-router's routes; never coild's 30. */
  readonly protocolId: number;
  /** `--update-interval` (default 10m): period of the unconditional sync. */
  readonly updateIntervalMs: number;
  /** `--kubeconfig` (default: `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  readonly kubeconfig: string | undefined;
  /** `--zap-log-level=debug`. */
  readonly debug: boolean;
}

const STRINGS: Record<string, string> = {
  "metrics-addr": `:${PORTS.routerMetrics}`,
  "health-addr": `:${PORTS.routerHealth}`,
  "protocol-id": String(PROTOCOL_ROUTER),
  "update-interval": "10m",
  "zap-log-level": "info",
  // Accepted for manifest compatibility (config/router passes --zap-stacktrace-level=panic), no effect.
  "zap-stacktrace-level": "",
  "zap-encoder": "",
  "zap-time-encoding": "",
};
const SPEC: FlagSpec = { booleans: ["help"], strings: STRINGS, noDefault: ["kubeconfig"] };

/** The usage text. */
export function usage(): string {
  return `${flagUsage("coil-router", SPEC)}Environment:\n  COIL_NODE_NAME (required)\n`;
}

/** Parse `--protocol-id`: an integer route protocol in [1, 255] other than coild's. */
export function parseProtocolId(s: string): Result<number, FlagError> {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isInteger(n) || n < 1 || n > 255) return err(invalidFlagValue("protocol-id", s, `${JSON.stringify(s)} is not an integer in [1, 255]`));
  if (n === PROTOCOL_COILD) {
    return err(invalidFlagValue("protocol-id", s, `${n} is coild's route protocol; coil-router would delete coild's pod routes (use another id, default ${PROTOCOL_ROUTER})`));
  }
  return ok(n);
}

/** Parse argv (without node and script) and the environment. `help` when `--help` was given. */
export function parseRouterFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Result<RouterFlags | "help", FlagError> {
  const parsed = parseFlagValues(argv, SPEC);
  if (parsed.isErr()) return err(parsed.error);
  const values = parsed.value;
  if (values["help"] !== undefined) return ok("help");
  const str = (k: string): string => values[k] ?? STRINGS[k] ?? "";
  const nodeName = env["COIL_NODE_NAME"] ?? "";
  if (nodeName === "") return err({ kind: "missing-env", name: "COIL_NODE_NAME", message: "COIL_NODE_NAME environment variable should be set" });
  const interval = parseDurationFlag("update-interval", str("update-interval")).andThen((ms) =>
    ms > 0 ? ok(ms) : err(invalidFlagValue("update-interval", str("update-interval"), "must be positive")),
  );
  return Result.combine([parseListenAddrFlag("metrics-addr", str("metrics-addr")), parseListenAddrFlag("health-addr", str("health-addr"))]).andThen(([metricsAddr, healthAddr]) =>
    Result.combine([parseProtocolId(str("protocol-id")), interval]).map(
      ([protocolId, updateIntervalMs]): RouterFlags => ({
        nodeName,
        metricsAddr,
        healthAddr,
        protocolId,
        updateIntervalMs,
        kubeconfig: values["kubeconfig"],
        debug: str("zap-log-level") === "debug",
      }),
    ),
  );
}
