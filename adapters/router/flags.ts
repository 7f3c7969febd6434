/**
 * coil-router's configuration (Coil §1.7): env `COIL_NODE_NAME` (required) and the flags
 * `--metrics-addr :9388`, `--health-addr :9389`, `--protocol-id 31`, `--update-interval 10m`,
 * plus `--kubeconfig`. Go-style values as in the other binaries (adapters/common/flags.ts).
 */
import { err, ok, Result } from "neverthrow";
import { PORTS, PROTOCOL_COILD, PROTOCOL_ROUTER } from "../../lib/constants.js";
import {
  KLOG_FLAGS,
  ZAP_FLAGS,
  defineProgram,
  invalidFlagValue,
  parseIntervalFlag,
  parseListenAddrFlag,
  parseProgramArgv,
  renderHelp,
  type FlagError,
  type ListenAddr,
  parseLogFlags,
} from "../common/flags.js";
import type { LogOptions } from "../common/log.js";

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
  /** How logs are written (`--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level`, `--zap-time-encoding`). */
  readonly log: LogOptions;
}

/** coil-router's command line, environment and ports: the one definition its parser, `--help` and docs/programs/coil-router.md use. */
export const ROUTER = defineProgram({
  name: "coil-router",
  summary: "a simple routing program for Coil",
  description: `coil-router programs Linux kernel routing table to route
Pod packets between nodes.

coil-router does not speak any routing protocol such as BGP.
Instead, it directly insert routes corresponding to AddressBlocks
owned by other Nodes.  This means that coil-router can be used
only for clusters where all the nodes are in a flat L2 network.`,
  flags: [
    { name: "metrics-addr", type: "address", default: `:${PORTS.routerMetrics}`, description: "bind address of metrics endpoint", origin: "coil" },
    { name: "health-addr", type: "address", default: `:${PORTS.routerHealth}`, description: "bind address of health/readiness probes", origin: "coil" },
    { name: "protocol-id", type: "int", default: String(PROTOCOL_ROUTER), description: "route author ID", origin: "coil" },
    { name: "update-interval", type: "duration", default: "10m0s", description: "interval for forced route update", origin: "coil" },
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [
    { name: "COIL_NODE_NAME", description: "name of the node coil-router runs on (its own blocks get no route)", required: true },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
  ],
  ports: [
    { flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics (GET /metrics)" },
    { flag: "health-addr", protocol: "TCP", description: "health and readiness probes (GET /healthz, /readyz)" },
  ],
});

/** The `--help` text. */
export function usage(): string {
  return renderHelp(ROUTER);
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
export function parseRouterFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Result<RouterFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(ROUTER, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const log = parseLogFlags(v);
  if (log.isErr()) return err(log.error);
  const str = v.str;
  const values = { kubeconfig: v.given("kubeconfig") };
  const nodeName = env["COIL_NODE_NAME"] ?? "";
  if (nodeName === "") return err({ kind: "missing-env", name: "COIL_NODE_NAME", message: "COIL_NODE_NAME environment variable should be set" });
  const interval = parseIntervalFlag("update-interval", str("update-interval"));
  return Result.combine([parseListenAddrFlag("metrics-addr", str("metrics-addr")), parseListenAddrFlag("health-addr", str("health-addr"))]).andThen(([metricsAddr, healthAddr]) =>
    Result.combine([parseProtocolId(str("protocol-id")), interval]).map(
      ([protocolId, updateIntervalMs]): RouterFlags => ({
        nodeName,
        metricsAddr,
        healthAddr,
        protocolId,
        updateIntervalMs,
        kubeconfig: values["kubeconfig"],
        log: log.value,
      }),
    ),
  );
}
