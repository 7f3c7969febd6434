/**
 * coild's command line: Coil's `coild` flags (§1.3) with the same names and defaults, plus the
 * local block store's `--store`, `--pools`, `--namespace-pools`, `--state-dir` and the node
 * address flags. Go-style booleans (`--flag`, `--flag=true|false`) and durations (`5m`, `90s`).
 */
import { err, ok, Result } from "neverthrow";
import { DEFAULT_FOU_PORT, DEFAULT_SOCKET, EXPORT_TABLE_ID, POD_RULE_PRIO, POD_TABLE_ID, PORTS, PROTOCOL_COILD } from "../../lib/constants.js";
import { parseIp, ipFamily, type Ip } from "../../lib/net/index.js";
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

/** Parsed coild configuration. */
export interface CoildFlags {
  readonly metricsAddr: ListenAddr | undefined;
  readonly healthAddr: ListenAddr | undefined;
  readonly podTableId: number;
  readonly podRulePrio: number;
  readonly exportTableId: number;
  readonly protocolId: number;
  readonly socket: string;
  readonly compatCalico: boolean;
  readonly egressPort: number;
  readonly registerFromMain: boolean;
  readonly enableIpam: boolean;
  readonly enableEgress: boolean;
  readonly addressBlockGcIntervalMs: number;
  readonly backend: "iptables" | "nftables";
  readonly enableOriginatingOnly: boolean;
  readonly clearRoutesOnShutdown: boolean;
  /** `--store`; default `kubernetes` inside a cluster (`KUBERNETES_SERVICE_HOST` set), else `local`. */
  readonly store: "local" | "kubernetes";
  /** `--kubeconfig` (Kubernetes store); else `$KUBECONFIG`, in-cluster config, `~/.kube/config`. */
  readonly kubeconfig: string | undefined;
  readonly pools: string | undefined;
  readonly namespacePools: string | undefined;
  readonly stateDir: string;
  readonly nodeIPv4: Ip | undefined;
  readonly nodeIPv6: Ip | undefined;
  readonly debug: boolean;
}

const BOOLEANS = [
  "compat-calico",
  "register-from-main",
  "enable-ipam",
  "enable-egress",
  "enable-originating-only",
  "clear-routes-on-shutdown",
  "help",
];

const STRINGS: Record<string, string> = {
  "metrics-addr": `:${PORTS.coildMetrics}`,
  "health-addr": `:${PORTS.coildHealth}`,
  "pod-table-id": String(POD_TABLE_ID),
  "pod-rule-prio": String(POD_RULE_PRIO),
  "export-table-id": String(EXPORT_TABLE_ID),
  "protocol-id": String(PROTOCOL_COILD),
  socket: DEFAULT_SOCKET,
  "egress-port": String(DEFAULT_FOU_PORT),
  "addressblock-gc-interval": "5m",
  backend: "iptables",
  "state-dir": "/var/lib/coil",
  "zap-log-level": "info",
  // Accepted for manifest compatibility, no effect here.
  "zap-stacktrace-level": "",
  "zap-encoder": "",
  "zap-time-encoding": "",
};
const NO_DEFAULT = ["store", "kubeconfig", "pools", "namespace-pools", "node-ipv4", "node-ipv6"];

const SPEC: FlagSpec = { booleans: BOOLEANS, strings: STRINGS, noDefault: NO_DEFAULT };

function ipFlag(name: string, v: string | undefined, family: 4 | 6): Result<Ip | undefined, FlagError> {
  if (v === undefined || v === "") return ok(undefined);
  const ip = parseIp(v);
  return ip.isOk() && ipFamily(ip.value) === family ? ok(ip.value) : err(invalidFlagValue(name, v, `${JSON.stringify(v)} is not an IPv${family} address`));
}

/** The usage text. */
export function usage(): string {
  return flagUsage("coild", SPEC);
}

/** Parse coild's argv (without node and script). `help` when `--help` was given. */
export function parseCoildFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Result<CoildFlags | "help", FlagError> {
  const parsed = parseFlagValues(argv, SPEC);
  if (parsed.isErr()) return err(parsed.error);
  const values = parsed.value;
  const str = (k: string): string => values[k] ?? STRINGS[k] ?? "";
  const bool = (k: string, def: boolean): Result<boolean, FlagError> => parseBoolFlag(k, values[k], def);
  if (values["help"] !== undefined) return ok("help");
  return Result.combine([
    parseListenAddrFlag("metrics-addr", str("metrics-addr")),
    parseListenAddrFlag("health-addr", str("health-addr")),
    parseIntFlag("pod-table-id", str("pod-table-id"), 0, 2 ** 32 - 1),
    parseIntFlag("pod-rule-prio", str("pod-rule-prio"), 0, 2 ** 32 - 1),
    parseIntFlag("export-table-id", str("export-table-id"), 1, 2 ** 32 - 1),
    parseIntFlag("protocol-id", str("protocol-id"), 0, 255),
    parseIntFlag("egress-port", str("egress-port"), 1, 65535),
    parseDurationFlag("addressblock-gc-interval", str("addressblock-gc-interval")),
    ipFlag("node-ipv4", values["node-ipv4"], 4),
    ipFlag("node-ipv6", values["node-ipv6"], 6),
  ]).andThen(([metricsAddr, healthAddr, podTableId, podRulePrio, exportTableId, protocolId, egressPort, gcMs, v4, v6]) =>
    Result.combine([
      bool("compat-calico", false),
      bool("register-from-main", false),
      bool("enable-ipam", true),
      bool("enable-egress", true),
      bool("enable-originating-only", false),
      bool("clear-routes-on-shutdown", false),
    ]).andThen(([compatCalico, registerFromMain, enableIpam, enableEgress, enableOriginatingOnly, clearRoutesOnShutdown]) => {
      const backend = str("backend");
      if (backend !== "iptables" && backend !== "nftables") return err(invalidFlagValue("backend", backend, `must be iptables or nftables, got ${JSON.stringify(backend)}`));
      const store = values["store"] ?? (env["KUBERNETES_SERVICE_HOST"] === undefined ? "local" : "kubernetes");
      if (store !== "local" && store !== "kubernetes") return err(invalidFlagValue("store", store, `must be local or kubernetes, got ${JSON.stringify(store)}`));
      if (!enableIpam && !enableEgress) {
        const conflict: FlagError = { kind: "conflicting-flags", flags: ["enable-ipam", "enable-egress"], message: "configuration error: both IPAM and egress are disabled" };
        return err(conflict);
      }
      return ok<CoildFlags, FlagError>({
        metricsAddr,
        healthAddr,
        podTableId,
        podRulePrio,
        exportTableId,
        protocolId,
        socket: str("socket"),
        compatCalico,
        egressPort,
        registerFromMain,
        enableIpam,
        enableEgress,
        addressBlockGcIntervalMs: gcMs,
        backend,
        enableOriginatingOnly,
        clearRoutesOnShutdown,
        store,
        kubeconfig: values["kubeconfig"],
        pools: values["pools"],
        namespacePools: values["namespace-pools"],
        stateDir: str("state-dir"),
        nodeIPv4: v4,
        nodeIPv6: v6,
        debug: str("zap-log-level") === "debug",
      });
    }),
  );
}
