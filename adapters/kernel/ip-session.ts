/**
 * A long-lived `ip -force -batch -` co-process in the executor's own namespace, so that host-side
 * netlink lines (a pod's host batch, a DEL's `link del`) cost no process spawn.
 *
 * Protocol: lines are sent ONE at a time, each followed by a marker line (`-coilmark`, an unknown
 * object that `ip` rejects without touching the kernel). `ip` writes errors to stderr unbuffered and,
 * with `-force`, keeps reading after a failure, reporting `Command failed -:<line>` for every
 * failed line — so the marker's own failure report says that the line before it has finished,
 * and a `Command failed -:<n>` naming the line itself says it failed. On the first failed line the
 * remaining lines are not sent, so a call behaves exactly like a separate `ip -batch -` process
 * (stop at the first failure; stderr names the failed line, renumbered to the caller's lines).
 * Calls to one co-process are serialised; a session runs a few co-processes side by side (lanes)
 * so that one stalled line does not hold up every call. A timeout or an unexpected exit kills the
 * co-process; the next call starts a new one.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { err, ok, type Result } from "neverthrow";
import type { ExecError, ExecOutput } from "./run.js";

const MARKER = "-coilmark";
const DEFAULT_TIMEOUT_MS = 30_000;

interface Waiter {
  readonly line: number;
  readonly resolve: (stderr: string | undefined) => void;
}

/** Options of {@link IpSession}. */
export interface IpSessionOptions {
  /** Co-processes run side by side (a call goes to the least busy one), so one stalled line does not hold up every call. Default 2. */
  readonly lanes?: number;
}

/** See the module comment. */
export class IpSession {
  readonly #lanes: { readonly lane: IpLane; pending: number }[];

  /** `argv` of each co-process; default `ip -force -batch -`. */
  constructor(argv: readonly string[] = ["ip", "-force", "-batch", "-"], opts: IpSessionOptions = {}) {
    this.#lanes = Array.from({ length: Math.max(1, opts.lanes ?? 2) }, () => ({ lane: new IpLane(argv), pending: 0 }));
  }

  /** Run `lines` like `ip -batch -` would (see the module comment). */
  async run(lines: readonly string[], opts: { readonly timeoutMs?: number } = {}): Promise<Result<ExecOutput, ExecError>> {
    const l = this.#lanes.reduce((a, b) => (b.pending < a.pending ? b : a));
    l.pending += 1;
    try {
      return await l.lane.run(lines, opts);
    } finally {
      l.pending -= 1;
    }
  }

  /** Stop the co-processes (a later call starts new ones). */
  close(): void {
    for (const l of this.#lanes) l.lane.close();
  }
}

/** One co-process and its serialised calls. */
class IpLane {
  readonly #argv: readonly string[];
  #child: ChildProcessWithoutNullStreams | undefined;
  #sent = 0;
  #stderr = "";
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(argv: readonly string[]) {
    this.#argv = argv;
  }

  run(lines: readonly string[], opts: { readonly timeoutMs?: number } = {}): Promise<Result<ExecOutput, ExecError>> {
    const next = this.#queue.then(() => this.#runNow(lines, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#kill();
  }

  #start(): ChildProcessWithoutNullStreams {
    const [file, ...args] = this.#argv;
    const child = spawn(file ?? "ip", args, { stdio: ["pipe", "pipe", "pipe"] });
    this.#sent = 0;
    this.#stderr = "";
    child.stdout.on("data", () => undefined);
    child.stderr.on("data", (b: Buffer) => {
      this.#stderr += b.toString("utf8");
      this.#check();
    });
    child.stdin.on("error", () => undefined);
    child.on("error", () => this.#gone(child));
    child.on("close", () => this.#gone(child));
    // An idle co-process must not keep the daemon (or a test) alive.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    this.#child = child;
    return child;
  }

  #gone(child: ChildProcessWithoutNullStreams): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve(undefined);
  }

  #kill(): void {
    const c = this.#child;
    this.#child = undefined;
    c?.kill("SIGKILL");
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve(undefined);
  }

  /** Resolve the waiter once the marker after its line has been reported. */
  #check(): void {
    const w = this.#waiter;
    if (w === undefined) return;
    const done = `Command failed -:${w.line + 1}\n`;
    const at = this.#stderr.indexOf(done);
    if (at < 0) return;
    const out = this.#stderr.slice(0, at);
    this.#stderr = this.#stderr.slice(at + done.length);
    this.#waiter = undefined;
    w.resolve(out);
  }

  /** Send one line + marker; resolves to the stderr of the line (marker report removed), or undefined if the co-process died. */
  #send(child: ChildProcessWithoutNullStreams, line: string): Promise<string | undefined> {
    const n = this.#sent + 1;
    this.#sent += 2;
    return new Promise((resolve) => {
      this.#waiter = { line: n, resolve: (s) => resolve(s?.replace(/Object "-coilmark" is unknown, try "ip help"\.\n$/, "")) };
      child.stdin.write(`${line}\n${MARKER}\n`);
    });
  }

  async #runNow(lines: readonly string[], timeoutMs: number): Promise<Result<ExecOutput, ExecError>> {
    const argv = [...this.#argv];
    const child = this.#child ?? this.#start();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#kill();
    }, timeoutMs);
    try {
      for (const [i, line] of lines.entries()) {
        if (line.includes("\n")) return err({ kind: "spawn-failed", argv, message: "newline inside a batch line" });
        const lineNo = this.#sent + 1;
        const stderr = await this.#send(child, line);
        if (stderr === undefined) {
          return timedOut
            ? err({ kind: "timeout", argv, timeoutMs, stderr: "" })
            : err({ kind: "exit-nonzero", argv, code: null, signal: null, stdout: "", stderr: "ip co-process exited" });
        }
        const failed = `Command failed -:${lineNo}\n`;
        if (stderr.includes(failed)) {
          return err({ kind: "exit-nonzero", argv, code: 1, signal: null, stdout: "", stderr: stderr.replace(failed, `Command failed -:${i + 1}\n`) });
        }
      }
      return ok({ stdout: "", stderr: "" });
    } finally {
      clearTimeout(timer);
    }
  }
}
