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

mkdir -p "$OUT"
if [ "$WHAT" != "--node-only" ]; then
  [ -x "$BUN" ] || { echo "build-cni: $BUN missing (npm ci installs @oven/bun-linux-x64)" >&2; exit 127; }
  # --compile embeds the runtime; --minify shrinks the embedded JS; --bytecode precompiles it so
  # start-up skips parsing. Temp files go next to the output (bun writes a .bun-build file in cwd).
  (cd "$OUT" && "$BUN" build "$ENTRY" --compile --minify --bytecode --target=bun-linux-x64 --outfile "$OUT/coil.tmp.$$" >/dev/null)
  mv -f "$OUT/coil.tmp.$$" "$OUT/coil"  # rename: concurrent builds and running copies stay valid
fi
if [ "$WHAT" != "--bun-only" ]; then
  mkdir -p "$OUT/meta"
  "$ESBUILD" "$ENTRY" --bundle --minify --platform=node --target=node20 --format=esm \
    --banner:js='#!/usr/bin/env node' --outfile="$OUT/coil.mjs.tmp.$$" --metafile="$OUT/coil.mjs.tmp.$$.json" --log-level=warning
  chmod 755 "$OUT/coil.mjs.tmp.$$"
  mv -f "$OUT/coil.mjs.tmp.$$.json" "$OUT/meta/coil.json"
  mv -f "$OUT/coil.mjs.tmp.$$" "$OUT/coil.mjs"
fi
