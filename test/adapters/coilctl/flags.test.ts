/** coilctl's command line: sub-commands, defaults, refused input with pflag-style messages, --help/--version (the program's and each sub-command's). */
import t from "tap";
import { cliOutcome, renderHelp } from "../../../adapters/common/flags.js";
import { COILCTL, COILCTL_COMMANDS, coilctlHelpProgram, commandProgram, parseCoilctlArgv, type CoilctlConfig } from "../../../adapters/coilctl/flags.js";
import { table } from "../../../adapters/coilctl/run.js";

const cfg = (argv: string[]): CoilctlConfig => {
  const r = parseCoilctlArgv(argv)._unsafeUnwrap();
  if (typeof r === "string") throw new Error(r);
  return r;
};
const refused = (argv: string[]): string => parseCoilctlArgv(argv)._unsafeUnwrapErr().message;

t.test("sub-commands and defaults", async (t) => {
  t.same(cfg(["pools"]), {
    command: "pools",
    kubeconfig: undefined,
    output: "table",
    node: undefined,
    gracePeriodMs: 300_000,
    nodeTimeoutMs: 10_000,
    coildPort: 9385,
    apiOnly: false,
    fromReport: undefined,
    socket: "/run/coild.sock",
    progress: "auto",
  });
  t.equal(cfg(["blocks", "--node", "n1"]).node, "n1");
  t.equal(cfg(["--node=n1", "addresses", "-o", "json"]).output, "json", "flags before or after the command");
  t.match(cfg(["ipam", "check", "--grace-period", "90s", "--coild-port=19385"]), { command: "ipam-check", gracePeriodMs: 90_000, coildPort: 19385 });
  t.match(cfg(["ipam", "release", "--from-report", "r.json", "--socket", "/s"]), { command: "ipam-release", fromReport: "r.json", socket: "/s" });
  t.equal(cfg(["ipam", "check", "--grace-period=0s"]).gracePeriodMs, 0, "a zero grace period is allowed");
  t.equal(cfg(["ipam", "check", "--api-only"]).apiOnly, true);
  t.equal(cfg(["pools", "--api-only"]).apiOnly, true);
  t.equal(cfg(["pools", "--progress"]).progress, "on");
  t.equal(cfg(["pools", "--no-progress"]).progress, "off");
  t.equal(cfg(["pools", "--progress=false"]).progress, "auto");
  t.match(cfg(["completion", "bash"]), { command: "completion", shell: "bash" });
  t.match(cfg(["completion", "fish"]), { command: "completion", shell: "fish" });
});

t.test("refused command lines", async (t) => {
  t.match(refused([]), /^a command is required: pools, blocks, addresses, ipam check, ipam release, completion$/);
  t.equal(refused(["completion"]), "completion needs one shell: bash, zsh, fish");
  t.equal(refused(["completion", "tcsh"]), 'completion: unknown shell "tcsh": one of bash, zsh, fish');
  t.equal(refused(["pools", "extra"]), 'unknown command "pools extra": one of pools, blocks, addresses, ipam check, ipam release, completion');
  t.equal(refused(["addresses", "--api-only"]), "--api-only is not for addresses: it needs the nodes' coild views");
  t.equal(refused(["ipam", "release", "--from-report", "r", "--api-only"]), "--api-only is not for ipam release: it needs the nodes' coild views");
  t.equal(refused(["pools", "--progress", "--no-progress"]), "--progress and --no-progress exclude each other");
  t.match(refused(["ipam"]), /^unknown command "ipam"/);
  t.match(refused(["pool"]), /^unknown command "pool"/);
  t.equal(refused(["ipam", "release"]), "ipam release needs --from-report FILE (a report of ipam check -o json)");
  t.equal(refused(["pools", "--from-report", "x"]), "--from-report is for ipam release only");
  t.equal(refused(["pools", "-o", "yaml"]), '--output: must be table or json, got "yaml"');
  t.equal(refused(["pools", "--node-timeout", "0s"]), "--node-timeout: must be positive");
  t.match(refused(["pools", "--coild-port", "70000"]), /^--coild-port: "70000" is not an integer in \[1, 65535\]/);
  t.equal(refused(["pools", "--grace-period", "5"]), '--grace-period: missing unit in duration "5"');
  t.equal(refused(["pools", "--grace-period", "-1s"]), "--grace-period: must not be negative", "Go accepts -1s; a negative grace period means nothing");
  t.equal(refused(["pools", "--node-timeout", "-1s"]), "--node-timeout: must be positive");
  t.equal(refused(["pools", "--node-timeout", "720h"]), '--node-timeout: "720h" is longer than 596h31m23.647s, the longest timer Node.js can run');
  t.equal(refused(["pools", "--bogus"]), "unknown flag: --bogus");
});

t.test("--help and --version (cobra's layout, examples and the command list)", async (t) => {
  const help = cliOutcome(COILCTL, parseCoilctlArgv(["--help"]));
  t.match(help, { kind: "exit", code: 0, stdout: renderHelp(COILCTL) });
  t.match(renderHelp(COILCTL), /\nUsage:\n {2}coilctl <command> \[flags\]\n\nExamples:\n {2}coilctl pools\n[\s\S]*coilctl ipam release --from-report report\.json --node worker-1/);
  for (const c of COILCTL_COMMANDS) {
    t.match(renderHelp(COILCTL), `\n  ${c.words.join(" ")}`, `the program's command list names ${c.words.join(" ")}`);
    t.ok(c.examples.length > 0, `${c.words.join(" ")} has examples`);
    for (const e of c.examples) t.ok(renderHelp(COILCTL).includes(`\n  ${e}\n`), `the program's --help shows ${e}`);
  }
  t.match(cliOutcome(COILCTL, parseCoilctlArgv(["ipam", "check", "--version"])), { kind: "exit", code: 0, stdout: /^coilctl version / });
  t.match(cliOutcome(COILCTL, parseCoilctlArgv(["nope"])), { kind: "exit", code: 2, stderr: /^coilctl: unknown command "nope"/ });
});

t.test("each sub-command's --help: its usage, only the flags it reads, its examples", async (t) => {
  const check = COILCTL_COMMANDS.find((c) => c.command === "ipam-check");
  if (check === undefined) throw new Error("no ipam check");
  const argv = ["ipam", "check", "--help"];
  t.same(coilctlHelpProgram(argv), coilctlHelpProgram(["--help", "ipam", "check"]), "flags before or after the words");
  const help = cliOutcome(coilctlHelpProgram(argv), parseCoilctlArgv(argv));
  t.match(help, { kind: "exit", code: 0, stdout: renderHelp(commandProgram(check)) });
  const text = renderHelp(commandProgram(check));
  t.match(text, /^leak report; exit 1 when something leaks/);
  t.match(text, /\nUsage:\n {2}coilctl ipam check \[-o table\|json\] \[flags\]\n\nExamples:\n {2}coilctl ipam check\n {2}coilctl ipam check --grace-period 10m -o json > report\.json\n/);
  t.match(text, /--api-only +pools, blocks, ipam check: read the Kubernetes API only/);
  t.notMatch(text, /--from-report|--socket/, "flags of other commands are not listed");
  t.match(renderHelp(coilctlHelpProgram(["completion", "--help"])), /\nUsage:\n {2}coilctl completion bash\|zsh\|fish \[flags\]\n\nExamples:\n {2}source <\(coilctl completion bash\)/);
  t.equal(coilctlHelpProgram(["ipam", "--help"]), COILCTL, "a prefix of commands: the program's help");
  t.equal(coilctlHelpProgram(["ipam", "check", "--version"]), COILCTL, "--version names the program");
  t.match(cliOutcome(coilctlHelpProgram(["ipam", "check", "--version"]), parseCoilctlArgv(["ipam", "check", "--version"])), { kind: "exit", code: 0, stdout: /^coilctl version / });
  t.match(cliOutcome(coilctlHelpProgram(["completion"]), parseCoilctlArgv(["completion"])), { kind: "exit", code: 2, stderr: /^coilctl: completion needs one shell: bash, zsh, fish\n\nprint a shell completion script[\s\S]*\nUsage:\n {2}coilctl completion bash\|zsh\|fish \[flags\]/ });
  for (const c of COILCTL_COMMANDS) {
    const p = commandProgram(c);
    t.same(p.flags.map((f) => f.name).sort(), [...c.flags].sort(), `${c.words.join(" ")}: exactly its flags`);
    t.same(p.examples, c.examples);
  }
});

t.test("table: aligned columns, - for null, no trailing blanks", async (t) => {
  t.equal(table(["A", "LONGER"], [["xx", null], ["y", 3]]), "A   LONGER\nxx  -\ny   3\n");
});
