#!/bin/sh
# Build the `coil` CNI executable.
#
#   dist/bin/coil      self-contained executable (Bun runtime embedded; the node's host has no Node.js)
#   dist/bin/coil.mjs  single-file ESM bundle for Node (esbuild): the npm package's `coil` bin, and start-up comparison
#
# Usage: scripts/build-cni.sh [--bun-only|--node-only]
# Needs the devDependencies `@oven/bun-linux-x64` (the Bun binary, no download) and `esbuild`.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUN=${BUN:-"$ROOT/node_modules/@oven/bun-linux-x64/bin/bun"}
ESBUILD="$ROOT/node_modules/.bin/esbuild"
ENTRY="$ROOT/adapters/cni/main.ts"
OUT="$ROOT/dist/bin"
WHAT=${1:-all}

. "$ROOT/scripts/lib/build-info.sh" # COIL_VERSION, COIL_COMMIT: embedded for the about line and --version
DEFINE_VERSION="__COIL_VERSION__=\"$COIL_VERSION\""
DEFINE_COMMIT="__COIL_COMMIT__=\"$COIL_COMMIT\""
mkdir -p "$OUT"
if [ "$WHAT" != "--node-only" ]; then
  [ -x "$BUN" ] || { echo "build-cni: $BUN missing (npm ci installs @oven/bun-linux-x64)" >&2; exit 127; }
  # --compile embeds the runtime; --minify shrinks the embedded JS; --bytecode precompiles it so
  # start-up skips parsing; --no-compile-autoload-{dotenv,bunfig}: a CNI plugin must not read .env or
  # bunfig.toml from the runtime's working directory (and skips looking for them). Bun embeds the output file's name (/$bunfs/root/<name>) in the executable,
  # so the build writes `coil` in a private directory next to the output (bun also drops a .bun-build
  # file in cwd): the same sources give the same bytes (the image's digest depends on it).
  tmp="$OUT/.coil-build.$$"
  rm -rf "$tmp" && mkdir "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && "$BUN" build "$ENTRY" --define "$DEFINE_VERSION" --define "$DEFINE_COMMIT" --compile --minify --bytecode --no-compile-autoload-dotenv --no-compile-autoload-bunfig --target=bun-linux-x64 --outfile "$tmp/coil" >/dev/null)
  mv -f "$tmp/coil" "$OUT/coil"  # rename: concurrent builds and running copies stay valid
  rm -rf "$tmp"
fi
if [ "$WHAT" != "--bun-only" ]; then
  mkdir -p "$OUT/meta"
  "$ESBUILD" "$ENTRY" --bundle --minify --platform=node --target=node20 --format=esm \
    --banner:js='#!/usr/bin/env node' \
    --define:"$DEFINE_VERSION" --define:"$DEFINE_COMMIT" --outfile="$OUT/coil.mjs.tmp.$$" --metafile="$OUT/coil.mjs.tmp.$$.json" --log-level=warning
  chmod 755 "$OUT/coil.mjs.tmp.$$"
  mv -f "$OUT/coil.mjs.tmp.$$.json" "$OUT/meta/coil.json"
  mv -f "$OUT/coil.mjs.tmp.$$" "$OUT/coil.mjs"
fi
