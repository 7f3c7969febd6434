/**
 * Tests that need kernel features this machine lacks (FoU, IPIP, ip6tnl) run a command inside a
 * throw-away qemu VM booting Debian's stock kernel with the host's filesystem as its root
 * (scripts/vm/run-in-vm.sh; docs/vm-tests.md). The kernel and boot files are prepared by
 * `npm run test:prepare` (`run-in-vm.sh --prepare`); a test whose VM cannot start fails (skips only
 * with `COIL_TEST_ALLOW_SKIP=1`, never under `CI=true`), like the other privileged tests.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "tap";
import { missingPrerequisite } from "./prerequisites.js";
import { REPO_ROOT } from "./test-host.js";

/** The project's VM runner. */
export const VM_RUNNER = join(REPO_ROOT, "scripts/vm/run-in-vm.sh");

/** The runner's timing line (`COIL_VM_TIMING=1`), in seconds. */
export interface VmTiming {
  /** qemu start → the command starts in the guest (kernel boot, 9p root, module loads). */
  readonly bootS: number;
  /** The command's own run time in the guest, up to power-off. */
  readonly commandS: number;
  /** The whole runner, setup included. */
  readonly totalS: number;
}

/** The outcome of {@link runInVm}. */
export interface VmRun {
  /** The command's exit code in the guest; 124 timed out, 125 the VM failed; null: killed. */
  readonly code: number | null;
  /** The command's stdout and stderr, merged as the guest wrote them. */
  readonly output: string;
  /** The runner's own messages (timing, VM failures, the guest console tail on failure). */
  readonly stderr: string;
  /** Parsed timing, when the runner printed it. */
  readonly timing: VmTiming | undefined;
}

function collect(argv: readonly string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] ?? "false", argv.slice(1), { cwd: REPO_ROOT, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // The runner ends qemu itself at COIL_VM_TIMEOUT; this is the safety net: the runner's PID gets
    // SIGTERM, its trap kills qemu (by PID) and removes its run directory.
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(e) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether a VM can start here: `run-in-vm.sh --check` (nothing fetched or built). Ok: the runner's "ready" line; err: why not. */
export async function vmCheck(): Promise<{ readonly ok: boolean; readonly message: string }> {
  const r = await collect(["bash", VM_RUNNER, "--check"], { env: process.env, timeoutMs: 60_000 });
  return { ok: r.code === 0, message: (r.code === 0 ? r.stdout : r.stderr).trim() || `run-in-vm.sh --check exited ${String(r.code)}` };
}

/**
 * Gate a VM test; call it first. True when the VM can start; otherwise the test fails with the
 * reason and the fix (or skips with `COIL_TEST_ALLOW_SKIP=1` outside CI).
 */
export async function requireVm(t: Test): Promise<boolean> {
  const c = await vmCheck();
  if (c.ok) {
    t.comment(c.message);
    return true;
  }
  missingPrerequisite(t, `no VM for the kernel tests: ${c.message}`, "npm run test:prepare installs qemu-system-x86 and fetches the kernel (scripts/vm/run-in-vm.sh --prepare)");
  return false;
}

/** Options of {@link runInVm}. */
export interface RunInVmOptions {
  /** Upper bound for the whole VM run; qemu is killed after it (default 15 min). */
  readonly timeoutMs?: number;
  /** Environment variables for the command in the guest (besides PATH, LANG, TZ, TERM). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Run `argv` (no shell) as root in a fresh VM, from the repository root, and wait for it. The
 * guest sees the host's files read-only with a throw-away overlay; nothing it does reaches the host.
 */
export async function runInVm(argv: readonly string[], o: RunInVmOptions = {}): Promise<VmRun> {
  const timeoutMs = o.timeoutMs ?? 900_000;
  const extra = o.env ?? {};
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extra,
    COIL_VM_ENV: Object.keys(extra).join(" "),
    COIL_VM_TIMEOUT: String(Math.ceil(timeoutMs / 1000)),
    COIL_VM_TIMING: "1",
  };
  const r = await collect(["bash", VM_RUNNER, "--", ...argv], { env, timeoutMs: timeoutMs + 30_000 });
  const m = /coil-vm timing: setup [\d.]+s, boot ([\d.]+)s, command ([\d.]+)s, total ([\d.]+)s/.exec(r.stderr);
  const timing = m === null ? undefined : { bootS: Number(m[1]), commandS: Number(m[2]), totalS: Number(m[3]) };
  return { code: r.code, output: r.stdout, stderr: r.stderr, timing };
}

/**
 * Bundle a TypeScript program (and the project modules it imports) into one ES module with the
 * project's esbuild, in a temporary directory removed at `t`'s teardown; returns its path. Under
 * emulation `node --import tsx` spends 20-35 s compiling the import graph before the program starts
 * (at load 15-20); the bundle starts in about a second. The guest sees the host's /tmp, so the path
 * is valid inside the VM.
 */
export async function bundleForVm(t: Test, entry: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "coil-vm-bundle-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, "guest.mjs");
  const banner = "import { createRequire as __coilCreateRequire } from 'node:module'; const require = __coilCreateRequire(import.meta.url);";
  const argv = [join(REPO_ROOT, "node_modules/.bin/esbuild"), join(REPO_ROOT, entry), "--bundle", "--platform=node", "--format=esm", "--target=node20", `--outfile=${out}`, "--log-level=warning", `--banner:js=${banner}`];
  const r = await collect(argv, { env: process.env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`esbuild ${entry} failed (exit ${String(r.code)}): ${r.stderr}`);
  return out;
}
