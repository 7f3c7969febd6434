/**
 * Atomic file installation: write (or copy) into a temp file in the target directory, set the
 * mode, fsync, rename over the target, fsync the directory. A reader (kubelet, the container
 * runtime) sees either the old complete file or the new one, never a partial write.
 */
import { randomBytes } from "node:crypto";
import { constants, promises as fsp } from "node:fs";
import { join } from "node:path";

/** What to put into the target file. */
export type AtomicSource = { readonly kind: "text"; readonly text: string } | { readonly kind: "copy"; readonly from: string };

/** Options of {@link installFileAtomic}. */
export interface AtomicInstallOptions {
  readonly dir: string;
  readonly name: string;
  readonly source: AtomicSource;
  /** Mode of the installed file, set explicitly (independent of the umask). */
  readonly mode: number;
}

/**
 * Temp names start with a dot and end in `.tmp`: libcni only loads `.conf`, `.conflist` and
 * `.json` files, so kubelet never picks up a half-written configuration.
 */
export function tempName(name: string): string {
  return `.${name}.coil-installer-${randomBytes(6).toString("hex")}.tmp`;
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

/** Install `source` as `dir/name` atomically and durably; rejects (leaving no temp file) on failure. */
export async function installFileAtomic(o: AtomicInstallOptions): Promise<string> {
  const target = join(o.dir, o.name);
  const tmp = join(o.dir, tempName(o.name));
  try {
    if (o.source.kind === "copy") await fsp.copyFile(o.source.from, tmp, constants.COPYFILE_EXCL);
    const fh = await fsp.open(tmp, o.source.kind === "copy" ? "r+" : "wx", 0o600);
    try {
      if (o.source.kind === "text") await fh.writeFile(o.source.text, "utf8");
      await fh.chmod(o.mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(o.dir);
  return target;
}
