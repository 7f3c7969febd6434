/**
 * The local test cluster's two images, built as OCI archives with the project's OCI writer
 * (scripts/image/oci.ts) — nothing is pulled from a registry:
 *   - `localhost/coil-cluster/pause:1`: `/pause` (scripts/cluster/images/cmd/pause), the sandbox image;
 *   - `localhost/coil-cluster/testbox:1`: Debian's busybox-static (`/bin/busybox` and its applets as
 *     symlinks, no `wget`: it segfaults) plus `/bin/http-echo` (scripts/cluster/images/cmd/http-echo),
 *     default command `http-echo`.
 *
 * Cached under `${COIL_CLUSTER_CACHE:-~/.cache/coil-cluster}/images/<key>/` where the key covers the Go
 * sources, this file, the Go version and the busybox binary; a cached pair is reused. Prints
 * `PAUSE_IMAGE=`, `PAUSE_IMAGE_NAME=`, `TEST_IMAGE=`, `TEST_IMAGE_NAME=` lines on stdout (progress on
 * stderr). Run by scripts/cluster/build.sh; `node --import tsx scripts/cluster/images.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fileDigest, run, writeDirLayer, writeImageArchive } from "../image/oci.js";

/** Name of the pause (sandbox) image. */
export const PAUSE_IMAGE_NAME = "localhost/coil-cluster/pause:1";
/** Name of the test image (busybox + http-echo). */
export const TEST_IMAGE_NAME = "localhost/coil-cluster/testbox:1";
/** The port http-echo listens on by default. */
export const TEST_IMAGE_HTTP_PORT = 8080;

const HERE = dirname(fileURLToPath(import.meta.url));
const GO_MODULE = join(HERE, "images");
const BUSYBOX = "/bin/busybox";
/** Busybox applets left out of the test image (Debian 12's busybox-static `wget` segfaults). */
const OMITTED_APPLETS = new Set(["busybox", "wget"]);
const EPOCH = 0;

/** Paths of the two archives and the image names. */
export interface ClusterImages {
  readonly pause: string;
  readonly test: string;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

async function cacheKey(goVersion: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of [...(await listFiles(GO_MODULE)), fileURLToPath(import.meta.url)]) {
    h.update(`${relative(HERE, f)}\0${await fileDigest(f)}\n`);
  }
  h.update(`go ${goVersion}\nbusybox ${await fileDigest(BUSYBOX)}\n`);
  return h.digest("hex").slice(0, 16);
}

async function goBuild(pkg: string, out: string): Promise<void> {
  const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-trimpath", GOTOOLCHAIN: "local", PATH: `/usr/local/go/bin:${process.env.PATH ?? ""}` };
  await run(["nice", "-n", "19", "go", "build", "-ldflags=-s -w -buildid=", "-o", out, pkg], { cwd: GO_MODULE, env });
}

async function buildPause(work: string, blobs: string, out: string): Promise<void> {
  const root = join(work, "pause-root");
  await mkdir(root, { recursive: true });
  await goBuild("./cmd/pause", join(root, "pause"));
  await chmod(join(root, "pause"), 0o755);
  const layer = await writeDirLayer(root, ["pause"], EPOCH, blobs);
  await writeImageArchive({
    blobs,
    layers: [layer],
    config: { epoch: EPOCH, env: ["PATH=/"], entrypoint: ["/pause"], labels: {}, history: ["coil-cluster pause"] },
    name: PAUSE_IMAGE_NAME,
    out,
  });
}

async function buildTestbox(work: string, blobs: string, out: string): Promise<void> {
  const root = join(work, "testbox-root");
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "www"]) await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, "tmp"), 0o1777);
  await copyFile(BUSYBOX, join(root, "bin", "busybox"));
  await chmod(join(root, "bin", "busybox"), 0o755);
  const applets = (await run([BUSYBOX, "--list"])).split("\n").map((s) => s.trim()).filter((s) => s !== "" && !OMITTED_APPLETS.has(s));
  for (const a of applets) await symlink("busybox", join(root, "bin", a));
  await goBuild("./cmd/http-echo", join(root, "bin", "http-echo"));
  await chmod(join(root, "bin", "http-echo"), 0o755);
  await writeFile(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", { mode: 0o644 });
  await writeFile(join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n", { mode: 0o644 });
  const layer = await writeDirLayer(root, ["bin", "dev", "etc", "proc", "root", "sys", "tmp", "www"], EPOCH, blobs);
  await writeImageArchive({
    blobs,
    layers: [layer],
    config: { epoch: EPOCH, env: ["PATH=/bin"], workingDir: "/", cmd: ["/bin/http-echo"], labels: {}, history: ["coil-cluster testbox: busybox-static + http-echo"] },
    name: TEST_IMAGE_NAME,
    out,
  });
}

/**
 * Build (or reuse from the cache) the pause and test image archives under `cacheRoot`.
 * Throws an `ImageError` naming the failed command.
 */
export async function buildClusterImages(cacheRoot: string, log: (msg: string) => void): Promise<ClusterImages> {
  const goVersion = (await run(["/usr/local/go/bin/go", "version"])).trim();
  const dir = join(cacheRoot, "images", await cacheKey(goVersion));
  const result = { pause: join(dir, "pause.oci.tar"), test: join(dir, "testbox.oci.tar") };
  if (existsSync(result.pause) && existsSync(result.test)) {
    log(`reusing ${dir}`);
    return result;
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, ".work-"));
  try {
    const t0 = Date.now();
    const blobs = join(work, "blobs");
    await buildPause(work, blobs, result.pause);
    await buildTestbox(work, blobs, result.test);
    log(`built ${result.pause} and ${result.test} in ${Date.now() - t0} ms`);
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cacheRoot = process.env.COIL_CLUSTER_CACHE ?? join(homedir(), ".cache", "coil-cluster");
  buildClusterImages(cacheRoot, (m) => process.stderr.write(`[cluster-images] ${m}\n`)).then(
    (r) => process.stdout.write(`PAUSE_IMAGE=${r.pause}\nPAUSE_IMAGE_NAME=${PAUSE_IMAGE_NAME}\nTEST_IMAGE=${r.test}\nTEST_IMAGE_NAME=${TEST_IMAGE_NAME}\n`),
    (e: unknown) => {
      process.stderr.write(`[cluster-images] ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
