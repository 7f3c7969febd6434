/**
 * How tests start the project's programs (coild, the `coil` CNI executable, coil-router, ...): by
 * default the built single-file bundles `dist/bin/<name>.mjs` (scripts/build-bins.sh), which start in
 * about a quarter of the CPU time `node --import tsx <source>` spends compiling the import graph (0.5 s
 * against 2 s for coild on a loaded 2-core machine); the suite starts such programs hundreds of times.
 *
 * Never stale: before the first start in a process, {@link ensureBundles} compares the bundles' mtime
 * with every file they are built from (`adapters/`, `lib/`, package.json, package-lock.json and the build
 * scripts; a stat walk of a few hundred files, done once per process) and, when one is newer, rebuilds
 * them (scripts/build-bins.sh: esbuild, a few seconds) rather than failing: a developer who edits a file
 * and runs one test gets the code they edited, as with tsx, and CI (scripts/test-prepare.sh builds dist/
 * first) never rebuilds. Concurrent test processes (tap runs two files at once) share one build: the
 * builder holds `flock -n` on `dist/.bundles.lock`; a process that finds it taken waits for the lock
 * (`flock <lock> true`) and checks again instead of building a second time. build-bins.sh writes each
 * bundle to a temporary file and renames it, so a program already running from the old bundle, or a
 * concurrent `bins.test.ts` build, is never handed a half-written file. When the rebuild fails, or the
 * sources are still newer after it (an edit during the build, a file dated in the future), the start
 * fails with the file that is newer and the command to run.
 *
 * `COIL_TEST_FROM_SOURCE=1` runs the programs from source through tsx instead (no build, slower): for
 * debugging with source paths in stack traces.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { err, ok, type Result } from "neverthrow";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The programs scripts/build-bins.sh bundles, by their `bin` name, and the entry point each is built from. */
export const PROGRAM_SOURCES = {
  coild: "adapters/daemon/main.ts",
  coil: "adapters/cni/main.ts",
  "coil-ipam-controller": "adapters/ipam-controller/main.ts",
  "coil-installer": "adapters/installer/main.ts",
  "coil-router": "adapters/router/main.ts",
  "coil-egress-controller": "adapters/egress-controller/main.ts",
  "coil-egress": "adapters/egress/main.ts",
  coilctl: "adapters/coilctl/main.ts",
} as const;

/** A program tests start: a key of {@link PROGRAM_SOURCES}. */
export type CoilProgram = keyof typeof PROGRAM_SOURCES;

/** True when `COIL_TEST_FROM_SOURCE=1`: {@link programArgs} runs programs from source under tsx (no bundle checked or built for them). */
export const FROM_SOURCE: boolean = process.env["COIL_TEST_FROM_SOURCE"] === "1";

/** Directories whose files the bundles are built from (walked recursively; `*.md` skipped). */
const SOURCE_DIRS = ["adapters", "lib"] as const;
/** Single files the bundles depend on: dependencies, the version they embed, the build itself. */
const SOURCE_FILES = ["package.json", "package-lock.json", "scripts/build-bins.sh", "scripts/build-cni.sh", "scripts/lib/build-info.sh"] as const;
/** flock's exit code when the lock is taken (`-n -E`). */
const LOCK_TAKEN = 75;

/** Why the bundles could not be made current. */
export type BundleError =
  | { readonly kind: "build-failed"; readonly message: string }
  | { readonly kind: "still-stale"; readonly message: string }
  | { readonly kind: "flock-failed"; readonly message: string };

/** Where a bundle is: `<root>/dist/bin/<program>.mjs`. */
export function bundlePath(p: string, root: string = ROOT): string {
  return join(root, "dist/bin", `${p}.mjs`);
}

/** A checkout whose bundles {@link ensureBundles} keeps current: this repository's unless a test of the guard says otherwise. */
export interface BundleSet {
  /** The checkout (holding adapters/, lib/, package.json, scripts/build-bins.sh, dist/bin). */
  readonly root: string;
  /** The bundles scripts/build-bins.sh writes there (`dist/bin/<name>.mjs`). */
  readonly programs: readonly string[];
}

/** This repository's bundles. */
export const REPO_BUNDLES: BundleSet = { root: ROOT, programs: Object.keys(PROGRAM_SOURCES) };

/** The newest source file under `root` and its mtime (ms). */
function newestSource(root: string): { readonly file: string; readonly mtimeMs: number } {
  let newest = { file: "", mtimeMs: 0 };
  const consider = (file: string): void => {
    const m = statSync(file).mtimeMs;
    if (m > newest.mtimeMs) newest = { file, mtimeMs: m };
  };
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && !e.name.endsWith(".md")) consider(path);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(join(root, d))) walk(join(root, d));
  for (const f of SOURCE_FILES) if (existsSync(join(root, f))) consider(join(root, f));
  return newest;
}

/** Why the bundles are stale (a missing one, or a source newer than the oldest), or `undefined` when they are current. */
export function staleReason(set: BundleSet = REPO_BUNDLES): string | undefined {
  let oldest = { file: "", mtimeMs: Infinity };
  for (const p of set.programs) {
    const file = bundlePath(p, set.root);
    if (!existsSync(file)) return `${file} is missing`;
    const m = statSync(file).mtimeMs;
    if (m < oldest.mtimeMs) oldest = { file, mtimeMs: m };
  }
  const src = newestSource(set.root);
  return src.mtimeMs > oldest.mtimeMs ? `${src.file} is newer than ${oldest.file}` : undefined;
}

/** Roots found current in this process (checked once each). */
const current = new Set<string>();

/**
 * Make the bundles current (see the module comment): `ok("up to date")` when they already were,
 * `ok("rebuilt")` when this process built them or waited for another one that did. Checked once per
 * process (and regardless of {@link FROM_SOURCE}: a test whose point is the bundle calls it directly).
 */
export function ensureBundles(set: BundleSet = REPO_BUNDLES): Result<"up to date" | "rebuilt", BundleError> {
  if (current.has(set.root)) return ok("up to date");
  let why = staleReason(set);
  if (why === undefined) {
    current.add(set.root);
    return ok("up to date");
  }
  const lock = join(set.root, "dist/.bundles.lock");
  mkdirSync(join(set.root, "dist"), { recursive: true });
  // Three rounds: a round that waited for another builder, or built while a source changed, checks again.
  for (let round = 0; round < 3 && why !== undefined; round++) {
    const started = Date.now();
    const build = spawnSync("flock", ["-n", "-E", String(LOCK_TAKEN), lock, "sh", join(set.root, "scripts/build-bins.sh")], { cwd: set.root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (build.error !== undefined) return err({ kind: "flock-failed", message: `flock: ${build.error.message} (util-linux; scripts/test-prepare.sh installs it)` });
    if (build.status === LOCK_TAKEN) {
      const wait = spawnSync("flock", [lock, "true"], { stdio: "ignore" });
      if (wait.status !== 0) return err({ kind: "flock-failed", message: `flock ${lock} true: exit ${String(wait.status)}` });
    } else if (build.status !== 0) {
      return err({ kind: "build-failed", message: `scripts/build-bins.sh failed (exit ${String(build.status)}) rebuilding stale bundles (${why}):\n${build.stdout}${build.stderr}` });
    } else {
      const src = newestSource(set.root);
      if (src.mtimeMs > started) {
        // A source edited while esbuild read the old one: the new bundle's mtime would hide it.
        why = `${src.file} changed during the build`;
        continue;
      }
    }
    why = staleReason(set);
  }
  if (why !== undefined) return err({ kind: "still-stale", message: `dist/bin bundles are stale after rebuilding: ${why}. Run \`npm run build\`, or set COIL_TEST_FROM_SOURCE=1 to run the programs from source.` });
  current.add(set.root);
  return ok("rebuilt");
}

/**
 * Node arguments (after `process.execPath`) that start program `p`: its bundle (made current by
 * {@link ensureBundles}; throws with the reason when that fails), or with {@link FROM_SOURCE}
 * `--import tsx <entry point>`.
 */
export function programArgs(p: CoilProgram): readonly string[] {
  if (FROM_SOURCE) return ["--import", "tsx", join(ROOT, PROGRAM_SOURCES[p])];
  const r = ensureBundles();
  if (r.isErr()) throw new Error(`${r.error.kind}: ${r.error.message}`);
  return [bundlePath(p)];
}

/** The whole argv that starts program `p` with this Node: `[process.execPath, ...programArgs(p)]`. */
export function programArgv(p: CoilProgram): readonly string[] {
  return [process.execPath, ...programArgs(p)];
}

/**
 * A regular-expression source for the version and commit a program started by {@link programArgv}
 * reports: `(devel) (commit unknown)` from source; from a bundle, package.json's version and a commit
 * (the HEAD the bundle was built at, which may be older than HEAD now: a bundle is rebuilt when a
 * source changes, not on commit; test/package/bins.test.ts builds and checks it against HEAD).
 */
export function versionPattern(): string {
  if (FROM_SOURCE) return "\\(devel\\) \\(commit unknown\\)";
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  return `${version.replace(/\./g, "\\.")} \\(commit (?:[0-9a-f]{40}|unknown)\\)`;
}

/** The whole `<program> --version` output of a program started by {@link programArgv} (see {@link versionPattern}). */
export function expectedVersionLine(program: string): RegExp {
  return new RegExp(`^${program} version ${versionPattern()}\n$`);
}
