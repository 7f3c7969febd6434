/**
 * The client of `coil-spawner` (adapters/kernel/spawner/main.go): a small long-lived Go process that
 * starts the kernel adapter's commands for coild. Node's `child_process.spawn` forks the whole Node
 * process (libuv 1.46 uses fork, not vfork): measured ~6 ms of CPU per process, spent on the event
 * loop's thread, so a burst of 100 pod ADDs (one `nsenter … ip -batch` each) queued behind ~1 s of
 * forks. The spawner starts each child with clone(CLONE_VM|CLONE_VFORK) from its own small address
 * space, off coild's thread. It decides nothing: argv arrays come from here (never a shell), and the
 * results come back as the same {@link ExecOutput} / {@link ExecError} values as Node's spawn gives
 * (adapters/kernel/run.ts).
 *
 * Protocol: one JSON request per line on the spawner's stdin, one JSON response per line on its
 * stdout, matched by id (see main.go). A request may name a network namespace: the spawner enters it
 * on a thread of its own and starts the child there, so a pod's `ip -batch` costs one process, not
 * `nsenter` + `ip`. The spawner is started at the first call and again after it
 * exits; a call in flight when it exits fails with `exit-nonzero` and says that its outcome is unknown
 * (the command may have run: the executor's rollback treats it as a failed first line).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join } from "node:path";
import { err, ok, type Result } from "neverthrow";
import { LineSplitter } from "./line-splitter.js";
import type { ExecError, ExecOutput } from "./run.js";

/** The spawner's response line (main.go `response`); `stdout` and `stderr` are base64 (`null` when empty). */
interface SpawnerResponse {
  readonly id: number;
  readonly code: number;
  readonly signal: string;
  readonly stdout: string | null;
  readonly stderr: string | null;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly error: string;
}

/** One call waiting for its response. */
interface Pending {
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly resolve: (r: Result<ExecOutput, ExecError>) => void;
  readonly guard: NodeJS.Timeout;
}

/** Options of one {@link Spawner.run} call. */
export interface SpawnerRunOptions {
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  /** The spawner kills the child (SIGKILL) after this many milliseconds. */
  readonly timeoutMs: number;
  /** Start the child inside this network namespace (an absolute path), as `nsenter --net=<path> --` would, without the nsenter process. */
  readonly netns?: string;
}

/** The file name of the spawner executable (dist/bin/coil-spawner; /usr/local/coil/coil-spawner in the image). */
export const SPAWNER_FILE = "coil-spawner";

/**
 * The spawner a `--spawner` value names: `node` → none (Node's spawn), `auto` → {@link SPAWNER_FILE}
 * next to the program file `program` when `isFile` says it is there (else none), anything else → that path.
 */
export function spawnerPath(flag: string, program: string | undefined, isFile: (path: string) => boolean): string | undefined {
  if (flag === "node") return undefined;
  if (flag !== "auto") return flag;
  if (program === undefined) return undefined;
  const candidate = join(dirname(program), SPAWNER_FILE);
  return isFile(candidate) ? candidate : undefined;
}

/** How long past a call's own timeout the client waits for the spawner's answer before giving up on it (and on the spawner). */
const GUARD_MS = 10_000;
/** The longest timeout a call may have: its guard timer must stay within Node's 2^31 - 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1 - GUARD_MS;
/** The spawner's limit on one request line (main.go `MaxRequest`). */
const MAX_REQUEST_BYTES = 256 * 2 ** 20;

function isResponse(v: unknown): v is SpawnerResponse {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  const text = (x: unknown): boolean => x === null || typeof x === "string";
  return typeof r["id"] === "number" && typeof r["code"] === "number" && text(r["stdout"]) && text(r["stderr"]);
}

/** A base64 field as text, decoded as Node decodes a child's output. */
const decoded = (b64: string | null): string => (b64 === null ? "" : Buffer.from(b64, "base64").toString("utf8"));

/** The {@link ExecOutput} or {@link ExecError} a response stands for (Node's spawn gives the same values). */
export function responseOutcome(argv: readonly string[], timeoutMs: number, r: SpawnerResponse): Result<ExecOutput, ExecError> {
  if (r.error !== "") return err({ kind: "spawn-failed", argv, message: r.error });
  const stdout = decoded(r.stdout);
  const rawStderr = decoded(r.stderr);
  // Incomplete output is never a success: a reader would parse what is missing as absent.
  const stderr = r.truncated ? `${rawStderr}\n(coil-spawner: output incomplete: over its limit, or its pipes still open at the deadline)` : rawStderr;
  if (r.timedOut) return err({ kind: "timeout", argv, timeoutMs, stderr });
  if (r.code === 0 && !r.truncated) return ok({ stdout, stderr });
  return err({ kind: "exit-nonzero", argv, code: r.signal === "" ? r.code : null, signal: r.signal === "" ? null : r.signal, stdout, stderr });
}

/** See the module comment. */
export class Spawner {
  readonly #path: string;
  #child: ChildProcessWithoutNullStreams | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #splitter = new LineSplitter((l) => this.#onLine(l));
  #stderr = "";

  /** `path`: the `coil-spawner` executable. Nothing starts until the first {@link run}. */
  constructor(path: string) {
    this.#path = path;
  }

  /** How many commands were sent to the spawner so far. */
  get calls(): number {
    return this.#nextId - 1;
  }

  /** The executable this client starts. */
  get path(): string {
    return this.#path;
  }

  /** Run `argv` (no shell) as Node's spawn would, through the spawner. */
  run(argv: readonly string[], opts: SpawnerRunOptions): Promise<Result<ExecOutput, ExecError>> {
    if (argv.length === 0 || argv[0] === "") return Promise.resolve(err({ kind: "spawn-failed", argv, message: "empty argv" }));
    // Node's setTimeout takes any number; the spawner takes whole milliseconds (at least 1).
    const timeoutMs = Number.isFinite(opts.timeoutMs) ? Math.min(Math.max(1, Math.ceil(opts.timeoutMs)), MAX_TIMEOUT_MS) : MAX_TIMEOUT_MS;
    const id = this.#nextId++;
    const line = `${JSON.stringify({ id, argv, stdin: opts.input ?? "", timeoutMs, ...(opts.netns !== undefined ? { netns: opts.netns } : {}) })}\n`;
    if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) return Promise.resolve(err({ kind: "spawn-failed", argv, message: `the request (stdin included) is over coil-spawner's ${MAX_REQUEST_BYTES} bytes` }));
    const child = this.#child ?? this.#start();
    if (typeof child === "string") return Promise.resolve(err({ kind: "spawn-failed", argv, message: child }));
    return new Promise((resolve) => {
      // The spawner enforces the timeout; this guard covers a spawner that stopped answering, which is
      // then replaced (its other calls fail as "outcome unknown").
      const guard = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        resolve(err({ kind: "timeout", argv, timeoutMs: opts.timeoutMs, stderr: `coil-spawner did not answer within ${timeoutMs + GUARD_MS} ms` }));
        if (this.#child === child) {
          this.#gone(child, `${this.#path} stopped answering and was killed`);
          child.kill("SIGKILL");
        }
      }, timeoutMs + GUARD_MS);
      this.#pending.set(id, { argv, timeoutMs: opts.timeoutMs, resolve, guard });
      child.stdin.write(line);
    });
  }

  /** Stop the spawner (its running children finish on their own); calls in flight fail. A later call starts it again. */
  close(): void {
    const c = this.#child;
    if (c === undefined) return;
    this.#gone(c, "closed");
    c.stdin.end();
  }

  /** Start the spawner; a string says why it could not be (Node's spawn throws for some errors, e.g. ENOTDIR). */
  #start(): ChildProcessWithoutNullStreams | string {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.#path, [], { stdio: ["pipe", "pipe", "pipe"] });
    } catch (e) {
      return `cannot start ${this.#path}: ${e instanceof Error ? e.message : String(e)}`;
    }
    // Without a pid the process did not start (the "error" event says why; streams may be missing).
    if (child.pid === undefined && (child.stdout === null || child.stdin === null)) return `cannot start ${this.#path}`;
    this.#splitter = new LineSplitter((l) => this.#onLine(l));
    this.#stderr = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      if (this.#child === child) this.#splitter.push(text);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (this.#child === child) this.#stderr = `${this.#stderr}${b.toString("utf8")}`.slice(-4096);
    });
    child.stdin.on("error", () => undefined); // EPIPE once it died; its exit fails the calls
    child.stdout.on("error", () => undefined); // its close fails the calls
    child.stderr.on("error", () => undefined);
    child.on("error", (e) => this.#gone(child, `cannot start ${this.#path}: ${e.message}`));
    child.on("close", (code, signal) => this.#gone(child, `${this.#path} exited (${String(code ?? signal)})${this.#stderr === "" ? "" : `: ${this.#stderr.trim()}`}`));
    // An idle spawner must not keep coild (or a test) alive; a call's guard timer does while it waits.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    this.#child = child;
    return child;
  }


  #onLine(line: string): void {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (!isResponse(v)) return; // not a response line: nothing can be matched to it
    const p = this.#pending.get(v.id);
    if (p === undefined) return; // its call gave up already
    this.#pending.delete(v.id);
    clearTimeout(p.guard);
    p.resolve(responseOutcome(p.argv, p.timeoutMs, v));
  }

  /** The spawner is gone (or could not start): every call in flight fails. */
  #gone(child: ChildProcessWithoutNullStreams, why: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const started = why.startsWith("cannot start");
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.guard);
      p.resolve(
        started
          ? err({ kind: "spawn-failed", argv: p.argv, message: why })
          : err({ kind: "exit-nonzero", argv: p.argv, code: null, signal: null, stdout: "", stderr: `${why}; the command's outcome is unknown` }),
      );
    }
  }
}
