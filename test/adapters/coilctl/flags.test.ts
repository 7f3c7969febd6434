/** coilctl's command line: sub-commands, defaults, refused input with pflag-style messages, --help/--version. */
import t from "tap";
import { cliOutcome, renderHelp } from "../../../adapters/common/flags.js";
import { COILCTL, parseCoilctlArgv, type CoilctlConfig } from "../../../adapters/coilctl/flags.js";
import { table } from "../../../adapters/coilctl/run.js";

const cfg = (argv: string[]): CoilctlConfig => {
  const r = parseCoilctlArgv(argv)._unsafeUnwrap();
  if (typeof r === "string") throw new Error(r);
  return r;
};
const refused = (argv: string[]): string => parseCoilctlArgv(argv)._unsafeUnwrapErr().message;

t.test("sub-commands and defaults", async (t) => {
  t.same(cfg(["pools"]), { command: "pools", kubeconfig: undefined, output: "table", node: undefined, gracePeriodMs: 300_000, nodeTimeoutMs: 10_000, coildPort: 9385, fromReport: undefined, socket: "/run/coild.sock" });
  t.equal(cfg(["blocks", "--node", "n1"]).node, "n1");
  t.equal(cfg(["--node=n1", "addresses", "-o", "json"]).output, "json", "flags before or after the command");
  t.match(cfg(["ipam", "check", "--grace-period", "90s", "--coild-port=19385"]), { command: "ipam-check", gracePeriodMs: 90_000, coildPort: 19385 });
  t.match(cfg(["ipam", "release", "--from-report", "r.json", "--socket", "/s"]), { command: "ipam-release", fromReport: "r.json", socket: "/s" });
  t.equal(cfg(["ipam", "check", "--grace-period=0s"]).gracePeriodMs, 0, "a zero grace period is allowed");
});

t.test("refused command lines", async (t) => {
  t.match(refused([]), /^a command is required: pools, blocks, addresses, ipam check, ipam release$/);
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
  t.match(cliOutcome(COILCTL, parseCoilctlArgv(["ipam", "check", "--version"])), { kind: "exit", code: 0, stdout: /^coilctl version / });
  t.match(cliOutcome(COILCTL, parseCoilctlArgv(["nope"])), { kind: "exit", code: 2, stderr: /^coilctl: unknown command "nope"/ });
});

t.test("table: aligned columns, - for null, no trailing blanks", async (t) => {
  t.equal(table(["A", "LONGER"], [["xx", null], ["y", 3]]), "A   LONGER\nxx  -\ny   3\n");
});
