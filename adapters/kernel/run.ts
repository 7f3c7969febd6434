/**
 * Process spawning for the kernel adapter: argv arrays only (`shell: false`), stdout and stderr
 * always captured into the value or the error, and namespace entry by spawning through
 * `nsenter --net=<path>` (the running Node process never changes namespace). Commands start with
 * Node's spawn, or through a `coil-spawner` once {@link useSpawner} installed one (coild does:
 * Node's spawn forks the whole process, see spawner.ts).
 */
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { err, errAsync, ok, ResultAsync, type Result } from "neverthrow";
import type { KernelCommandError, NetnsRef } from "../../lib/changeset/index.js";
import type { Spawner } from "./spawner.js";

/** What a finished command printed. */
export interface ExecOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Why a command did not succeed (the kernel port's `KernelCommandError`). `stderr` is always carried when the process ran. */
export type ExecError = KernelCommandError;

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Written to the child's stdin, which is then closed. Without it stdin is empty. */
  readonly input?: string;
  /** Kill the child (SIGKILL) after this many milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The process-wide spawner, when one is installed. */
let spawner: Spawner | undefined;

/**
 * Start every later {@link runCommand} (and so every executor, observer, sysctl and rollback
 * command of this process) through `s`, or again with Node's spawn (`undefined`). One setting per
 * process, like the `ip` found on PATH: coild installs its spawner once at start.
 */
export function useSpawner(s: Spawner | undefined): void {
  spawner = s;
}

/** The spawner {@link runCommand} uses now, if any. */
export function currentSpawner(): Spawner | undefined {
  return spawner;
}

/**
 * Run `argv[0]` with arguments `argv.slice(1)`, without a shell. Resolves to the captured output
 * when the exit code is 0; otherwise to an {@link ExecError} carrying stderr.
 */
export function runCommand(argv: readonly string[], opts: RunOptions = {}): ResultAsync<ExecOutput, ExecError> {
  const [file, ...args] = argv;
  if (file === undefined) return errAsync({ kind: "spawn-failed", argv, message: "empty argv" });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (spawner !== undefined) return new ResultAsync(spawner.run(argv, { timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) }));
  return new ResultAsync(
    new Promise<Result<ExecOutput, ExecError>>((resolve) => {
      const child = spawn(file, args, { shell: false, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const errs: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => errs.push(b));
      child.stdin.on("error", () => undefined); // EPIPE when the child exits early; the exit code tells.
      child.on("error", (e) => {
        clearTimeout(timer);
        resolve(err({ kind: "spawn-failed", argv, message: e.message }));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString("utf8");
        const stderr = Buffer.concat(errs).toString("utf8");
        if (timedOut) resolve(err({ kind: "timeout", argv, timeoutMs, stderr }));
        else if (code === 0) resolve(ok({ stdout, stderr }));
        else resolve(err({ kind: "exit-nonzero", argv, code, signal, stdout, stderr }));
      });
      child.stdin.end(opts.input ?? "");
    }),
  );
}

/** Check that a namespace path is absolute and exists. */
export function validateNetnsPath(path: string): Result<string, ExecError> {
  if (!isAbsolute(path) || path.includes("\0")) {
    return err({ kind: "invalid-netns", path, message: "netns path must be absolute" });
  }
  try {
    statSync(path);
  } catch (e) {
    return err({ kind: "invalid-netns", path, message: e instanceof Error ? e.message : String(e) });
  }
  return ok(path);
}

/**
 * The argv that runs `argv` inside namespace `ref`: `nsenter --net=<path> …argv` for a path, the
 * argv unchanged for the host namespace.
 */
export function inNetns(ref: NetnsRef, argv: readonly string[]): Result<readonly string[], ExecError> {
  if (ref.kind === "host") return ok(argv);
  // `nsenter --net=<path> --` without a command would start a shell.
  if (argv.length === 0 || argv[0] === "") return err({ kind: "spawn-failed", argv, message: "empty argv" });
  return validateNetnsPath(ref.path).map((p) => ["nsenter", `--net=${p}`, "--", ...argv]);
}

/**
 * {@link runCommand} inside namespace `ref`. Through a spawner, the spawner enters the namespace
 * itself (no `nsenter` process); the values are the same, with `argv` in errors still the
 * `nsenter --net=<path> -- …` form it stands for.
 */
export function runInNetns(ref: NetnsRef, argv: readonly string[], opts: RunOptions = {}): ResultAsync<ExecOutput, ExecError> {
  const full = inNetns(ref, argv);
  if (full.isErr()) return errAsync(full.error);
  if (spawner === undefined || ref.kind === "host") return runCommand(full.value, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const run = spawner.run(argv, { timeoutMs, netns: ref.path, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  return new ResultAsync(run).mapErr((e): ExecError => ("argv" in e ? { ...e, argv: full.value } : e));
}

