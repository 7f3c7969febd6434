/**
 * `coilctl completion bash|zsh|fish`: the scripts come from the same command and flag definitions
 * as `--help`. The bash script runs for real: `coilctl completion bash` is spawned (the built bundle, test/helpers/bundles.ts), its
 * output sourced in a bash subprocess (a fixed script; the words to complete are passed as
 * arguments, never interpolated), and `_coilctl` is called with COMP_WORDS/COMP_CWORD as bash's
 * programmable completion sets them. zsh and fish are not installed here: their scripts are checked
 * for every command, operand and flag of the definitions.
 */
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { completionScript, isPlainWord } from "../../../adapters/coilctl/completion.js";
import { COILCTL, COILCTL_COMMANDS, COMPLETION_SHELLS, FLAG_VALUES } from "../../../adapters/coilctl/flags.js";
import { programArgs } from "../../helpers/bundles.js";
import { sourceChildEnv } from "../../helpers/child-env.js";

const exec = promisify(execFile);

/** Source the script, set COMP_WORDS to the arguments (the last one is the word under the cursor), print COMPREPLY one per line. */
const COMPLETE = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _coilctl; printf "%s\\n" "${COMPREPLY[@]}"';

t.test("bash: the script printed by coilctl completes commands, flags and flag values", async (t) => {
  const printed = await exec(process.execPath, [...programArgs("coilctl"), "completion", "bash"], { env: sourceChildEnv() });
  t.equal(printed.stdout, completionScript("bash"), "coilctl completion bash prints the generated script (no cluster access)");
  t.equal(printed.stderr, "");
  const dir = mkdtempSync(join(tmpdir(), "coilctl-completion-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, "coilctl.bash");
  writeFileSync(script, printed.stdout);
  writeFileSync(join(dir, "report.json"), "{}");
  const complete = async (...words: string[]): Promise<string[]> => {
    const r = await exec("bash", ["--noprofile", "--norc", "-c", COMPLETE, "complete", script, "coilctl", ...words], { cwd: dir });
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  t.same(await complete(""), ["pools", "blocks", "addresses", "ipam", "completion"], "the commands");
  t.same(await complete("ip"), ["ipam"]);
  t.same(await complete("ipam", ""), ["check", "release"], "ipam's sub-commands");
  t.same(await complete("ipam", "r"), ["release"]);
  t.same(await complete("--node", "n1", "-o", "json", "ipam", "c"), ["check"], "flags and their values before the command are skipped");
  t.same(await complete("ipam", "check", "--gr"), ["--grace-period"]);
  t.same(await complete("ipam", "check", "--"), ["--kubeconfig", "--output", "--progress", "--no-progress", "--node-timeout", "--coild-port", "--grace-period", "--api-only", "--help"], "exactly ipam check's flags");
  t.same(await complete("addresses", "--a"), [], "addresses takes no --api-only");
  t.same(await complete("ipam", "release", "--f"), ["--from-report"]);
  t.same(await complete("-o", ""), ["table", "json"], "-o's values");
  t.same(await complete("pools", "--output", "j"), ["json"]);
  t.same(await complete("pools", "--output", "=", ""), ["table", "json"], "--output= (bash splits at =)");
  t.same(await complete("pools", "--output", "=", "t"), ["table"]);
  t.same(await complete("ipam", "release", "--from-report", "rep"), ["report.json"], "--from-report: file names");
  t.same(await complete("ipam", "check", "--node", ""), [], "--node: nothing offered");
  t.same(await complete("completion", ""), ["bash", "zsh", "fish"], "completion's shells");
  t.same(await complete("completion", "bash", ""), [], "nothing after the shell");
  t.same(await complete("pools", ""), [], "nothing after a full command but flags");
});

t.test("every script names every command, operand and flag of the definitions", async (t) => {
  const words = [...COILCTL_COMMANDS.flatMap((c) => [...c.words, ...(c.operands ?? [])]), ...COILCTL.flags.map((f) => `--${f.name}`), ...Object.values(FLAG_VALUES).flatMap((v) => (v === undefined || v === "file" ? [] : v))];
  for (const w of words) t.ok(isPlainWord(w), `${w} can be listed unquoted`);
  for (const shell of COMPLETION_SHELLS) {
    const s = completionScript(shell);
    for (const c of COILCTL_COMMANDS) for (const w of [...c.words, ...(c.operands ?? [])]) t.match(s, w, `${shell}: ${w}`);
    for (const f of COILCTL.flags) t.match(s, shell === "fish" ? `-l '${f.name}'` : `--${f.name}`, `${shell}: --${f.name}`);
  }
  t.match(completionScript("zsh"), /^#compdef coilctl\n/, "zsh: autoloadable from $fpath");
  t.match(completionScript("zsh"), /'--grace-period:ipam check\\: blocks, BlockRequests/, "zsh: flags with their descriptions, colons escaped");
  t.match(completionScript("fish"), /complete -c coilctl -n '__coilctl_at \\'ipam\\'' -a 'check' -d 'leak report;/, "fish: ipam's sub-commands after ipam");
  t.match(completionScript("fish"), /-l 'output' -s 'o' -x -a 'table json'/, "fish: -o's values");
});
