/**
 * Crash-safe replacement of a small state file: write a temp file in the same directory, fsync
 * it, rename it over the target, fsync the directory. At any instant the target is either the
 * old complete file or the new complete file; a leftover temp file is ignored by readers.
 */
import { promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ResultAsync } from "neverthrow";

/** The filesystem calls {@link writeFileAtomic} makes, injectable so tests can "crash" between them. */
export interface AtomicFsOps {
  /** Write `data` to `path` (created, mode 0600) and fsync it. */
  readonly writeSynced: (path: string, data: string) => Promise<void>;
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

async function writeSynced(path: string, data: string): Promise<void> {
  const fh = await fsp.open(path, "w", 0o600);
  try {
    await fh.writeFile(data, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
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

/** The temp file name used for `path`: `.<base>.tmp-<pid>-<n>` in the same directory. */
export function tempPathFor(path: string): string {
  counter += 1;
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter}`);
}

/** Replace `path` with `data` atomically and durably (see the module comment). */
export function writeFileAtomic(path: string, data: string, ops: AtomicFsOps = REAL_FS_OPS): ResultAsync<void, AtomicWriteError> {
  const tmp = tempPathFor(path);
  const run = async (): Promise<void> => {
    try {
      await ops.writeSynced(tmp, data);
      await ops.rename(tmp, path);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    await ops.syncDir(dirname(path));
  };
  return ResultAsync.fromPromise(run(), (e) => ({
    kind: "state-write-failed" as const,
    path,
    message: e instanceof Error ? e.message : String(e),
  }));
}

/** Remove temp files left by a crash in the middle of {@link writeFileAtomic} for `path`. */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}.tmp-`;
  const names = await fsp.readdir(dirname(path)).catch(() => [] as string[]);
  const stale = names.filter((n) => n.startsWith(prefix));
  await Promise.all(stale.map((n) => fsp.rm(join(dirname(path), n), { force: true })));
  return stale.length;
}
