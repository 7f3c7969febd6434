/**
 * The guard that keeps the bundles tests start current (test/helpers/bundles.ts), on a throw-away
 * checkout whose scripts/build-bins.sh is a stand-in (it logs each build, fails or holds on request,
 * and writes the bundles by rename as the real one does): a stale or missing bundle is rebuilt, a
 * current one is not, two processes that find the bundles stale at once build once, a source edited
 * during the build gets a second build, and a failing build is an error naming its output.
 *
 * Run with `--child <root>` (by this test only), the file checks the bundles of `<root>` once and
 * prints the outcome as JSON.
 */
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundlePath, ensureBundles, staleReason, type BundleSet } from "./bundles.js";
import { sourceChildEnv } from "./child-env.js";
import { waitFor } from "./wait.js";

const PROGRAMS = ["a", "b"] as const;

if (process.argv[2] === "--child") {
  const r = ensureBundles({ root: process.argv[3] ?? "", programs: PROGRAMS });
  process.stdout.write(JSON.stringify(r.isOk() ? { ok: r.value } : { err: r.error.kind }));
} else {
  /** The stand-in build: logs a line, fails while `fail` exists, waits while `hold` exists, renames the bundles into place. */
  const BUILD = `#!/bin/sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
echo build >> "$ROOT/builds.log"
if [ -e "$ROOT/fail" ]; then echo "esbuild: broken input" >&2; exit 1; fi
while [ -e "$ROOT/hold" ]; do sleep 0.05; done
mkdir -p "$ROOT/dist/bin"
for p in ${PROGRAMS.join(" ")}; do echo "// $p" > "$ROOT/dist/bin/$p.mjs.tmp.$$"; mv -f "$ROOT/dist/bin/$p.mjs.tmp.$$" "$ROOT/dist/bin/$p.mjs"; done
`;

  /** A checkout with two sources, package.json and the stand-in build; no bundles yet. */
  const checkout = (t: Test): BundleSet => {
    const root = mkdtempSync(join(tmpdir(), "coil-bundles-"));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    for (const d of ["adapters/x", "lib", "scripts"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, "adapters/x/main.ts"), "export {};\n");
    writeFileSync(join(root, "lib/index.ts"), "export {};\n");
    writeFileSync(join(root, "package.json"), "{}\n");
    writeFileSync(join(root, "scripts/build-bins.sh"), BUILD);
    chmodSync(join(root, "scripts/build-bins.sh"), 0o755);
    // Sources an hour old: a bundle built now is newer.
    const old = Date.now() / 1000 - 3600;
    for (const f of ["adapters/x/main.ts", "lib/index.ts", "package.json", "scripts/build-bins.sh"]) utimesSync(join(root, f), old, old);
    return { root, programs: PROGRAMS };
  };
  const builds = (set: BundleSet): number => (existsSync(join(set.root, "builds.log")) ? readFileSync(join(set.root, "builds.log"), "utf8").split("\n").filter((l) => l !== "").length : 0);
  /** Set `file`'s mtime to now. */
  const touch = (file: string): void => utimesSync(file, new Date(), new Date());
  /** Check `set` in a child process (tsx); resolves with what it printed. */
  const child = (set: BundleSet): { done: Promise<unknown> } => {
    const c = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", set.root], { env: sourceChildEnv(), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    return { done: once(c, "close").then(() => JSON.parse(out) as unknown) };
  };
  /** True when some process waits for `lock` (`flock <lock> true`), i.e. found it taken by a builder. */
  const waitingOnLock = (lock: string): boolean =>
    readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .some((pid) => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
          return argv[0]?.endsWith("flock") === true && argv[1] === lock && argv[2] === "true";
        } catch {
          return false; // exited meanwhile
        }
      });

  t.test("missing bundles are built; current ones are not; the outcome is kept per process", async (t) => {
    const set = checkout(t);
    t.match(staleReason(set), /dist\/bin\/a\.mjs is missing/);
    t.same(ensureBundles(set)._unsafeUnwrap(), "rebuilt");
    t.equal(builds(set), 1);
    t.equal(staleReason(set), undefined, "current after the build");
    touch(join(set.root, "lib/index.ts"));
    t.same(ensureBundles(set)._unsafeUnwrap(), "up to date", "checked once per process: not again");
    t.equal(builds(set), 1);
    t.same(await child(set).done, { ok: "rebuilt" }, "a new process sees the edit and rebuilds");
    t.equal(builds(set), 2);
    t.same(await child(set).done, { ok: "up to date" });
    t.equal(builds(set), 2, "no build when current");
  });

  t.test("a source newer than a bundle makes them stale, whichever file it is", async (t) => {
    const set = checkout(t);
    t.same(ensureBundles(set)._unsafeUnwrap(), "rebuilt");
    const old = Date.now() / 1000 - 1800;
    for (const p of PROGRAMS) utimesSync(bundlePath(p, set.root), old, old);
    t.equal(staleReason(set), undefined, "bundles (30 min) newer than the sources (60 min)");
    for (const f of ["adapters/x/main.ts", "lib/index.ts", "package.json", "scripts/build-bins.sh"]) {
      touch(join(set.root, f));
      t.match(staleReason(set), `${f} is newer than`, f);
      utimesSync(join(set.root, f), old - 1800, old - 1800);
    }
    writeFileSync(join(set.root, "lib/README.md"), "notes\n");
    t.equal(staleReason(set), undefined, "a Markdown file is not a source");
  });

  t.test("two processes finding the bundles stale build once", async (t) => {
    const set = checkout(t);
    writeFileSync(join(set.root, "hold"), "");
    const a = child(set);
    await waitFor("the first build started", () => builds(set) === 1, { timeoutMs: 60_000 });
    const b = child(set);
    await waitFor("the second process waits for the lock", () => waitingOnLock(join(set.root, "dist/.bundles.lock")), { timeoutMs: 60_000 });
    rmSync(join(set.root, "hold"));
    t.same(await a.done, { ok: "rebuilt" });
    t.same(await b.done, { ok: "rebuilt" }, "the waiter finds them current after the lock");
    t.equal(builds(set), 1, "one build");
  });

  t.test("a source edited during the build gets a second build", async (t) => {
    const set = checkout(t);
    writeFileSync(join(set.root, "hold"), "");
    const a = child(set);
    await waitFor("the build started", () => builds(set) === 1, { timeoutMs: 60_000 });
    touch(join(set.root, "adapters/x/main.ts"));
    rmSync(join(set.root, "hold"));
    t.same(await a.done, { ok: "rebuilt" });
    t.equal(builds(set), 2, "built again after the edit");
  });

  t.test("a failing build is an error with its output; nothing is marked current", async (t) => {
    const set = checkout(t);
    writeFileSync(join(set.root, "fail"), "");
    const r = ensureBundles(set);
    t.ok(r.isErr());
    if (r.isErr()) {
      t.equal(r.error.kind, "build-failed");
      t.match(r.error.message, /scripts\/build-bins\.sh failed \(exit 1\) rebuilding stale bundles \(.*a\.mjs is missing\):\nesbuild: broken input/);
    }
    t.notOk(existsSync(bundlePath("a", set.root)));
    rmSync(join(set.root, "fail"));
    t.same(ensureBundles(set)._unsafeUnwrap(), "rebuilt", "the next call tries again");
  });
}
