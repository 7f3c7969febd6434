/**
 * coil-spawner (adapters/kernel/spawner/): its Go tests, then the TypeScript client against the
 * real program, built from the tree into a temp dir. Conformance: every case gives the same
 * {@link runCommand} value through the spawner as through Node's spawn. Then what only the spawner
 * can do wrong: dying with calls in flight, starting again after, a program that is not there.
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { currentSpawner, runCommand, runInNetns, useSpawner, type RunOptions } from "../../../adapters/kernel/run.js";
import { reasonOfExecError } from "../../../adapters/kernel/failure.js";
import { Spawner, SPAWNER_FILE, spawnerPath } from "../../../adapters/kernel/spawner.js";
import { realKernel } from "../../../adapters/kernel/real-kernel.js";
import { runExecutorConformance } from "../../helpers/executor-conformance.js";
import { requireRoot, withNetns } from "../../helpers/netns.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const SRC = join(ROOT, "adapters/kernel/spawner");
const env = { ...process.env, PATH: `${process.env.PATH ?? ""}${delimiter}/usr/local/go/bin`, CGO_ENABLED: "0" };
const dir = mkdtempSync(join(tmpdir(), "coil-spawner-test-"));
t.teardown(() => {
  useSpawner(undefined);
  rmSync(dir, { recursive: true, force: true });
});
t.setTimeout(10 * 60_000); // a cold Go cache compiles the standard library first

t.test("go test ./... passes in adapters/kernel/spawner", async (t) => {
  try {
    const out = execFileSync("go", ["test", "-count=1", "./..."], { cwd: SRC, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    t.match(out, /^ok\s/m);
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    t.fail(`go test failed:\n${x.stdout ?? ""}${x.stderr ?? ""}`);
  }
});

const bin = join(dir, SPAWNER_FILE);
execFileSync("go", ["build", "-trimpath", "-o", bin, "."], { cwd: SRC, env, stdio: ["ignore", "pipe", "pipe"] });

/** Cases whose value must not depend on who spawned the process. */
const CASES: ReadonlyArray<readonly [string, readonly string[], RunOptions?]> = [
  ["stdout and stdin", ["cat"], { input: "hello\nworld\n" }],
  ["argv is never a shell string", ["echo", "$(id -u); echo pwned"]],
  ["non-zero exit, stdout and stderr", ["sh", "-c", "echo partial; echo 'Command failed -:2' >&2; exit 1"]],
  ["killed by a signal", ["sh", "-c", "kill -KILL $$"]],
  ["missing executable by path", ["/no/such/binary"]],
  ["missing executable on PATH", ["coil-no-such-command"]],
  ["empty argv", []],
  ["a child that ignores its stdin", ["true"], { input: "x".repeat(1 << 20) }],
  ["1 MiB of output", ["head", "-c", String(1 << 20), "/dev/zero"]],
  ["UTF-8 output", ["printf", "%s", "é ✓ 漢"]],
  ["invalid UTF-8 output, decoded as Node decodes it", ["printf", "\\342\\202x \\377"]],
  ["stderr and a signal", ["sh", "-c", "echo bye >&2; kill -TERM $$"]],
];

t.test("the same values through Node's spawn and through the spawner", async (t) => {
  const s = new Spawner(bin);
  t.teardown(() => s.close());
  for (const [name, argv, opts] of CASES) {
    useSpawner(undefined);
    const viaNode = await runCommand(argv, opts);
    useSpawner(s);
    const viaSpawner = await runCommand(argv, opts);
    useSpawner(undefined);
    t.same(viaSpawner, viaNode, name);
  }
  useSpawner(s);
  const started = Date.now();
  t.match((await runCommand(["sleep", "120"], { timeoutMs: 100 }))._unsafeUnwrapErr(), { kind: "timeout", timeoutMs: 100 }, "the timeout kills the child");
  t.ok(Date.now() - started < 60_000, "killed at the timeout, not when sleep ended");
  t.equal(currentSpawner(), s);
  useSpawner(undefined);
});

t.test("in a namespace: the spawner enters it itself, with the values nsenter gives", async (t) => {
  if (!requireRoot(t)) return;
  const ns = withNetns(t);
  const s = new Spawner(bin);
  t.teardown(() => {
    useSpawner(undefined);
    s.close();
  });
  const both = async (argv: readonly string[], opts?: RunOptions, path = ns.path) => {
    useSpawner(undefined);
    const viaNode = await runInNetns({ kind: "path", path }, argv, opts);
    useSpawner(s);
    const viaSpawner = await runInNetns({ kind: "path", path }, argv, opts);
    useSpawner(undefined);
    return { viaNode, viaSpawner };
  };
  const links = await both(["ip", "-j", "link", "show"]);
  t.same(links.viaSpawner, links.viaNode, "ip -j link show");
  t.same((JSON.parse(links.viaSpawner._unsafeUnwrap().stdout) as { ifname: string }[]).map((l) => l.ifname), ["lo"], "only the namespace's links");
  const batch = await both(["ip", "-batch", "-"], { input: "link set lo up\nlink set nosuch up\n" });
  t.same(batch.viaSpawner, batch.viaNode, "a failing batch: same code, stderr and argv (the nsenter form)");
  t.match(batch.viaSpawner._unsafeUnwrapErr(), { kind: "exit-nonzero", code: 1, argv: ["nsenter", `--net=${ns.path}`, "--", "ip", "-batch", "-"] });
  const calls = s.calls;
  const notNetns = await both(["true"], undefined, "/etc/hostname");
  t.equal(s.calls, calls + 1, "the spawner ran it (entered the namespace itself)");
  for (const r of [notNetns.viaNode, notNetns.viaSpawner]) t.match(r._unsafeUnwrapErr(), { kind: "exit-nonzero", code: 1, argv: ["nsenter", "--net=/etc/hostname", "--", "true"] });
  t.equal(reasonOfExecError(notNetns.viaSpawner._unsafeUnwrapErr()), reasonOfExecError(notNetns.viaNode._unsafeUnwrapErr()), "a file that is not a namespace: the same failure reason");
  t.match(notNetns.viaSpawner._unsafeUnwrapErr(), { stderr: /cannot enter network namespace \/etc\/hostname: invalid argument/ });
  const missing = await both(["coil-no-such-command"]);
  for (const r of [missing.viaNode, missing.viaSpawner]) t.match(r._unsafeUnwrapErr(), { kind: "exit-nonzero", code: 127 });
  t.equal(reasonOfExecError(missing.viaSpawner._unsafeUnwrapErr()), reasonOfExecError(missing.viaNode._unsafeUnwrapErr()), "a missing command in a namespace: nsenter's exit 127 and the same reason");
  t.match((await runInNetns({ kind: "path", path: ns.path }, []))._unsafeUnwrapErr(), { kind: "spawn-failed", message: "empty argv" }, "no nsenter without a command (it would start a shell)");
});

t.test("100 concurrent commands, each answered with its own output", async (t) => {
  const s = new Spawner(bin);
  t.teardown(() => s.close());
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => s.run(["sh", "-c", `echo ${i}; exit ${i % 3}`], { timeoutMs: 30_000 })));
  rs.forEach((r, i) => {
    if (i % 3 === 0) t.equal(r._unsafeUnwrap().stdout, `${i}\n`);
    else t.match(r._unsafeUnwrapErr(), { kind: "exit-nonzero", code: i % 3, stdout: `${i}\n` });
  });
});

t.test("a spawner that dies fails its calls in flight, and the next call starts a new one", async (t) => {
  const s = new Spawner(bin);
  t.teardown(() => s.close());
  const first = await s.run(["sh", "-c", "echo $PPID"], { timeoutMs: 30_000 });
  const pid = Number(first._unsafeUnwrap().stdout.trim());
  t.ok(pid > 1, "the spawner is the command's parent");
  const release = join(dir, "release-dies");
  const inFlight = s.run(["sh", "-c", 'while [ ! -e "$0" ]; do sleep 0.05; done', release], { timeoutMs: 60_000 });
  process.kill(pid, "SIGKILL");
  t.match((await inFlight)._unsafeUnwrapErr(), { kind: "exit-nonzero", code: null, signal: null, stderr: /exited \(SIGKILL\).*outcome is unknown/ });
  writeFileSync(release, ""); // the orphaned child ends
  const again = await s.run(["sh", "-c", "echo $PPID"], { timeoutMs: 30_000 });
  const pid2 = Number(again._unsafeUnwrap().stdout.trim());
  t.ok(pid2 > 1 && pid2 !== pid, "a new spawner ran the next call");
});

t.test("a spawner that cannot start or speaks nonsense fails the call with the reason", async (t) => {
  const missing = new Spawner(join(dir, "absent"));
  t.match((await missing.run(["true"], { timeoutMs: 5000 }))._unsafeUnwrapErr(), { kind: "spawn-failed", message: /cannot start .*absent.*ENOENT/ });
  const liar = join(dir, "liar");
  writeFileSync(liar, "#!/bin/sh\necho 'not json'\necho boom >&2\nexit 7\n");
  chmodSync(liar, 0o755);
  const bad = new Spawner(liar);
  t.match((await bad.run(["true"], { timeoutMs: 5000 }))._unsafeUnwrapErr(), { kind: "exit-nonzero", stderr: /liar exited \(7\): boom; the command's outcome is unknown/ });
});

t.test("the executor conformance suite on the real kernel, every command through the spawner", async (t) => {
  if (!requireRoot(t)) return;
  const s = new Spawner(bin);
  t.teardown(() => s.close());
  useSpawner(s);
  await t.test("conformance", async (tt) => {
    runExecutorConformance(tt, () => ({ kernel: realKernel({ timeoutMs: 10_000 }), newNetns: (n) => withNetns(n).ref }));
  });
  useSpawner(undefined);
  t.ok(s.calls > 50, `the suite's commands went through the spawner (${s.calls})`);
});

t.test("a spawner that stops answering is given up after the call's timeout and replaced", async (t) => {
  const mute = join(dir, "mute");
  writeFileSync(mute, "#!/bin/sh\nexec sleep 600\n");
  chmodSync(mute, 0o755);
  const s = new Spawner(mute);
  t.teardown(() => s.close());
  const first = s.run(["true"], { timeoutMs: 100 });
  const second = s.run(["true"], { timeoutMs: 60_000 });
  t.match((await first)._unsafeUnwrapErr(), { kind: "timeout", stderr: /did not answer within 10100 ms/ });
  t.match((await second)._unsafeUnwrapErr(), { kind: "exit-nonzero", stderr: /stopped answering and was killed; the command's outcome is unknown/ });
});

t.test("odd timeouts and a request over the spawner's limit", async (t) => {
  const s = new Spawner(bin);
  t.teardown(() => s.close());
  t.same((await s.run(["echo", "x"], { timeoutMs: 1500.5 }))._unsafeUnwrap(), { stdout: "x\n", stderr: "" }, "a fractional timeout");
  t.same((await s.run(["echo", "y"], { timeoutMs: 2 ** 40 }))._unsafeUnwrap(), { stdout: "y\n", stderr: "" }, "a timeout beyond a timer's range");
  t.match((await s.run(["cat"], { timeoutMs: 1000, input: "x".repeat(257 * 2 ** 20) }))._unsafeUnwrapErr(), { kind: "spawn-failed", message: /over coil-spawner's 268435456 bytes/ });
  t.same((await s.run(["echo", "still"], { timeoutMs: 10_000 }))._unsafeUnwrap(), { stdout: "still\n", stderr: "" }, "the spawner still serves");
});

t.test("--spawner values", async (t) => {
  const here = (p: string): boolean => p === "/usr/local/coil/coil-spawner";
  t.equal(spawnerPath("node", "/usr/local/coil/coild", here), undefined);
  t.equal(spawnerPath("auto", "/usr/local/coil/coild", here), "/usr/local/coil/coil-spawner");
  t.equal(spawnerPath("auto", "/work/adapters/daemon/main.ts", here), undefined, "auto without the file: Node's spawn");
  t.equal(spawnerPath("auto", undefined, here), undefined);
  t.equal(spawnerPath("/opt/x/spawner", "/usr/local/coil/coild", here), "/opt/x/spawner");
});
