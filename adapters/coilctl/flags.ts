/**
 * coilctl's command line (docs/coilctl.md): sub-commands as positionals (`pools`, `blocks`,
 * `addresses`, `ipam check`, `ipam release`, `completion`) and one flag set. Both are defined once
 * here ({@link COILCTL_COMMANDS}, {@link COILCTL}) for the parser, `--help` (the program's and each
 * sub-command's, {@link coilctlHelpProgram}), `--version`, the shell completion scripts
 * (completion.ts) and docs/programs/coilctl.md, so none of them can drift from the others.
 */
import { err, ok, Result } from "neverthrow";
import { PORTS } from "../../lib/constants.js";
import { defineProgram, invalidFlagValue, parseDurationFlag, parseIntFlag, parseIntervalFlag, parseProgramArgv, type FlagDef, type FlagError, type ProgramDef } from "../common/flags.js";

/** coilctl's own flags (every sub-command parses all of them; each reads those its definition lists). */
const FLAGS = [
  { name: "kubeconfig", type: "string", description: "path to a kubeconfig file; default $KUBECONFIG, the in-cluster config, ~/.kube/config", origin: "ours" },
  { name: "output", shorthand: "o", type: "string", default: "table", description: "output format: table or json", origin: "ours" },
  { name: "node", type: "string", description: "blocks, addresses: only this node; ipam release: the node coilctl runs on (its addresses are freed through --socket)", origin: "ours" },
  { name: "grace-period", type: "duration", default: "5m0s", description: "ipam check: blocks, BlockRequests and new pods younger than this are never reported as leaked", origin: "ours" },
  { name: "node-timeout", type: "duration", default: "10s", description: "how long to wait for one node's coild view", origin: "ours" },
  { name: "coild-port", type: "int", default: String(PORTS.coildHealth), description: "coild's health port (its --health-addr) on every node", origin: "ours" },
  { name: "api-only", type: "bool", default: "false", description: "pools, blocks, ipam check: read the Kubernetes API only, no node's coild view (address counts unknown; ipam check skips the address checks and lists every node as unchecked)", origin: "ours" },
  { name: "from-report", type: "string", description: "ipam release: the report file (ipam check -o json)", origin: "ours" },
  { name: "socket", type: "string", default: "/run/coild.sock", description: "ipam release: coild's socket on this node", origin: "ours" },
  { name: "progress", type: "bool", default: "false", description: "report progress of long phases on stderr even when stderr is not a terminal (default: only on a terminal)", origin: "ours" },
  { name: "no-progress", type: "bool", default: "false", description: "never report progress", origin: "ours" },
] as const satisfies readonly FlagDef[];

/** A coilctl flag name. */
export type CoilctlFlagName = (typeof FLAGS)[number]["name"];

/** `-o`'s values. */
export const OUTPUT_FORMATS = ["table", "json"] as const;

/**
 * What a flag's value may be, for the completion scripts: a fixed list, a file path, or anything
 * (absent: no completion offered for the value).
 */
export const FLAG_VALUES: Readonly<Partial<Record<CoilctlFlagName, readonly string[] | "file">>> = {
  output: OUTPUT_FORMATS,
  kubeconfig: "file",
  "from-report": "file",
  socket: "file",
};

/** A sub-command. */
export type CoilctlCommand = "pools" | "blocks" | "addresses" | "ipam-check" | "ipam-release" | "completion";

/** The shells `coilctl completion` writes a script for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** One sub-command: its words, what it does, the flags it reads, its examples. */
export interface CoilctlCommandDef {
  /** Which command. */
  readonly command: CoilctlCommand;
  /** The words that name it (`["ipam", "check"]`). */
  readonly words: readonly string[];
  /** What follows the words in its usage line, e.g. `[--node N]`. */
  readonly args: string;
  /** What it does (lines of at most about 65 characters). */
  readonly summary: readonly string[];
  /** Arguments after the words it takes, with the values each may have (`completion <shell>`). */
  readonly operands?: readonly string[];
  /** The flags it reads (besides `--help`, `--version`). */
  readonly flags: readonly CoilctlFlagName[];
  /** Example command lines. */
  readonly examples: readonly string[];
}

/** Flags every command that reads the cluster takes. */
const CLUSTER: readonly CoilctlFlagName[] = ["kubeconfig", "output", "progress", "no-progress"];
/** Flags of the commands that read the nodes' coild views. */
const VIEWS: readonly CoilctlFlagName[] = ["node-timeout", "coild-port"];

/** Every sub-command, in the order `--help` lists them. */
export const COILCTL_COMMANDS: readonly CoilctlCommandDef[] = [
  {
    command: "pools",
    words: ["pools"],
    args: "",
    summary: ["utilisation per pool (blocks and addresses used/free) and per node"],
    flags: [...CLUSTER, ...VIEWS, "api-only"],
    examples: ["coilctl pools", "coilctl pools -o json --api-only"],
  },
  {
    command: "blocks",
    words: ["blocks"],
    args: "[--node N]",
    summary: ["AddressBlocks per node and pool, with the addresses used in each"],
    flags: [...CLUSTER, ...VIEWS, "node", "api-only"],
    examples: ["coilctl blocks --node worker-1", "coilctl blocks -o json"],
  },
  {
    command: "addresses",
    words: ["addresses"],
    args: "[--node N]",
    summary: ["every allocated address: node, pool, block, container, host veth,", "the live pod with it and the pod coild set it up for"],
    flags: [...CLUSTER, ...VIEWS, "node"],
    examples: ["coilctl addresses --node worker-1", "coilctl addresses -o json"],
  },
  {
    command: "ipam-check",
    words: ["ipam", "check"],
    args: "[-o table|json]",
    summary: ["leak report; exit 1 when something leaks, 0 when clean,", "3 when a node's coild could not be read (and nothing leaks)"],
    flags: [...CLUSTER, ...VIEWS, "grace-period", "api-only"],
    examples: ["coilctl ipam check", "coilctl ipam check --grace-period 10m -o json > report.json", "coilctl ipam check --api-only --progress -o json > report.json"],
  },
  {
    command: "ipam-release",
    words: ["ipam", "release"],
    args: "--from-report F",
    summary: ["release exactly what report F (ipam check -o json) names, each", "re-checked first; exit 0 only when every item is released or gone"],
    flags: [...CLUSTER, ...VIEWS, "from-report", "node", "socket", "grace-period"],
    examples: ["coilctl ipam release --from-report report.json --node worker-1 --socket /run/coild.sock"],
  },
  {
    command: "completion",
    words: ["completion"],
    args: "bash|zsh|fish",
    summary: ["print a shell completion script (no cluster access)"],
    operands: COMPLETION_SHELLS,
    flags: [],
    examples: ["source <(coilctl completion bash)", "coilctl completion zsh > \"${fpath[1]}/_coilctl\"", "coilctl completion fish > ~/.config/fish/completions/coilctl.fish"],
  },
];

/** A command's usage text after `coilctl` (`ipam check [-o table|json]`). */
export function commandUsage(c: CoilctlCommandDef): string {
  return [...c.words, ...(c.args === "" ? [] : [c.args])].join(" ");
}

/** The `Commands:` block of `--help`, from {@link COILCTL_COMMANDS}. */
function commandsText(): string {
  const width = 32;
  return COILCTL_COMMANDS.flatMap((c) => {
    const u = `  ${commandUsage(c)}`;
    const [first = "", ...rest] = c.summary;
    const head = u.length < width ? `${u.padEnd(width)}${first}` : `${u}\n${" ".repeat(width)}${first}`;
    return [head, ...rest.map((l) => `${" ".repeat(width)}${l}`)];
  }).join("\n");
}

/** coilctl's definition. */
export const COILCTL = defineProgram({
  name: "coilctl",
  summary: "inspect Coil's address management and find (and release) leaked addresses and blocks",
  description: `coilctl shows how Coil's address pools are used and checks them for leaks.

Commands:
${commandsText()}

It reads Nodes, Pods, AddressPools, AddressBlocks and BlockRequests from the Kubernetes API, and
each node's coild state (GET /allocations on coild's health port) through the API server's node
proxy (RBAC: nodes/proxy get). Releasing an address is a CNI DEL on the coild socket of the node
it is on: run that release on the node, with --node naming it. Long phases (lists, node queries,
releases) report progress on stderr when it is a terminal (--progress, --no-progress); stdout
carries only the result. "coilctl <command> --help" shows one command's flags and examples.`,
  usage: "<command> [flags]",
  flags: FLAGS,
  env: [
    { name: "KUBECONFIG", description: "kubeconfig file when --kubeconfig is not given" },
    { name: "KUBERNETES_SERVICE_HOST", description: "set inside a cluster: the in-cluster config is used" },
  ],
  ports: [],
  examples: COILCTL_COMMANDS.flatMap((c) => c.examples),
});

/**
 * The definition of sub-command `c` alone: its `--help` (description, usage, its flags, examples);
 * named `coilctl`, as errors are prefixed with the program's name.
 */
export function commandProgram(c: CoilctlCommandDef): ProgramDef {
  const reads = new Set<string>(c.flags);
  return {
    name: "coilctl",
    summary: c.summary.join(" "),
    description: `${c.summary.join("\n")}\n\nSee "coilctl --help" for every command.`,
    usage: `${commandUsage(c)} [flags]`,
    flags: COILCTL.flags.filter((f) => reads.has(f.name)),
    env: c.flags.includes("kubeconfig") ? COILCTL.env : [],
    ports: [],
    examples: c.examples,
  };
}

/** The command `argv` names (its leading positional words), if any. */
function commandOf(positionals: readonly string[]): CoilctlCommandDef | undefined {
  return COILCTL_COMMANDS.find((c) => c.words.every((w, i) => positionals[i] === w) && positionals.length - c.words.length === (c.operands === undefined ? 0 : 1));
}

/**
 * Which definition `--help` (or a refused command line) should show for `argv`: the sub-command's
 * when `argv` names one, else the program's (also for `--version`, which names the program).
 */
export function coilctlHelpProgram(argv: readonly string[]): ProgramDef {
  const parsed = parseProgramArgv(COILCTL, argv, { positionals: true });
  if (parsed.isErr() || parsed.value.request === "version") return COILCTL;
  const p = parsed.value.positionals;
  const c = COILCTL_COMMANDS.find((x) => x.words.every((w, i) => p[i] === w));
  return c === undefined ? COILCTL : commandProgram(c);
}

/** How progress is reported: `auto` = only when stderr is a terminal. */
export type ProgressMode = "auto" | "on" | "off";

/** The parsed command line. */
export interface CoilctlConfig {
  /** Which command. */
  readonly command: CoilctlCommand;
  /** `--kubeconfig`. */
  readonly kubeconfig: string | undefined;
  /** `-o`. */
  readonly output: (typeof OUTPUT_FORMATS)[number];
  /** `--node`. */
  readonly node: string | undefined;
  /** `--grace-period` in ms. */
  readonly gracePeriodMs: number;
  /** `--node-timeout` in ms. */
  readonly nodeTimeoutMs: number;
  /** `--coild-port`. */
  readonly coildPort: number;
  /** `--api-only`: no coild view is read. */
  readonly apiOnly: boolean;
  /** `--from-report` (ipam release). */
  readonly fromReport: string | undefined;
  /** `--socket`. */
  readonly socket: string;
  /** `--progress` (on), `--no-progress` (off), neither (auto). */
  readonly progress: ProgressMode;
  /** `completion`'s shell. */
  readonly shell?: CompletionShell;
}

/** Parse argv (without node and script): the configuration, or `help`/`version`. */
export function parseCoilctlArgv(argv: readonly string[]): Result<CoilctlConfig | "help" | "version", FlagError> {
  const parsed = parseProgramArgv(COILCTL, argv, { positionals: true });
  if (parsed.isErr()) return err(parsed.error);
  const v = parsed.value;
  if (v.request !== undefined) return ok(v.request);
  const words = v.positionals.join(" ");
  const def = commandOf(v.positionals);
  if (def === undefined) {
    const known = COILCTL_COMMANDS.map((c) => c.words.join(" ")).join(", ");
    if (v.positionals[0] === "completion") return err({ kind: "invalid-argv", message: `completion needs one shell: ${COMPLETION_SHELLS.join(", ")}` });
    return err({ kind: "invalid-argv", message: words === "" ? `a command is required: ${known}` : `unknown command ${JSON.stringify(words)}: one of ${known}` });
  }
  const command = def.command;
  const operand = v.positionals[def.words.length];
  let shell: CompletionShell | undefined;
  if (def.operands !== undefined) {
    shell = COMPLETION_SHELLS.find((s) => s === operand);
    if (shell === undefined) return err({ kind: "invalid-argv", message: `completion: unknown shell ${JSON.stringify(operand)}: one of ${COMPLETION_SHELLS.join(", ")}` });
  }
  const output = v.str("output");
  const format = OUTPUT_FORMATS.find((f) => f === output);
  if (format === undefined) return err(invalidFlagValue("output", output, `must be ${OUTPUT_FORMATS.join(" or ")}, got ${JSON.stringify(output)}`));
  const fromReport = v.given("from-report");
  if (command === "ipam-release" && (fromReport === undefined || fromReport === "")) return err({ kind: "invalid-argv", message: "ipam release needs --from-report FILE (a report of ipam check -o json)" });
  if (command !== "ipam-release" && fromReport !== undefined) return err({ kind: "conflicting-flags", flags: ["from-report"], message: "--from-report is for ipam release only" });
  const apiOnly = v.bool("api-only");
  if (apiOnly && !def.flags.includes("api-only")) {
    return err({ kind: "conflicting-flags", flags: ["api-only"], message: `--api-only is not for ${def.words.join(" ")}: it needs the nodes' coild views` });
  }
  if (v.bool("progress") && v.bool("no-progress")) return err({ kind: "conflicting-flags", flags: ["progress", "no-progress"], message: "--progress and --no-progress exclude each other" });
  const progress: ProgressMode = v.bool("progress") ? "on" : v.bool("no-progress") ? "off" : "auto";
  const grace = parseDurationFlag("grace-period", v.str("grace-period")).andThen((ms) =>
    ms >= 0 ? ok(ms) : err(invalidFlagValue("grace-period", v.str("grace-period"), "must not be negative")),
  );
  return Result.combine([grace, parseIntervalFlag("node-timeout", v.str("node-timeout")), parseIntFlag("coild-port", v.str("coild-port"), 1, 65535)]).map(
    ([gracePeriodMs, nodeTimeoutMs, coildPort]): CoilctlConfig => ({
      command,
      kubeconfig: v.given("kubeconfig"),
      output: format,
      node: v.given("node"),
      gracePeriodMs,
      nodeTimeoutMs,
      coildPort,
      apiOnly,
      fromReport,
      socket: v.str("socket"),
      progress,
      ...(shell === undefined ? {} : { shell }),
    }),
  );
}

