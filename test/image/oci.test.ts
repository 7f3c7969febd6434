/**
 * The deterministic image writer of `npm run image` (scripts/image/oci.ts) on small inputs, so that
 * "same inputs, same digest" is checked in seconds without building the real image (about 4-5 min
 * cold, mostly mmdebstrap): two trees with the same content but different mtimes, creation order,
 * ownership and umask give byte-identical layers and archives; the archive is a valid OCI layout whose
 * digests, sizes and diff_ids match its blobs, named for containerd and skopeo. Also the recipe's pure
 * parts (epoch, argument parsing, dpkg status parsing, program layout).
 */
import t from "tap";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  ANNOTATION_CONTAINERD_NAME,
  ANNOTATION_REF_NAME,
  ImageError,
  MEDIA_TYPES,
  blobPath,
  imageConfig,
  writeDirLayer,
  writeImageArchive,
  type ImageConfigSpec,
  type Layer,
} from "../../scripts/image/oci.js";
import { installedPackages, mmdebstrapArgv, parseArgs } from "../../scripts/image/build.js";
import { COIL_DIR, DEFAULT_EPOCH, imageEpoch, imageName, programLayout, repoProgramLayout } from "../../scripts/image/recipe.js";

const work = mkdtempSync(join(tmpdir(), "coil-image-test-"));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const EPOCH = 1234567890;

/** A small tree; `variant` changes mtimes, creation order and owners, never names, contents or modes. */
function makeTree(dir: string, variant: 0 | 1): void {
  const files: Array<[string, string, number]> = [
    ["usr/local/coil/coild.mjs", "console.log('coild')\n", 0o755],
    ["usr/local/coil/LICENSE", "Apache-2.0\n", 0o644],
    ["usr/local/bin/node", "\x7fELF not really\n", 0o755],
    ["usr/local/share/doc/x/copyright", "(c)\n", 0o644],
  ];
  const umask = process.umask(variant === 0 ? 0o022 : 0o077);
  try {
    for (const [path, text, mode] of variant === 0 ? files : [...files].reverse()) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
      chmodSync(join(dir, path), mode);
      const when = variant === 0 ? new Date("2020-01-01T00:00:00Z") : new Date();
      utimesSync(join(dir, path), when, when);
      if (variant === 1) chownSync(join(dir, path), 1234, 5678);
    }
    symlinkSync("coild.mjs", join(dir, "usr/local/coil/coild"));
    // directories: mode fixed by the caller, as scripts/image/build.ts does (mkdirs + chmod 0755)
    for (const d of ["usr", "usr/local", "usr/local/coil", "usr/local/bin", "usr/local/share", "usr/local/share/doc", "usr/local/share/doc/x"]) chmodSync(join(dir, d), 0o755);
  } finally {
    process.umask(umask);
  }
}

/** `tar --list --verbose` of an uncompressed tar (numeric owners, full times). */
function listTar(tar: Uint8Array): string[] {
  const r = spawnSync("tar", ["--list", "--verbose", "--numeric-owner", "--full-time", "--file=-"], { input: tar });
  if (r.status !== 0) throw new Error(`tar --list: ${r.stderr.toString()}`);
  return r.stdout.toString().trim().split("\n");
}

const spec = (history: string[]): ImageConfigSpec => ({ epoch: EPOCH, env: ["PATH=/usr/local/coil:/usr/bin"], workingDir: "/", labels: { b: "2", a: "1" }, history });

t.test("writeDirLayer: same names, contents and modes give the same layer whatever the mtimes, order, owners and umask", async (t) => {
  const [a, b] = ["a", "b"].map((n) => join(work, `tree-${n}`)) as [string, string];
  makeTree(a, 0);
  makeTree(b, 1);
  const la = await writeDirLayer(a, ["usr"], EPOCH, join(work, "blobs-a"));
  const lb = await writeDirLayer(b, ["usr"], EPOCH, join(work, "blobs-b"));
  t.same(lb, la, "digest, diffId and sizes equal");
  const gz = readFileSync(blobPath(join(work, "blobs-a"), la.digest));
  t.equal(sha(gz), la.digest, "digest = sha256 of the gzip blob");
  t.equal(gz.length, la.size);
  t.same([...gz.subarray(4, 8)], [0, 0, 0, 0], "gzip header without a timestamp (-n)");
  const tar = gunzipSync(gz);
  t.equal(sha(tar), la.diffId, "diffId = sha256 of the uncompressed tar");
  t.equal(tar.length, la.uncompressedSize);
  const lines = listTar(tar);
  t.ok(lines.length >= 12, "every entry listed");
  for (const l of lines) {
    t.match(l, / 0\/0 /, `root-owned: ${l}`);
    t.match(l, / 2009-02-13 23:31:30 /, `mtime = epoch: ${l}`);
  }
  t.match(lines.find((l) => l.includes("usr/local/coil/coild ->")) ?? "", /^lrwxrwxrwx .* usr\/local\/coil\/coild -> coild\.mjs$/, "symlink kept");
  t.match(lines.find((l) => l.endsWith("usr/local/bin/node")) ?? "", /^-rwxr-xr-x /, "mode kept");
  const names = lines.map((l) => l.replace(/ -> .*$/, "").split(" ").at(-1) ?? "");
  t.same(names, [...names].sort(), "names sorted");
  t.notOk(tar.toString("latin1").includes("atime"), "no atime/ctime pax records");

  writeFileSync(join(b, "usr/local/coil/LICENSE"), "Apache-2.0 \n");
  const changed = await writeDirLayer(b, ["usr"], EPOCH, join(work, "blobs-b"));
  t.not(changed.diffId, la.diffId, "a changed byte changes the layer");
  const later = await writeDirLayer(a, ["usr"], EPOCH + 1, join(work, "blobs-a"));
  t.not(later.diffId, la.diffId, "the epoch is an input");
});

t.test("writeImageArchive: byte-identical archives from two blob stores; a valid, named OCI layout", async (t) => {
  const name = "localhost/coil-ts:9.9.9-test";
  const build = async (tag: string): Promise<{ archive: Buffer; layers: Layer[]; digest: string }> => {
    const tree = join(work, `img-tree-${tag}`);
    makeTree(tree, tag === "x" ? 0 : 1);
    const blobs = join(work, `img-blobs-${tag}`);
    const layers = [await writeDirLayer(tree, ["usr/local/bin"], EPOCH, blobs), await writeDirLayer(tree, ["usr/local/coil"], EPOCH, blobs)];
    const out = join(work, `img-${tag}.oci.tar`);
    const w = await writeImageArchive({ blobs, layers, config: spec(["node", "programs"]), name, out });
    t.equal(w.archiveSize, readFileSync(out).length);
    return { archive: readFileSync(out), layers, digest: w.manifest.digest };
  };
  const x = await build("x");
  const y = await build("y");
  t.equal(sha(y.archive), sha(x.archive), "archives byte-identical");
  t.equal(y.digest, x.digest);

  const dir = join(work, "unpacked");
  mkdirSync(dir);
  const r = spawnSync("tar", ["--extract", `--file=${join(work, "img-x.oci.tar")}`, `--directory=${dir}`]);
  t.equal(r.status, 0, r.stderr.toString());
  t.same(JSON.parse(readFileSync(join(dir, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    mediaType: string;
    manifests: Array<{ mediaType: string; digest: string; size: number; platform: unknown; annotations: Record<string, string> }>;
  };
  t.equal(index.mediaType, MEDIA_TYPES.index);
  t.equal(index.manifests.length, 1);
  const m = index.manifests[0]!;
  t.equal(m.digest, x.digest);
  t.same(m.platform, { architecture: "amd64", os: "linux" });
  t.equal(m.annotations[ANNOTATION_CONTAINERD_NAME], name, "containerd name");
  t.equal(m.annotations[ANNOTATION_REF_NAME], name, "OCI ref name");
  const blob = (d: string): Buffer => {
    const b = readFileSync(blobPath(join(dir, "blobs"), d));
    t.equal(sha(b), d, `blob ${d.slice(0, 19)} content matches its name`);
    return b;
  };
  const manifestBytes = blob(m.digest);
  t.equal(manifestBytes.length, m.size);
  const manifest = JSON.parse(manifestBytes.toString()) as { mediaType: string; config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> };
  t.equal(manifest.mediaType, MEDIA_TYPES.manifest);
  const configBytes = blob(manifest.config.digest);
  t.equal(configBytes.length, manifest.config.size);
  const config = JSON.parse(configBytes.toString()) as { created: string; rootfs: { diff_ids: string[] }; config: { Labels: Record<string, string> }; history: unknown[] };
  t.equal(config.created, "2009-02-13T23:31:30Z", "created = epoch, not the build time");
  t.same(Object.keys(config.config.Labels), ["a", "b"], "labels sorted");
  t.equal(config.history.length, 2);
  t.same(manifest.layers.map((l) => l.mediaType), [MEDIA_TYPES.layerGzip, MEDIA_TYPES.layerGzip]);
  for (const [i, l] of manifest.layers.entries()) {
    const gz = blob(l.digest);
    t.equal(gz.length, l.size);
    t.equal(sha(gunzipSync(gz)), config.rootfs.diff_ids[i], `diff_id ${i} = sha256 of layer ${i} uncompressed`);
  }
  const listing = spawnSync("tar", ["--list", "--verbose", "--numeric-owner", `--file=${join(work, "img-x.oci.tar")}`]).stdout.toString();
  for (const l of listing.trim().split("\n")) t.match(l, /^(-rw-r--r--|drwxr-xr-x) 0\/0 /, `archive entry fixed mode/owner: ${l}`);
});

t.test("imageConfig refuses a history that does not match the layers", async (t) => {
  t.throws(() => imageConfig(spec(["one"]), []), ImageError);
});

t.test("epoch: fixed default, SOURCE_DATE_EPOCH overrides, garbage refused", async (t) => {
  t.equal(imageEpoch({}), DEFAULT_EPOCH);
  t.equal(imageEpoch({ SOURCE_DATE_EPOCH: "" }), DEFAULT_EPOCH);
  t.equal(imageEpoch({ SOURCE_DATE_EPOCH: "1700000000" }), 1700000000);
  t.throws(() => imageEpoch({ SOURCE_DATE_EPOCH: "yesterday" }), /SOURCE_DATE_EPOCH/);
  t.throws(() => imageEpoch({ SOURCE_DATE_EPOCH: "-1" }), /SOURCE_DATE_EPOCH/);
});

t.test("npm run image options", async (t) => {
  t.same(parseArgs([]), { noBuild: false, refreshBase: false, printName: false, help: false, verify: false });
  const o = parseArgs(["--no-build", "--refresh-base", "--verify", "--out", "x.tar"]);
  t.equal(o.noBuild && o.refreshBase && o.verify, true);
  t.match(o.out, /\/x\.tar$/);
  t.throws(() => parseArgs(["--out"]), ImageError);
  t.throws(() => parseArgs(["--nobuild"]), /unknown or incomplete option "--nobuild"/);
});

t.test("dpkg status: installed packages with versions, others skipped", async (t) => {
  const status = [
    "Package: iproute2\nStatus: install ok installed\nVersion: 6.1.0-3\n",
    "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
    "Package: dash\nStatus: install ok installed\nPriority: required\nVersion: 0.5.12-2\n",
  ].join("\n");
  t.same(installedPackages(status), ["dash=0.5.12-2", "iproute2=6.1.0-3"]);
});

t.test("mmdebstrap argv: the Debian recipe, cache paths only where given", async (t) => {
  const argv = mmdebstrapArgv("/out/base.tar", "/CACHE-DIR");
  t.equal(argv[0], "mmdebstrap");
  t.same(argv.slice(-2), ["bookworm", "/out/base.tar"]);
  t.ok(argv.includes("--include=libstdc++6,iproute2,nftables,iptables,procps,util-linux"));
  t.ok(argv.includes("--skip=output/dev"));
  t.same(argv.filter((a) => a.includes("/CACHE-DIR")).length, 4, "apt lists and archives synced in and out");
});

t.test("program layout: every package.json bin is in the image, coil as the executable at Coil's path", async (t) => {
  const layout = repoProgramLayout();
  t.same(layout.commands, ["coil", "coil-egress", "coil-egress-controller", "coil-installer", "coil-ipam-controller", "coil-router", "coilctl", "coild"]);
  t.same(
    layout.files.map((f) => [f.path, f.source, f.mode.toString(8)]),
    [
      [`${COIL_DIR}/coil`, "dist/bin/coil-qjs", "755"],
      [`${COIL_DIR}/coil-egress.mjs`, "dist/bin/coil-egress.mjs", "755"],
      [`${COIL_DIR}/coil-egress-controller.mjs`, "dist/bin/coil-egress-controller.mjs", "755"],
      [`${COIL_DIR}/coil-installer.mjs`, "dist/bin/coil-installer.mjs", "755"],
      [`${COIL_DIR}/coil-ipam-controller.mjs`, "dist/bin/coil-ipam-controller.mjs", "755"],
      [`${COIL_DIR}/coil-router.mjs`, "dist/bin/coil-router.mjs", "755"],
      [`${COIL_DIR}/coilctl.mjs`, "dist/bin/coilctl.mjs", "755"],
      [`${COIL_DIR}/coild.mjs`, "dist/bin/coild.mjs", "755"],
      [`${COIL_DIR}/coil-spawner`, "dist/bin/coil-spawner", "755"],
      [`${COIL_DIR}/LICENSE`, "LICENSE", "644"],
    ],
  );
  t.same(layout.links.map(([p, target]) => `${p} -> ${target}`), [
    `${COIL_DIR}/coil-egress -> coil-egress.mjs`,
    `${COIL_DIR}/coil-egress-controller -> coil-egress-controller.mjs`,
    `${COIL_DIR}/coil-installer -> coil-installer.mjs`,
    `${COIL_DIR}/coil-ipam-controller -> coil-ipam-controller.mjs`,
    `${COIL_DIR}/coil-router -> coil-router.mjs`,
    `${COIL_DIR}/coilctl -> coilctl.mjs`,
    `${COIL_DIR}/coild -> coild.mjs`,
  ]);
  t.throws(() => programLayout({ coild: "dist/bin/coild.mjs" }), /no coil entry/);
  t.throws(() => programLayout({ coil: "dist/bin/coil.mjs", x: "elsewhere/x.js" }), /expected dist\/bin\/x\.mjs/);
  t.throws(() => programLayout({ coil: "dist/bin/coil.mjs", "../x": "dist/bin/../x.mjs" }), /not a plain command name/);
  t.match(imageName("1.2.3"), "localhost/coil-ts:1.2.3");
});
