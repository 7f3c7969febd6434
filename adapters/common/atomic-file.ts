/**
 * Crash-safe replacement of a file: write a temp file in the same directory (mode set explicitly,
 * independent of the umask), fsync it, rename it over the target, fsync the directory. At any
 * instant the target is either the old complete file or the new complete file; a reader never sees
 * a partial write. Used for coild's block state (`blocks.json`), coil-installer's binary and
 * conflist, and the webhook certificates of coil-ipam-controller.
 *
 * Temp files are named `.<name>.tmp-<pid>-<n>-<random>` in the target directory: hidden, and with
 * an extension no CNI runtime loads (libcni reads only `.conf`, `.conflist` and `.json`).
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ResultAsync } from "neverthrow";

/** What to put into the file: text, or a copy of another file's content. */
export type AtomicSource = string | { readonly kind: "copy"; readonly from: string };

/** The filesystem calls {@link replaceFile} makes, injectable so tests can "crash" between them. */
export interface AtomicFsOps {
  /** Create `path` holding `source` with `mode` (default 0600, set explicitly) and fsync it. */
  readonly writeSynced: (path: string, source: AtomicSource, mode?: number) => Promise<void>;
  /** Atomically rename `from` to `to`. */
  readonly rename: (from: string, to: string) => Promise<void>;
  /** fsync the directory `dir` so the rename is durable. */
  readonly syncDir: (dir: string) => Promise<void>;
}

/** Why a state file could not be written. */
export interface AtomicWriteError {
  readonly kind: "state-write-failed";
  readonly path: string;
  readonly message: string;
}

/** Options of {@link replaceFile}. */
export interface ReplaceFileOptions {
  /** Mode of the file (default 0600), set explicitly so the umask does not change it. */
  readonly mode?: number;
  /** The filesystem calls (default {@link REAL_FS_OPS}). */
  readonly ops?: AtomicFsOps;
}

async function writeSynced(path: string, source: AtomicSource, mode = 0o600): Promise<void> {
  if (typeof source !== "string") await fsp.copyFile(source.from, path);
  const fh = await fsp.open(path, typeof source === "string" ? "w" : "r+", 0o600);
  try {
    if (typeof source === "string") await fh.writeFile(source, "utf8");
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so a rename or unlink in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The real filesystem operations. */
export const REAL_FS_OPS: AtomicFsOps = { writeSynced, rename: (a, b) => fsp.rename(a, b), syncDir };

let counter = 0;

/** The temp file name used for `path`: `.<base>.tmp-<pid>-<n>-<random>` in the same directory. */
export function tempPathFor(path: string): string {
  counter += 1;
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter}-${randomBytes(4).toString("hex")}`);
}

/** Replace `path` with `source` atomically and durably (see the module comment); rejects, leaving no temp file, on failure. */
export async function replaceFile(path: string, source: AtomicSource, opts: ReplaceFileOptions = {}): Promise<void> {
  const ops = opts.ops ?? REAL_FS_OPS;
  const tmp = tempPathFor(path);
  try {
    await ops.writeSynced(tmp, source, opts.mode ?? 0o600);
    await ops.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await ops.syncDir(dirname(path));
}

/** {@link replaceFile} for a small state file (mode 0600), as a Result. */
export function writeFileAtomic(path: string, data: string, ops: AtomicFsOps = REAL_FS_OPS): ResultAsync<void, AtomicWriteError> {
  return ResultAsync.fromPromise(replaceFile(path, data, { ops }), (e) => ({
    kind: "state-write-failed" as const,
    path,
    message: e instanceof Error ? e.message : String(e),
  }));
}

/** Remove temp files left by a crash in the middle of {@link replaceFile} for `path`. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}.tmp-`;
  const names = await fsp.readdir(dirname(path)).catch(() => [] as string[]);
  const stale = names.filter((n) => n.startsWith(prefix));
  await Promise.all(stale.map((n) => fsp.rm(join(dirname(path), n), { force: true })));
  return stale.length;
}
