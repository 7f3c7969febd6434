#!/bin/sh
# Build the runnable adapters as single-file ESM bundles for Node >= 20 (the npm package's `bin`s):
#
#   dist/bin/coild.mjs                 adapters/daemon/main.ts
#   dist/bin/coil-ipam-controller.mjs  adapters/ipam-controller/main.ts
#   dist/bin/coil-installer.mjs        adapters/installer/main.ts
#   dist/bin/coil-router.mjs           adapters/router/main.ts
#   dist/bin/coil-egress-controller.mjs adapters/egress-controller/main.ts
#   dist/bin/coil-egress.mjs           adapters/egress/main.ts
#   dist/bin/coilctl.mjs               adapters/coilctl/main.ts
#   dist/bin/coil.mjs                  adapters/cni/main.ts (scripts/build-cni.sh --node-only)
#
# Every dependency (grpc-js, client-node, prom-client, @peculiar/x509, ...) is bundled in: a bundle runs
# from any directory without node_modules. CommonJS dependencies call require()/__dirname, which an ESM
# file lacks, so the banner defines them through createRequire/import.meta.url. The self-contained Bun
# executable `dist/bin/coil` (what coil-installer puts on hosts) is built by scripts/build-cni.sh without
# `--node-only`; it is not part of the npm tarball (too large).
#
# esbuild's metafiles go to dist/bin/meta/<name>.json (not published): test/package/bins.test.ts reads
# them to check that nothing but Node built-ins (and guarded optional modules) is left to load at run time.
#
# Every bundle starts with `#!/usr/bin/env node`, or `#!/usr/bin/env -S node <options>` where the program
# needs Node options (coil-ipam-controller: its heap settings).
#
# Every bundle embeds package.json's version and the git commit (scripts/lib/build-info.sh) for
# `--version` (adapters/common/version.ts).
#
# Usage: scripts/build-bins.sh    (needs the devDependency esbuild; no network)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ESBUILD="$ROOT/node_modules/.bin/esbuild"
OUT="$ROOT/dist/bin"
[ -x "$ESBUILD" ] || { echo "build-bins: $ESBUILD missing (npm ci installs esbuild)" >&2; exit 127; }
. "$ROOT/scripts/lib/build-info.sh"
export COIL_VERSION COIL_COMMIT # build-cni.sh below uses the same

BANNER='#!/usr/bin/env node
import { createRequire as __coilCreateRequire } from "node:module";
import { fileURLToPath as __coilFileURLToPath } from "node:url";
import { dirname as __coilDirname } from "node:path";
const require = __coilCreateRequire(import.meta.url);
const __filename = __coilFileURLToPath(import.meta.url);
const __dirname = __coilDirname(__filename);'

mkdir -p "$OUT/meta"
bundle() { # <entry> <name> [Node options for the #! line]
  tmp="$OUT/$2.mjs.tmp.$$"
  banner="$BANNER"
  # `env -S` splits the rest of the line, so the options apply wherever the file is executed (the
  # image's PATH name, an npm bin); V8 heap limits cannot be changed once the process runs.
  [ -z "${3:-}" ] || banner="#!/usr/bin/env -S node $3${BANNER#"#!/usr/bin/env node"}"
  "$ESBUILD" "$ROOT/$1" --bundle --minify --platform=node --target=node20 --format=esm \
    --banner:js="$banner" \
    --define:__COIL_VERSION__="\"$COIL_VERSION\"" --define:__COIL_COMMIT__="\"$COIL_COMMIT\"" --outfile="$tmp" --metafile="$tmp.json" --log-level=warning
  chmod 755 "$tmp"
  mv -f "$tmp.json" "$OUT/meta/$2.json"
  mv -f "$tmp" "$OUT/$2.mjs" # rename: concurrent builds and running copies stay valid
}
bundle adapters/daemon/main.ts coild
# A 4 MiB young generation: V8's default grows to 16 MiB semi-spaces (~25-30 MiB more RSS under a burst of
# BlockRequests); 1 MiB costs ~12 % more CPU in such a burst (scavenges), 8 MiB saves no more CPU than 4 and
# keeps ~8 MiB more (bench/RESULTS-ipam-controller.md).
bundle adapters/ipam-controller/main.ts coil-ipam-controller "--max-semi-space-size=4"
bundle adapters/installer/main.ts coil-installer
bundle adapters/router/main.ts coil-router
bundle adapters/egress-controller/main.ts coil-egress-controller
bundle adapters/egress/main.ts coil-egress
bundle adapters/coilctl/main.ts coilctl
sh "$ROOT/scripts/build-cni.sh" --node-only
