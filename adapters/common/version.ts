/**
 * The version and commit a program was built from. scripts/build-bins.sh and scripts/build-cni.sh
 * define `__COIL_VERSION__` (package.json's version) and `__COIL_COMMIT__` (`git rev-parse HEAD` at
 * build time, `unknown` outside git) through esbuild's / Bun's `--define`; run from source (tsx) or
 * from tsc's output they are undefined, and the version reads `(devel)` as Coil's does without one.
 */

declare const __COIL_VERSION__: string | undefined;
declare const __COIL_COMMIT__: string | undefined;

/** Version and commit of this build. */
export interface BuildInfo {
  /** Semantic version (package.json), or `(devel)` when not built by the build scripts. */
  readonly version: string;
  /** Git commit the build was made from, or `unknown`. */
  readonly commit: string;
}

/** This build's {@link BuildInfo}. */
export const BUILD_INFO: BuildInfo = {
  version: typeof __COIL_VERSION__ === "string" ? __COIL_VERSION__ : "(devel)",
  commit: typeof __COIL_COMMIT__ === "string" ? __COIL_COMMIT__ : "unknown",
};
