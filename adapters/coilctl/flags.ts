/**
 * coilctl's command line (docs/coilctl.md): sub-commands as positionals (`pools`, `blocks`,
 * `addresses`, `ipam check`, `ipam release`) and one flag set, defined once for the parser,
 * `--help`, `--version` and docs/programs/coilctl.md.
 */
import { err, ok, Result } from "neverthrow";
import { PORTS } from "../../lib/constants.js";
import { defineProgram, invalidFlagValue, parseDurationFlag, parseIntFlag, parseIntervalFlag, parseProgramArgv, type FlagError } from "../common/flags.js";

/** coilctl's definition. */
export const COILCTL = defineProgram({
  name: "coilctl",
  summary: "inspect Coil's address management and find (and release) leaked addresses and blocks",
  description: `coilctl shows how Coil's address pools are used and checks them for leaks.

Commands:
  pools                           utilisation per pool (blocks and addresses used/free) and per node
  blocks [--node N]               AddressBlocks per node and pool, with the addresses used in each
  addresses [--node N]            every allocated address: node, pool, block, container, host veth, pod
  ipam check [-o table|json]      leak report; exit 1 when something leaks, 0 when clean,
                                  3 when a node's coild could not be read (and nothing leaks)
  ipam release --from-report F    release exactly what report F (ipam check -o json) names, each
                                  re-checked first; exit 0 only when every item is released or gone

It reads Nodes, Pods, AddressPools, AddressBlocks and BlockRequests from the Kubernetes API, and
each node's coild state (GET /allocations on coild's health port) through the API server's node
proxy (RBAC: nodes/proxy get). Releasing an address is a CNI DEL on the coild socket of the node
it is on: run that release on the node, with --node naming it.`,
  usage: "<command> [flags]",
  flags: [
    { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
    { name: "output", shorthand: "o", type: "string", default: "table", description: "output format: table or json", origin: "ours" },
    { name: "node", type: "string", description: "blocks, addresses: only this node; ipam release: the node coilctl runs on (its addresses are freed through --socket)", origin: "ours" },
    { name: "grace-period", type: "duration", default: "5m0s", description: "ipam check: blocks, BlockRequests and new pods younger than this are never reported as leaked", origin: "ours" },
    { name: "node-timeout", type: "duration", default: "10s", description: "how long to wait for one node's coild view", origin: "ours" },
    { name: "coild-port", type: "int", default: String(PORTS.coildHealth), description: "coild's health port (its --health-addr) on every node", origin: "ours" },
    { name: "from-report", type: "string", description: "ipam release: the report file (ipam check -o json)", origin: "ours" },
    { name: "socket", type: "string", default: "/run/coild.sock", description: "ipam release: coild's socket on this node", origin: "ours" },
  ],
  env: [
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
  ],
  ports: [],
  examples: [
    "coilctl pools",
    "coilctl blocks --node worker-1",
    "coilctl addresses -o json",
    "coilctl ipam check --grace-period 10m -o json > report.json",
    "coilctl ipam release --from-report report.json --node worker-1 --socket /run/coild.sock",
  ],
});

/** A sub-command. */
export type CoilctlCommand = "pools" | "blocks" | "addresses" | "ipam-check" | "ipam-release";

/** The parsed command line. */
export interface CoilctlConfig {
  /** Which command. */
  readonly command: CoilctlCommand;
  /** `--kubeconfig`. */
  readonly kubeconfig: string | undefined;
  /** `-o`. */
  readonly output: "table" | "json";
  /** `--node`. */
  readonly node: string | undefined;
  /** `--grace-period` in ms. */
  readonly gracePeriodMs: number;
  /** `--node-timeout` in ms. */
  readonly nodeTimeoutMs: number;
  /** `--coild-port`. */
  readonly coildPort: number;
  /** `--from-report` (ipam release). */
  readonly fromReport: string | undefined;
  /** `--socket`. */
  readonly socket: string;
}

const COMMANDS: Readonly<Record<string, CoilctlCommand>> = { pools: "pools", blocks: "blocks", addresses: "addresses", "ipam check": "ipam-check", "ipam release": "ipam-release" };

/** Parse argv (without node and script): the configuration, or `help`/`version`. */
export function parseCoilctlArgv(argv: readonly string[]): Result<CoilctlConfig | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(COILCTL, argv, { positionals: true });
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const words = v.positionals.join(" ");
  const command = COMMANDS[words];
  if (command === undefined) {
    const known = Object.keys(COMMANDS).join(", ");
    return err({ kind: "invalid-argv", message: words === "" ? `a command is required: ${known}` : `unknown command ${JSON.stringify(words)}: one of ${known}` });
  }
  const output = v.str("output");
  if (output !== "table" && output !== "json") return err(invalidFlagValue("output", output, `must be table or json, got ${JSON.stringify(output)}`));
  const fromReport = v.given("from-report");
  if (command === "ipam-release" && (fromReport === undefined || fromReport === "")) return err({ kind: "invalid-argv", message: "ipam release needs --from-report FILE (a report of ipam check -o json)" });
  if (command !== "ipam-release" && fromReport !== undefined) return err({ kind: "conflicting-flags", flags: ["from-report"], message: "--from-report is for ipam release only" });
  const grace = parseDurationFlag("grace-period", v.str("grace-period")).andThen((ms) =>
    ms >= 0 ? ok(ms) : err(invalidFlagValue("grace-period", v.str("grace-period"), "must not be negative")),
  );
  return Result.combine([grace, parseIntervalFlag("node-timeout", v.str("node-timeout")), parseIntFlag("coild-port", v.str("coild-port"), 1, 65535)]).map(
    ([gracePeriodMs, nodeTimeoutMs, coildPort]): CoilctlConfig => ({
      command,
      kubeconfig: v.given("kubeconfig"),
      output,
      node: v.given("node"),
      gracePeriodMs,
      nodeTimeoutMs,
      coildPort,
      fromReport,
      socket: v.str("socket"),
    }),
  );
}
