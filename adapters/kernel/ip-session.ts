/**
 * A long-lived `ip -j -N -d -batch -` co-process in the executor's own namespace, so that host-side
 * netlink lines (a pod's host batch, a DEL's `link del`, a route table of thousands of lines) and
 * route queries cost no process spawn.
 *
 * Protocol: a call writes ALL its lines at once, followed by one marker line, `link show dev lo`
 * (every namespace has `lo`; the command only reads). `ip` runs the lines in order and, in batch
 * mode, flushes each command's JSON output as one line on stdout; change commands print nothing,
 * `show` commands exactly one JSON line. So the marker's output line on stdout says that every line
 * of the call has run, and the lines printed before it are the outputs of the call's `show` lines.
 * That holds only if no line of the call can print what the marker prints (`link show`, `addr show
 * dev lo`, … do): a call would then end at that line's output, and the next call at this call's
 * marker, before its own lines ran. So {@link IpSession.run} takes change lines only (their verb is
 * one of {@link IP_SESSION_CHANGE_VERBS}; they print nothing), and {@link IpSession.query} counts
 * the one output line of each of its lines before it looks for the marker.
 * The co-process runs WITHOUT `-force`: on the first failing line `ip` prints
 * `Command failed -:<n>` on stderr and exits, and the lines after it (already in the pipe) never
 * run — so a call behaves exactly like a separate `ip -batch -` process (stop at the first failure;
 * stderr names the failed line, renumbered to the caller's lines). The next call starts a new
 * co-process. Calls to one co-process are serialised; a session runs a few co-processes side by
 * side (lanes) so that one stalled line does not hold up every call. A timeout or an unexpected
 * exit kills the co-process; the next call starts a new one.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { err, ok, type Result } from "neverthrow";
import { LineSplitter } from "./line-splitter.js";
import type { ExecError, ExecOutput } from "./run.js";

/** The line written after a call's lines: reads only, always succeeds, prints one JSON line. */
export const IP_SESSION_MARKER = "link show dev lo";
const DEFAULT_TIMEOUT_MS = 30_000;
/** The default co-process: JSON output (flushed per command), numbers for names (`-N`), details (`-d`), no `-force`. */
export const IP_SESSION_ARGV: readonly string[] = ["ip", "-j", "-N", "-d", "-batch", "-"];

/**
 * The verbs a {@link IpSession.run} line may have (its second word, written in full): the ones that
 * change state and print nothing. A read (`show`, `list`, `get`, an object without a verb) could
 * print the marker's output; see the module comment.
 */
export const IP_SESSION_CHANGE_VERBS: ReadonlySet<string> = new Set(["add", "append", "change", "del", "delete", "prepend", "replace", "set"]);

/** Why `line` (the call's line `n`) cannot go to {@link IpSession.run}, or undefined when it can. */
function notAChangeLine(line: string, n: number): string | undefined {
  const verb = line.trim().split(/\s+/)[1];
  if (verb !== undefined && IP_SESSION_CHANGE_VERBS.has(verb)) return undefined;
  return `line ${n} ${JSON.stringify(line)} is not a change command (its verb must be one of ${[...IP_SESSION_CHANGE_VERBS].join(", ")}); read lines go to query()`;
}

/** Whether a stdout line is the marker's output (the JSON of link `lo`). */
function isMarkerOutput(line: string): boolean {
  return line.startsWith("[{") && line.includes('"ifname":"lo"');
}

/** Options of {@link IpSession}. */
export interface IpSessionOptions {
  /** Co-processes run side by side (a call goes to the least busy one), so one stalled line does not hold up every call. Default 2. */
  readonly lanes?: number;
}

/** Options of one call. */
export interface IpSessionCallOptions {
  /** Kill the co-process and fail the call after this many milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
}

/** See the module comment. */
export class IpSession {
  readonly #lanes: { readonly lane: IpLane; pending: number }[];
  readonly #argv: readonly string[];

  /** `argv` of each co-process; default {@link IP_SESSION_ARGV}. It must print JSON (`-j`) and must not use `-force`. */
  constructor(argv: readonly string[] = IP_SESSION_ARGV, opts: IpSessionOptions = {}) {
    this.#argv = argv;
    this.#lanes = Array.from({ length: Math.max(1, opts.lanes ?? 2) }, () => ({ lane: new IpLane(argv), pending: 0 }));
  }

  /**
   * Run change `lines` like `ip -batch -` would (see the module comment); stdout holds any lines they
   * printed. A line whose verb is not one of {@link IP_SESSION_CHANGE_VERBS} fails the call before
   * anything runs (`spawn-failed`, naming the line).
   */
  async run(lines: readonly string[], opts: IpSessionCallOptions = {}): Promise<Result<ExecOutput, ExecError>> {
    const bad = lines.map((l, i) => notAChangeLine(l, i + 1)).find((why) => why !== undefined);
    if (bad !== undefined) return err({ kind: "spawn-failed", argv: [...this.#argv], message: bad });
    return (await this.#call(lines, undefined, opts)).map((r) => ({ stdout: r.outputs.map((l) => `${l}\n`).join(""), stderr: r.stderr }));
  }

  /**
   * Run `show` lines, each of which prints exactly one JSON line (`route show table 119`, …), and
   * return those lines in order. A failing line fails the call as {@link run} does.
   */
  async query(lines: readonly string[], opts: IpSessionCallOptions = {}): Promise<Result<string[], ExecError>> {
    return (await this.#call(lines, lines.length, opts)).map((r) => r.outputs);
  }

  async #call(lines: readonly string[], outputs: number | undefined, opts: IpSessionCallOptions): Promise<Result<LaneResult, ExecError>> {
    const l = this.#lanes.reduce((a, b) => (b.pending < a.pending ? b : a));
    l.pending += 1;
    try {
      return await l.lane.run(lines, outputs, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } finally {
      l.pending -= 1;
    }
  }

  /** Stop the co-processes (a later call starts new ones). */
  close(): void {
    for (const l of this.#lanes) l.lane.close();
  }
}

/** What one call got: stdout lines before the marker's, and stderr (warnings of lines that succeeded). */
interface LaneResult {
  readonly outputs: string[];
  readonly stderr: string;
}

/** The call in flight on a lane. */
interface Waiter {
  /** ip's number of the call's first line (ip counts every line it read, markers included). */
  readonly first: number;
  readonly count: number;
  /** Outputs expected (`undefined`: change lines, any number is accepted). */
  readonly outputs: number | undefined;
  readonly resolve: (r: Result<LaneResult, ExecError>) => void;
}

/** One co-process and its serialised calls. */
class IpLane {
  readonly #argv: readonly string[];
  #child: ChildProcessWithoutNullStreams | undefined;
  /** Lines written to the current co-process (ip's line counter). */
  #sent = 0;
  /** The current co-process's stdout, split into lines. */
  #splitter = new LineSplitter((l) => this.#onLine(l));
  #lines: string[] = [];
  #stderr = "";
  #waiter: Waiter | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(argv: readonly string[]) {
    this.#argv = argv;
  }

  run(lines: readonly string[], outputs: number | undefined, timeoutMs: number): Promise<Result<LaneResult, ExecError>> {
    const next = this.#queue.then(() => this.#runNow(lines, outputs, timeoutMs));
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
    this.#splitter = new LineSplitter((l) => this.#onLine(l));
    this.#lines = [];
    this.#stderr = "";
    child.stdout.setEncoding("utf8"); // a character split between two chunks is decoded whole
    child.stdout.on("data", (text: string) => {
      if (this.#child === child) this.#splitter.push(text);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (this.#child === child) this.#stderr += b.toString("utf8");
    });
    child.stdin.on("error", () => undefined); // EPIPE after ip stopped at a failed line; the exit tells.
    child.on("error", (e) => this.#gone(child, null, null, e.message));
    child.on("close", (code, signal) => this.#gone(child, code, signal, undefined));
    // An idle co-process must not keep the daemon (or a test) alive.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    this.#child = child;
    return child;
  }


  /** A whole stdout line: an output of the call, or the marker's (the call is done). */
  #onLine(line: string): void {
    const w = this.#waiter;
    if (w === undefined) return; // nothing asked: a late line of a call that failed
    if (!isMarkerOutput(line) || (w.outputs !== undefined && this.#lines.length < w.outputs)) {
      this.#lines.push(line);
      return;
    }
    const outputs = this.#lines;
    const stderr = this.#stderr;
    this.#lines = [];
    this.#stderr = "";
    this.#waiter = undefined;
    if (w.outputs !== undefined && outputs.length !== w.outputs) {
      this.#kill();
      w.resolve(err({ kind: "exit-nonzero", argv: this.#argv, code: null, signal: null, stdout: outputs.join("\n"), stderr: `${stderr}expected ${w.outputs} output lines, got ${outputs.length}` }));
      return;
    }
    w.resolve(ok({ outputs, stderr }));
  }

  /** The co-process ended (a failed line, a kill, a crash): fail the call in flight. */
  #gone(child: ChildProcessWithoutNullStreams, code: number | null, signal: NodeJS.Signals | null, spawnError: string | undefined): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w === undefined) return;
    const argv = [...this.#argv];
    if (spawnError !== undefined) {
      w.resolve(err({ kind: "spawn-failed", argv, message: spawnError }));
      return;
    }
    // `ip -batch` (no -force) stops at the first failed line and names it; renumber it to the call's lines.
    const m = /Command failed -:(\d+)\n/.exec(this.#stderr);
    const n = m?.[1] === undefined ? undefined : Number(m[1]) - w.first + 1;
    const stderr = n !== undefined && n >= 1 && n <= w.count && m !== null ? this.#stderr.replace(m[0], `Command failed -:${n}\n`) : `${this.#stderr}ip co-process exited (${String(code ?? signal)})`;
    w.resolve(err({ kind: "exit-nonzero", argv, code, signal, stdout: this.#lines.join("\n"), stderr }));
  }

  #kill(): void {
    const c = this.#child;
    this.#child = undefined;
    c?.kill("SIGKILL");
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve(err({ kind: "exit-nonzero", argv: [...this.#argv], code: null, signal: "SIGKILL", stdout: "", stderr: "ip co-process closed" }));
  }

  #runNow(lines: readonly string[], outputs: number | undefined, timeoutMs: number): Promise<Result<LaneResult, ExecError>> {
    const argv = [...this.#argv];
    if (lines.some((l) => l.includes("\n"))) return Promise.resolve(err({ kind: "spawn-failed", argv, message: "newline inside a batch line" }));
    if (lines.length === 0) return Promise.resolve(ok({ outputs: [], stderr: "" }));
    const child = this.#child ?? this.#start();
    const first = this.#sent + 1;
    this.#sent += lines.length + 1;
    this.#lines = [];
    this.#stderr = "";
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.#waiter !== waiter) return;
        this.#waiter = undefined;
        this.#kill();
        resolve(err({ kind: "timeout", argv, timeoutMs, stderr: this.#stderr }));
      }, timeoutMs);
      const waiter: Waiter = {
        first,
        count: lines.length,
        outputs,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      this.#waiter = waiter;
      child.stdin.write(`${lines.join("\n")}\n${IP_SESSION_MARKER}\n`);
    });
  }
}
