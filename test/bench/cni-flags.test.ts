// bench/cni.ts refuses bad flags, and a hog phase without stress-ng, with a clear message and exit
// code 2 before it creates anything (it checks before making its temp dir, netns or coild).
import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sourceChildEnv } from "../helpers/child-env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function bench(args: readonly string[], env: NodeJS.ProcessEnv = sourceChildEnv()): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/cni.ts"), ...args], { cwd: ROOT, env, encoding: "utf8" });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

for (const [args, message] of [
  [["--phases=quiet,loud"], /--phases must list distinct phases of quiet, hog/],
  [["--phases=quiet,quiet"], /--phases must list distinct phases/],
  [["--n=0"], /--n must be an integer ≥ 1/],
  [["--burst=ten"], /--burst must be an integer ≥ 1/],
  [["--cpu-calls=0"], /--cpu-calls must be an integer ≥ 1/],
  [["--n=3", "--rounds=4"], /--rounds \(4\) must not exceed --n \(3\)/],
  [["--hog-timeout=1"], /--hog-timeout must be an integer ≥ 10/],
  [["--only=everything"], /--only must be daemon, rss or exec/],
] as const) {
  t.test(`refuses ${args.join(" ")}`, async (t) => {
    const r = bench(args);
    t.equal(r.code, 2);
    t.match(r.stderr, message);
    t.equal(r.stdout, "");
  });
}

t.test("a hog phase without stress-ng on PATH says how to get it, and stops", { skip: process.getuid?.() !== 0 ? "the root check comes first" : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "coil-bench-flags-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(process.execPath, join(dir, "node")); // PATH holds node and nothing else
  const r = bench(["--phases=hog", "--n=2"], sourceChildEnv({ PATH: dir }));
  t.equal(r.code, 2);
  t.match(r.stderr, /the "hog" phase runs `stress-ng --cpu 2`, which is not runnable here/);
  t.match(r.stderr, /apt-get install stress-ng\) or run only the quiet phase: npm run bench:cni -- --phases=quiet/);
  t.equal(r.stdout, "");
});
