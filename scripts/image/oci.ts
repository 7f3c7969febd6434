/**
 * A small, deterministic OCI image writer: layers are GNU tar streams (sorted names, fixed mtime,
 * numeric root ownership, no atime/ctime/xattrs) compressed by GNU gzip `-n` (no name, no timestamp),
 * and the config, manifest, index and the final archive are written byte for byte the same for the
 * same inputs. Tools are spawned with argv arrays. Used by `scripts/image/build.ts`; the unit tests in
 * `test/image/oci.test.ts` build small images with it.
 *
 * Why not Node's zlib: Node bundles Chromium's zlib, whose deflate takes a different (SIMD) path on
 * CPUs with SSE4.2/CRC32 and can then emit different bytes for the same input; GNU gzip 1.12 (Debian
 * 12) has one code path. Why not umoci/buildah: their layers and configs carry the build time
 * (history, `created`, tar mtimes), which is exactly what must not vary here.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A failure of the image build, with the command or file that failed in the message. */
export class ImageError extends Error {
  /** What failed: a spawned `command`, a bad `input`, or a `cache` inconsistency. */
  readonly kind: "command" | "input" | "cache";
  /** @param kind what failed; @param message a message naming the command or file. */
  constructor(kind: "command" | "input" | "cache", message: string) {
    super(message);
    this.kind = kind;
    this.name = "ImageError";
  }
}

/** OCI media types used here. */
export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** Annotation containerd's `ctr images import` reads the image name from. */
export const ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name";
/** The OCI image-layout reference annotation (skopeo, podman, buildah read it). */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";

/** A content descriptor (OCI image spec `descriptor.md`). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly architecture: string; readonly os: string };
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A compressed layer written into a blob store. */
export interface Layer {
  /** `sha256:<hex>` of the gzip blob (the manifest's layer digest). */
  readonly digest: string;
  /** `sha256:<hex>` of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  readonly diffId: string;
  /** Size of the gzip blob in bytes. */
  readonly size: number;
  /** Size of the uncompressed tar in bytes. */
  readonly uncompressedSize: number;
}

/** Options of a spawned command. */
interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Inherit stderr instead of capturing it (long-running tools whose progress should show). */
  readonly inheritStderr?: boolean;
}

/**
 * Run `argv` (no shell) and resolve with its stdout; reject with an {@link ImageError} of kind
 * `command` naming the command, its exit status and the end of its stderr.
 */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new ImageError("command", "empty argv"));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      shell: false,
      stdio: ["ignore", "pipe", opts.inheritStderr === true ? "inherit" : "pipe"],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.env !== undefined ? { env: opts.env } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new ImageError("command", `${argv.join(" ")}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
      const tail = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-15).join("\n");
      reject(new ImageError("command", `${argv.join(" ")}: exit ${code ?? signal}${tail === "" ? "" : `\n${tail}`}`));
    });
  });
}

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
class Hasher extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** `sha256:<hex>` of a byte string. */
export const sha256Digest = (bytes: Uint8Array | string): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** `sha256:<hex>` of a file's content (streamed). */
export async function fileDigest(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return `sha256:${h.digest("hex")}`;
}

/** Path of a blob in a blob store directory laid out as an OCI layout's `blobs/`. */
export const blobPath = (blobs: string, digest: string): string => join(blobs, ...digest.split(":"));

/** The GNU tar options that make an archive depend on file names, contents and modes only. */
export function deterministicTarOptions(epoch: number): string[] {
  return [
    "--sort=name",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    `--mtime=@${epoch}`,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--no-acls",
    "--no-xattrs",
    "--no-selinux",
  ];
}

/**
 * gzip `source` (an uncompressed layer tar) into the blob store `blobs` and return the layer's
 * digests and sizes. `gzip -n` leaves the name and time out of the header. The blob is written to a
 * temporary name and renamed, so a reader never sees half a blob.
 */
export async function gzipLayer(source: Readable, blobs: string): Promise<Layer> {
  // Nothing may be awaited before `source` is piped: a child process's stdout that has no reader
  // when the child exits is resumed and drained by Node (a small tar would be lost).
  mkdirSync(join(blobs, "sha256"), { recursive: true });
  const tmp = join(blobs, "sha256", `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const gzip = spawn("gzip", ["-n", "-6", "-c"], { shell: false, stdio: ["pipe", "pipe", "pipe"] });
  const gzipErr: Buffer[] = [];
  gzip.stderr.on("data", (b: Buffer) => gzipErr.push(b));
  const gzipDone = new Promise<void>((resolve, reject) => {
    gzip.on("error", (e) => reject(new ImageError("command", `gzip: ${e.message}`)));
    gzip.on("close", (code) => (code === 0 ? resolve() : reject(new ImageError("command", `gzip: exit ${code}: ${Buffer.concat(gzipErr).toString().trim()}`))));
  });
  const raw = new Hasher();
  const packed = new Hasher();
  try {
    await Promise.all([pipeline(source, raw, gzip.stdin), pipeline(gzip.stdout, packed, createWriteStream(tmp, { mode: 0o644 })), gzipDone]);
    const digest = `sha256:${packed.hash.digest("hex")}`;
    await chmod(tmp, 0o644);
    await rename(tmp, blobPath(blobs, digest));
    return { digest, diffId: `sha256:${raw.hash.digest("hex")}`, size: packed.bytes, uncompressedSize: raw.bytes };
  } catch (e) {
    gzip.kill();
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Write a layer holding the tree under `root` (entries `paths`, relative to `root`, recursively) into
 * the blob store: every entry owned by 0:0 with mtime `epoch`, modes as on disk (callers set them).
 */
export async function writeDirLayer(root: string, paths: readonly string[], epoch: number, blobs: string): Promise<Layer> {
  const argv = ["tar", "--create", "--file=-", `--directory=${root}`, ...deterministicTarOptions(epoch), "--", ...paths];
  const tar = spawn(argv[0] ?? "tar", argv.slice(1), { shell: false, stdio: ["ignore", "pipe", "pipe"] });
  const err: Buffer[] = [];
  tar.stderr.on("data", (b: Buffer) => err.push(b));
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.on("error", (e) => reject(new ImageError("command", `tar: ${e.message}`)));
    tar.on("close", (code) => (code === 0 ? resolve() : reject(new ImageError("command", `${argv.join(" ")}: exit ${code}: ${Buffer.concat(err).toString().trim()}`))));
  });
  const [layer] = await Promise.all([gzipLayer(tar.stdout, blobs), tarDone]);
  return layer;
}

/** Write `bytes` into the blob store under their digest (temporary name, then rename); return the digest. */
export async function writeBlob(blobs: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256Digest(bytes);
  await mkdir(join(blobs, "sha256"), { recursive: true });
  const path = blobPath(blobs, digest);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes, { mode: 0o644 });
  await rename(tmp, path);
  return digest;
}

/** What the image config says besides its layers. */
export interface ImageConfigSpec {
  /** Unix time written as `created` and into every history entry. */
  readonly epoch: number;
  readonly env: readonly string[];
  readonly workingDir?: string;
  /** The image's `Entrypoint` (left out when absent). */
  readonly entrypoint?: readonly string[];
  /** The image's `Cmd` (left out when absent). */
  readonly cmd?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** One history entry per layer (`created_by`, what produced it). */
  readonly history: readonly string[];
}

/** The OCI image config (linux/amd64) for `layers`; keys in a fixed order. */
export function imageConfig(spec: ImageConfigSpec, layers: readonly Layer[]): Record<string, unknown> {
  if (spec.history.length !== layers.length) throw new ImageError("input", `${spec.history.length} history entries for ${layers.length} layers`);
  const created = new Date(spec.epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  return {
    created,
    architecture: "amd64",
    os: "linux",
    config: {
      Env: [...spec.env],
      ...(spec.workingDir !== undefined ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.entrypoint !== undefined ? { Entrypoint: [...spec.entrypoint] } : {}),
      ...(spec.cmd !== undefined ? { Cmd: [...spec.cmd] } : {}),
      Labels: Object.fromEntries(Object.entries(spec.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: spec.history.map((h) => ({ created, created_by: h })),
  };
}

/** The OCI image manifest for a config descriptor and gzip layers. */
export function imageManifest(config: Descriptor, layers: readonly Layer[]): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size })),
  };
}

/**
 * The image layout's `index.json`: one linux/amd64 manifest, named `name` for containerd
 * (`io.containerd.image.name`, used as is by `ctr images import`) and for skopeo/podman
 * (`org.opencontainers.image.ref.name`).
 */
export function imageIndex(manifest: Descriptor, name: string): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: "amd64", os: "linux" },
        annotations: { [ANNOTATION_CONTAINERD_NAME]: name, [ANNOTATION_REF_NAME]: name },
      },
    ],
  };
}

/** The config and manifest of an image, serialized: what its digest is computed from. */
export interface ImageDocuments {
  readonly configBytes: Buffer;
  readonly config: Descriptor;
  readonly manifestBytes: Buffer;
  /** Descriptor of the image manifest: its digest is the image's digest. */
  readonly manifest: Descriptor;
}

/** Serialize the config and manifest of an image made of `layers` (nothing is written). */
export function imageDocuments(spec: ImageConfigSpec, layers: readonly Layer[]): ImageDocuments {
  const configBytes = Buffer.from(JSON.stringify(imageConfig(spec, layers)), "utf8");
  const config: Descriptor = { mediaType: MEDIA_TYPES.config, digest: sha256Digest(configBytes), size: configBytes.length };
  const manifestBytes = Buffer.from(JSON.stringify(imageManifest(config, layers)), "utf8");
  const manifest: Descriptor = { mediaType: MEDIA_TYPES.manifest, digest: sha256Digest(manifestBytes), size: manifestBytes.length };
  return { configBytes, config, manifestBytes, manifest };
}

/** The result of {@link writeImageArchive}. */
export interface WrittenImage extends ImageDocuments {
  /** Size of the archive file in bytes. */
  readonly archiveSize: number;
}

/**
 * Write the config and manifest of an image made of `layers` (whose blobs are in `blobs`) and pack
 * an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/*`) as a deterministic tar at `out`
 * (written to a temporary name, then renamed).
 */
export async function writeImageArchive(opts: {
  readonly blobs: string;
  readonly layers: readonly Layer[];
  readonly config: ImageConfigSpec;
  readonly name: string;
  readonly out: string;
}): Promise<WrittenImage> {
  const docs = imageDocuments(opts.config, opts.layers);
  await writeBlob(opts.blobs, docs.configBytes);
  await writeBlob(opts.blobs, docs.manifestBytes);
  const stage = await mkdtemp(`${opts.out}.stage-`);
  const tmp = `${opts.out}.tmp-${process.pid}`;
  try {
    await mkdir(join(stage, "blobs", "sha256"), { recursive: true });
    await writeFile(join(stage, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }), { mode: 0o644 });
    await writeFile(join(stage, "index.json"), JSON.stringify(imageIndex(docs.manifest, opts.name)), { mode: 0o644 });
    for (const d of [...opts.layers.map((l) => l.digest), docs.config.digest, docs.manifest.digest]) {
      const src = blobPath(opts.blobs, d);
      await stat(src).catch(() => {
        throw new ImageError("cache", `blob ${d} missing from ${opts.blobs}`);
      });
      await symlink(src, blobPath(join(stage, "blobs"), d)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
    }
    // --dereference stores the blobs' content under the link names; --mode makes the modes fixed too.
    await run(["tar", "--create", `--file=${tmp}`, `--directory=${stage}`, "--dereference", "--mode=u=rwX,go=rX", ...deterministicTarOptions(opts.config.epoch), "--", "blobs", "index.json", "oci-layout"]);
    await rename(tmp, opts.out);
    return { ...docs, archiveSize: (await stat(opts.out)).size };
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(tmp, { force: true });
  }
}
