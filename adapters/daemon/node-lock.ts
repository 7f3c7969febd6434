/**
 * coild's start-up locks: one coild per network namespace, and one per `--state-dir`.
 *
 * A coild owns its network namespace's pod networking (rule `lookup 116`, tables 116 and 119, the
 * aliased host veths): a second one, even with another `--socket` and `--state-dir`, would recover
 * against the first one's kernel state and rewrite table 119 under it. And the local store's
 * `<state-dir>/blocks.json` must have one writer, whatever namespace it runs in.
 *
 * Both locks are listening UNIX sockets, so the kernel releases them when the process dies, even
 * by SIGKILL:
 * - the network namespace lock is an abstract socket (`@coil/coild.lock` in `ss -xl`): abstract
 *   names are per network namespace and vanish with their last descriptor, leaving nothing stale;
 * - the state directory lock is the socket file `<state-dir>/coild.lock`; a file left by a dead
 *   holder refuses connections and is replaced.
 *
 * A holder answers every connection with one JSON line ({@link LockHolder}) and closes it, so the
 * refused process can name it (Node has no `SO_PEERCRED`).
 */
import { mkdir, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { err, ok, type Result } from "neverthrow";

/** The abstract socket name (without the leading NUL) of the network namespace lock. */
export const NETNS_LOCK_NAME = "coil/coild.lock";

/** File name of the state directory lock inside `--state-dir`. */
export const STATE_DIR_LOCK_FILE = "coild.lock";

/** How long a refused process waits for the holder to say who it is. */
const HOLDER_QUERY_MS = 2000;

/** What a lock holder tells whoever connects. */
export interface LockHolder {
  /** Process id (in the holder's pid namespace). */
  readonly pid: number;
  /** `COIL_NODE_NAME` (or the host name) of the holder. */
  readonly node: string;
  /** The holder's `--socket`. */
  readonly socket: string;
  /** The holder's `--state-dir`. */
  readonly stateDir: string;
}

/** Why a lock was not taken. `held`: another live process has it (`holder` when it answered). */
export type NodeLockError =
  | { readonly kind: "held"; readonly lock: string; readonly holder: LockHolder | undefined; readonly message: string }
  | { readonly kind: "lock-failed"; readonly lock: string; readonly message: string };

/** A lock this process holds. */
export interface HeldLock {
  /** How the lock is shown to operators (`@coil/coild.lock`, or the socket file path). */
  readonly lock: string;
  /** Release it (idempotent). */
  release(): Promise<void>;
}

function describeHolder(h: LockHolder | undefined): string {
  if (h === undefined) return "another coild (it did not say who it is)";
  return `another coild (pid ${h.pid}, node ${h.node}, socket ${h.socket}, state dir ${h.stateDir})`;
}

function isHolder(v: unknown): v is LockHolder {
  const h = v as Partial<LockHolder> | null;
  return h !== null && typeof h === "object" && Number.isInteger(h.pid) && typeof h.node === "string" && typeof h.socket === "string" && typeof h.stateDir === "string";
}

/** Listen on `addr`; the server, or the listen error's code. */
function listen(addr: string, holder: LockHolder): Promise<Server | NodeJS.ErrnoException> {
  const line = `${JSON.stringify(holder)}\n`;
  const srv = createServer((c) => {
    c.on("error", () => undefined);
    c.end(line);
  });
  return new Promise((resolve) => {
    srv.once("error", (e: NodeJS.ErrnoException) => resolve(e));
    srv.listen(addr, () => {
      srv.removeAllListeners("error");
      srv.on("error", () => undefined);
      resolve(srv);
    });
  });
}

/** Ask the process listening on `addr` who it is: `refused` when nobody listens (a stale socket file). */
function query(addr: string): Promise<LockHolder | undefined | "refused"> {
  return new Promise((resolve) => {
    const s = connect(addr);
    let out = "";
    const done = (v: LockHolder | undefined | "refused"): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), HOLDER_QUERY_MS);
    s.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.length > 4096) done(undefined);
    });
    s.on("end", () => {
      try {
        const v = JSON.parse(out) as unknown;
        done(isHolder(v) ? v : undefined);
      } catch {
        done(undefined);
      }
    });
    s.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" || e.code === "ENOENT" ? "refused" : undefined));
  });
}

function held(srv: Server, lock: string): HeldLock {
  let closed: Promise<void> | undefined;
  return {
    lock,
    release: () => (closed ??= new Promise((resolve) => srv.close(() => resolve()))),
  };
}

/**
 * Take the network namespace lock (the abstract socket `@<name>`) of the namespace this process
 * runs in. `held` names the live holder.
 */
export async function lockNetns(name: string, holder: LockHolder): Promise<Result<HeldLock, NodeLockError>> {
  const addr = `\0${name}`;
  const lock = `@${name}`;
  for (let attempt = 0; ; attempt++) {
    const got = await listen(addr, holder);
    if (!(got instanceof Error)) return ok(held(got, lock));
    if (got.code !== "EADDRINUSE") return err({ kind: "lock-failed", lock, message: `cannot take the network namespace lock ${lock}: ${got.message}` });
    const h = await query(addr);
    // `refused`: the holder exited in between; try once more.
    if (h !== "refused" || attempt > 0) {
      const who = h === "refused" ? undefined : h;
      return err({ kind: "held", lock, holder: who, message: `${describeHolder(who)} already runs in this network namespace (lock ${lock}); refusing to start` });
    }
  }
}

/**
 * Take the state directory lock (the socket file `<dir>/coild.lock`), creating `dir` (mode 0700)
 * when missing. A socket file nobody listens on is left by a dead holder and is replaced. Two
 * processes replacing the same stale file at the same instant can both win; they cannot be in one
 * network namespace ({@link lockNetns} comes first).
 */
export async function lockStateDir(dir: string, holder: LockHolder): Promise<Result<HeldLock, NodeLockError>> {
  const path = join(dir, STATE_DIR_LOCK_FILE);
  const failed = (e: unknown): Result<HeldLock, NodeLockError> =>
    err({ kind: "lock-failed", lock: path, message: `cannot take the state directory lock ${path}: ${e instanceof Error ? e.message : String(e)}` });
  const made = await mkdir(dir, { recursive: true, mode: 0o700 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (made !== undefined) return failed(made);
  for (let attempt = 0; attempt < 2; attempt++) {
    const got = await listen(path, holder);
    if (!(got instanceof Error)) return ok(held(got, path));
    if (got.code !== "EADDRINUSE") return failed(got);
    const h = await query(path);
    if (h !== "refused") {
      return err({ kind: "held", lock: path, holder: h, message: `${describeHolder(h)} uses the state directory ${dir} (lock ${path}); refusing to start` });
    }
    const removed = await rm(path, { force: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (removed !== undefined) return failed(removed);
  }
  return failed(new Error("the lock file keeps reappearing"));
}
