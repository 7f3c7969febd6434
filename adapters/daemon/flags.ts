/**
 * coild's command line: Coil's `coild` flags (§1.3) with the same names and defaults, plus the
 * local block store's `--store`, `--pools`, `--namespace-pools`, `--state-dir` and the node
 * address flags. Go-style booleans (`--flag`, `--flag=true|false`) and durations (`5m`, `90s`).
 */
import { err, ok, Result } from "neverthrow";
import { DEFAULT_FOU_PORT, DEFAULT_SOCKET, EXPORT_TABLE_ID, POD_RULE_PRIO, POD_TABLE_ID, PORTS, PROTOCOL_COILD } from "../../lib/constants.js";
import { parseIp, ipFamily, type Ip } from "../../lib/net/index.js";
import {
  KLOG_FLAGS,
  ZAP_FLAGS,
  defineProgram,
  invalidFlagValue,
  parseBoolFlag,
  parseIntervalFlag,
  parseIntFlag,
  parseListenAddrFlag,
  parseProgramArgv,
  renderHelp,
  type FlagError,
  type ListenAddr,
  parseLogFlags,
} from "../common/flags.js";
import type { LogOptions } from "../common/log.js";

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
  /** `--tunnel`: the egress tunnel encapsulation, `fou` (Coil's) or `vxlan` (kernels without FoU). */
  readonly tunnel: "fou" | "vxlan";
  readonly clearRoutesOnShutdown: boolean;
  /** `--enable-static-ip` (beyond Coil): serve the pod annotation `coil-ts.cybozu.com/static-ip` (Kubernetes store). */
  readonly enableStaticIp: boolean;
  /** `--store`; default `kubernetes` inside a cluster (`KUBERNETES_SERVICE_HOST` set), else `local`. */
  readonly store: "local" | "kubernetes";
  /** `--kubeconfig` (Kubernetes store); else `$KUBECONFIG`, in-cluster config, `~/.kube/config`. */
  readonly kubeconfig: string | undefined;
  readonly pools: string | undefined;
  readonly namespacePools: string | undefined;
  readonly stateDir: string;
  readonly nodeIPv4: Ip | undefined;
  readonly nodeIPv6: Ip | undefined;
  /** `--spawner`: how the kernel adapter starts its commands: `auto`, `node` or the path of a `coil-spawner`. */
  readonly spawner: string;
  /** How logs are written (`--zap-devel`, `--zap-encoder`, `--zap-log-level`, `--zap-stacktrace-level`, `--zap-time-encoding`). */
  readonly log: LogOptions;
}

/** coild's command line, environment and ports: the one definition its parser, `--help` and docs/programs/coild.md use. */
export const COILD = defineProgram({
  name: "coild",
  summary: "gRPC server running on each node",
  description: `coild is a gRPC server running on each node.

It listens on a UNIX domain socket and accepts requests from
coil CNI plugin.`,
  flags: [
    { name: "metrics-addr", type: "address", default: `:${PORTS.coildMetrics}`, description: "bind address of metrics endpoint", origin: "coil" },
    { name: "health-addr", type: "address", default: `:${PORTS.coildHealth}`, description: "bind address of health/readiness probes", origin: "coil" },
    { name: "pod-table-id", type: "int", default: String(POD_TABLE_ID), description: "routing table ID to which coild registers routes for Pods", origin: "coil" },
    { name: "pod-rule-prio", type: "int", default: String(POD_RULE_PRIO), description: "priority with which the rule for Pod table is inserted", origin: "coil" },
    { name: "export-table-id", type: "int", default: String(EXPORT_TABLE_ID), description: "routing table ID to which coild exports routes", origin: "coil" },
    { name: "protocol-id", type: "int", default: String(PROTOCOL_COILD), description: "route author ID", origin: "coil" },
    { name: "socket", type: "string", default: DEFAULT_SOCKET, description: "UNIX domain socket path", origin: "coil" },
    { name: "compat-calico", type: "bool", default: "false", description: "make veth name compatible with Calico", origin: "coil" },
    { name: "egress-port", type: "int", default: String(DEFAULT_FOU_PORT), description: "UDP port number for egress NAT", origin: "coil" },
    { name: "register-from-main", type: "bool", default: "false", description: "help migration from Coil 2.0.1", origin: "coil" },
    { name: "enable-ipam", type: "bool", default: "true", description: "enable IPAM related features", origin: "coil" },
    { name: "enable-egress", type: "bool", default: "true", description: "enable Egress related features", origin: "coil" },
    { name: "addressblock-gc-interval", type: "duration", default: "5m0s", description: "interval for address block GC", origin: "coil" },
    { name: "backend", type: "string", default: "iptables", description: "backend for egress NAT rules: iptables or nftables (default: iptables)", origin: "coil" },
    { name: "enable-originating-only", type: "bool", default: "false", description: "egress should be used only for connections originating in the pod (default: false)", origin: "coil" },
    { name: "clear-routes-on-shutdown", type: "bool", default: "false", description: "clear export routes when the node is deleted", origin: "coil" },
    { name: "enable-static-ip", type: "bool", default: "true", description: "give pods annotated coil-ts.cybozu.com/static-ip that address (kubernetes store; docs/static-addresses.md); the Pod is then read at every ADD, which egress does anyway", origin: "ours" },
    { name: "tunnel", type: "string", default: "fou", description: "egress tunnel encapsulation: fou (Coil's) or vxlan (for kernels without FoU; UDP port --egress-port); must match coil-egress's --tunnel", origin: "ours" },
    { name: "store", type: "string", description: "where address blocks come from: local (embedded, persisted under --state-dir, pools from --pools) or kubernetes (BlockRequests); default kubernetes inside a cluster (KUBERNETES_SERVICE_HOST set), else local", origin: "ours" },
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file (kubernetes store); default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    { name: "pools", type: "string", description: "local store: file of AddressPool objects (YAML stream or JSON array); required with --store=local", origin: "ours" },
    { name: "namespace-pools", type: "string", description: "local store: file mapping namespaces to pools (`namespace: pool` lines); other namespaces use the default pool", origin: "ours" },
    { name: "state-dir", type: "string", default: "/var/lib/coil", description: "local store: directory holding the node's blocks (blocks.json) and its lock", origin: "ours" },
    { name: "node-ipv4", type: "ip", description: "the node's IPv4 address (default: detected from the host)", origin: "ours" },
    { name: "node-ipv6", type: "ip", description: "the node's IPv6 address (default: detected from the host)", origin: "ours" },
    { name: "spawner", type: "string", default: "auto", description: "how ip, nsenter, nft and sysctl are started: a coil-spawner executable's path, node (Node's spawn, which forks coild: ~6 ms of coild's CPU per command), or auto (coil-spawner next to coild's program file if it is there, as in the image, else node)", origin: "ours" },
    ...KLOG_FLAGS,
    ...ZAP_FLAGS,
  ],
  env: [
    { name: "COIL_NODE_NAME", description: "name of this node (kubernetes store); default the host name" },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: --store defaults to kubernetes and the in-cluster config is used" },
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
  ],
  ports: [
    { flag: "socket", protocol: "UNIX", description: "CNI requests from the coil executable (gRPC pkg.cnirpc.CNI, and the fast JSON-line protocol)" },
    { flag: "metrics-addr", protocol: "TCP", description: "Prometheus metrics (GET /metrics)" },
    { flag: "health-addr", protocol: "TCP", description: "health and readiness probes (GET /healthz, /readyz); read-only view of the node's allocations for coilctl (GET /allocations)" },
    { flag: "egress-port", protocol: "UDP", description: "Foo-over-UDP (or, with --tunnel=vxlan, VXLAN) tunnels to egress gateways" },
  ],
});

function ipFlag(name: string, v: string | undefined, family: 4 | 6): Result<Ip | undefined, FlagError> {
  if (v === undefined || v === "") return ok(undefined);
  const ip = parseIp(v);
  return ip.isOk() && ipFamily(ip.value) === family ? ok(ip.value) : err(invalidFlagValue(name, v, `${JSON.stringify(v)} is not an IPv${family} address`));
}

/** The `--help` text. */
export function usage(): string {
  return renderHelp(COILD);
}

/** Parse coild's argv (without node and script). `help` when `--help` was given. */
export function parseCoildFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Result<CoildFlags | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(COILD, argv);
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const log = parseLogFlags(v);
  if (log.isErr()) return err(log.error);
  const str = v.str;
  const values = { store: v.given("store"), kubeconfig: v.given("kubeconfig"), pools: v.given("pools"), "namespace-pools": v.given("namespace-pools"), "node-ipv4": v.given("node-ipv4"), "node-ipv6": v.given("node-ipv6") };
  const bool = (k: Parameters<typeof str>[0], def: boolean): Result<boolean, FlagError> => parseBoolFlag(k, v.given(k), def);
  return Result.combine([
    parseListenAddrFlag("metrics-addr", str("metrics-addr")),
    parseListenAddrFlag("health-addr", str("health-addr")),
    parseIntFlag("pod-table-id", str("pod-table-id"), 0, 2 ** 32 - 1),
    parseIntFlag("pod-rule-prio", str("pod-rule-prio"), 0, 2 ** 32 - 1),
    parseIntFlag("export-table-id", str("export-table-id"), 1, 2 ** 32 - 1),
    parseIntFlag("protocol-id", str("protocol-id"), 0, 255),
    parseIntFlag("egress-port", str("egress-port"), 1, 65535),
    parseIntervalFlag("addressblock-gc-interval", str("addressblock-gc-interval")),
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
      bool("enable-static-ip", true),
    ]).andThen(([compatCalico, registerFromMain, enableIpam, enableEgress, enableOriginatingOnly, clearRoutesOnShutdown, enableStaticIp]) => {
      const backend = str("backend");
      if (backend !== "iptables" && backend !== "nftables") return err(invalidFlagValue("backend", backend, `must be iptables or nftables, got ${JSON.stringify(backend)}`));
      const tunnel = str("tunnel");
      if (tunnel !== "fou" && tunnel !== "vxlan") return err(invalidFlagValue("tunnel", tunnel, `must be fou or vxlan, got ${JSON.stringify(tunnel)}`));
      if (str("spawner") === "") return err(invalidFlagValue("spawner", "", "must be auto, node or the path of a coil-spawner executable"));
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
        tunnel,
        clearRoutesOnShutdown,
        enableStaticIp,
        store,
        kubeconfig: values["kubeconfig"],
        pools: values["pools"],
        namespacePools: values["namespace-pools"],
        stateDir: str("state-dir"),
        nodeIPv4: v4,
        nodeIPv6: v6,
        spawner: str("spawner"),
        log: log.value,
      });
    }),
  );
}
