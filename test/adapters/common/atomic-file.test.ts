// The shared atomic file replacement (coild's blocks.json, coil-installer, webhook certificates).
import t, { type Test } from "tap";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REAL_FS_OPS, removeStaleTemps, replaceFile, writeFileAtomic, type AtomicFsOps } from "../../../adapters/common/atomic-file.js";

async function dir(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "coil-atomic-"));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test("text and copy sources, mode set regardless of the umask, new inode, no temp left", async (t) => {
  const d = await dir(t);
  const target = join(d, "10-coil.conflist");
  await writeFile(target, "old");
  const before = await stat(target);
  const umask = process.umask(0o077);
  try {
    await replaceFile(target, "new", { mode: 0o644 });
  } finally {
    process.umask(umask);
  }
  const after = await stat(target);
  t.equal(await readFile(target, "utf8"), "new");
  t.equal(after.mode & 0o777, 0o644, "mode 0644 despite umask 077");
  t.not(after.ino, before.ino, "replaced by rename");
  const bin = join(d, "coil");
  await replaceFile(bin, { kind: "copy", from: target }, { mode: 0o755 });
  t.equal(await readFile(bin, "utf8"), "new");
  t.equal((await stat(bin)).mode & 0o777, 0o755);
  await writeFileAtomic(join(d, "blocks.json"), "{}").match(() => undefined, (e) => t.fail(e.message));
  t.equal((await stat(join(d, "blocks.json"))).mode & 0o777, 0o600, "state files default to 0600");
  t.same((await readdir(d)).sort(), ["10-coil.conflist", "blocks.json", "coil"], "no temp files");
});

t.test("a failure before the rename keeps the old file and removes the temp", async (t) => {
  const d = await dir(t);
  const target = join(d, "blocks.json");
  await writeFile(target, "old");
  const failing: AtomicFsOps = { ...REAL_FS_OPS, rename: () => Promise.reject(new Error("simulated crash")) };
  const r = await writeFileAtomic(target, "new", failing);
  t.equal(r.isErr() && r.error.kind, "state-write-failed");
  await t.rejects(replaceFile(target, { kind: "copy", from: join(d, "missing") }), { code: "ENOENT" });
  t.equal(await readFile(target, "utf8"), "old");
  t.same(await readdir(d), ["blocks.json"]);
});

t.test("stale temps of a crashed writer are removed, other files are not", async (t) => {
  const d = await dir(t);
  const target = join(d, "blocks.json");
  await writeFile(join(d, ".blocks.json.tmp-1-1-abcd"), "x");
  await writeFile(join(d, "other.json"), "y");
  t.equal(await removeStaleTemps(target), 1);
  t.same(await readdir(d), ["other.json"]);
});
