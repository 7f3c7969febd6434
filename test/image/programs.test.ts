/**
 * The image's digest is only reproducible if the programs it carries are: building each self-contained
 * `coil` executable (Bun's and the QuickJS build) and coild's `coil-spawner` twice must give the same bytes. (Bun embeds the output file's name in the
 * executable, so a build that writes to a per-process temporary name differs on every run.)
 */
import t from "tap";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "dist/bin/coil");
const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

for (const [flag, bin] of [
  ["--bun-only", BIN],
  ["--qjs-only", join(ROOT, "dist/bin/coil-qjs")],
] as const) {
  t.test(`scripts/build-cni.sh ${flag} twice gives a byte-identical ${bin.slice(ROOT.length).replace(/^\//, "")}`, async (t) => {
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      execFileSync("sh", [join(ROOT, "scripts/build-cni.sh"), flag], { stdio: ["ignore", "ignore", "inherit"] });
      digests.push(sha256(bin));
      t.comment(`build ${i + 1}: ${Math.round(performance.now() - t0)} ms, sha256 ${digests[i]}`);
    }
    t.equal(digests[1], digests[0]);
  });
}

t.test("scripts/build-spawner.sh twice gives a byte-identical dist/bin/coil-spawner", async (t) => {
  const bin = join(ROOT, "dist/bin/coil-spawner");
  const digests: string[] = [];
  for (let i = 0; i < 2; i++) {
    execFileSync("sh", [join(ROOT, "scripts/build-spawner.sh")], { stdio: ["ignore", "ignore", "inherit"] });
    digests.push(sha256(bin));
  }
  t.equal(digests[1], digests[0]);
});
