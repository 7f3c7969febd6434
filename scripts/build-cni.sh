#!/bin/sh
# Build the `coil` CNI executable.
#
#   dist/bin/coil      self-contained executable (Bun runtime embedded; the node's host has no Node.js)
#   dist/bin/coil.mjs  single-file ESM bundle for Node (esbuild): the npm package's `coil` bin, and start-up comparison
#   dist/bin/coil-qjs  self-contained executable (QuickJS in a static Go host, adapters/cni/quickjs/host):
#                      the same TypeScript as bytecode; 5.8 MB, less than half the Bun executable's start-up CPU.
#                      What the image installs as /opt/cni/bin/coil.
#
# Usage: scripts/build-cni.sh [--bun-only|--node-only|--qjs-only]
# Needs the devDependencies `@oven/bun-linux-x64` (the Bun binary, no download) and `esbuild`, and Go
# (the QuickJS host's modules come from the Go module proxy; cold: about 1-2 min of compiling, cached after).
# The Go toolchain is pinned (GOTOOLCHAIN, default go1.26.8: the same bytes on every machine; the go command
# fetches that version from the module proxy when the local one differs).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUN=${BUN:-"$ROOT/node_modules/@oven/bun-linux-x64/bin/bun"}
ESBUILD="$ROOT/node_modules/.bin/esbuild"
ENTRY="$ROOT/adapters/cni/main.ts"
OUT="$ROOT/dist/bin"
WHAT=${1:-all}
case "$WHAT" in
  all | --bun-only | --node-only | --qjs-only) ;;
  *) echo "usage: scripts/build-cni.sh [--bun-only|--node-only|--qjs-only]" >&2; exit 2 ;;
esac
trap 'exit 130' INT TERM # so that the EXIT traps below clean up on a signal too (dash runs EXIT traps only on exit)
if [ "$WHAT" = "--qjs-only" ] || [ "$WHAT" = "all" ]; then
  command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null 2>&1 || { echo "build-cni: go not found (the QuickJS build needs Go)" >&2; exit 127; }
  export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.8}"
fi

. "$ROOT/scripts/lib/build-info.sh" # COIL_VERSION, COIL_COMMIT: embedded for the about line and --version
DEFINE_VERSION="__COIL_VERSION__=\"$COIL_VERSION\""
DEFINE_COMMIT="__COIL_COMMIT__=\"$COIL_COMMIT\""
mkdir -p "$OUT"
if [ "$WHAT" = "--bun-only" ] || [ "$WHAT" = "all" ]; then
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
if [ "$WHAT" = "--node-only" ] || [ "$WHAT" = "all" ]; then
  mkdir -p "$OUT/meta"
  "$ESBUILD" "$ENTRY" --bundle --minify --platform=node --target=node20 --format=esm \
    --banner:js='#!/usr/bin/env node' \
    --define:"$DEFINE_VERSION" --define:"$DEFINE_COMMIT" --outfile="$OUT/coil.mjs.tmp.$$" --metafile="$OUT/coil.mjs.tmp.$$.json" --log-level=warning
  chmod 755 "$OUT/coil.mjs.tmp.$$"
  mv -f "$OUT/coil.mjs.tmp.$$.json" "$OUT/meta/coil.json"
  mv -f "$OUT/coil.mjs.tmp.$$" "$OUT/coil.mjs"
fi
if [ "$WHAT" = "--qjs-only" ] || [ "$WHAT" = "all" ]; then
  HOST="$ROOT/adapters/cni/quickjs/host"
  work="$OUT/.coil-qjs-build.$$"
  rm -rf "$work" && mkdir -p "$work"
  trap 'rm -rf "$work"' EXIT
  # One classic script (QuickJS runs it as global code), ES2023 (QuickJS's level). platform=neutral: a
  # `node:` import anywhere in the bundle fails the build (QuickJS has no Node modules).
  "$ESBUILD" "$ROOT/adapters/cni/quickjs/main.ts" --bundle --minify --format=iife --platform=neutral \
    --main-fields=module,main --target=es2023 \
    --define:"$DEFINE_VERSION" --define:"$DEFINE_COMMIT" --outfile="$work/coil.js" --metafile="$work/coil-qjs.json" --log-level=warning
  # Compile to bytecode (tied to the QuickJS version: the compiler and the host share one go.mod), then
  # build the host with bundle.qbc overlaid by it (the committed bundle.qbc stays empty).
  (cd "$HOST" && CGO_ENABLED=0 go run -trimpath ./compile "$work/coil.js" "$work/bundle.qbc")
  node -e 'process.stdout.write(JSON.stringify({ Replace: { [process.argv[1]]: process.argv[2] } }))' "$HOST/bundle.qbc" "$work/bundle.qbc" > "$work/overlay.json"
  (cd "$HOST" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -overlay "$work/overlay.json" -o "$work/coil-qjs" .)
  mkdir -p "$OUT/meta"
  mv -f "$work/coil-qjs.json" "$OUT/meta/coil-qjs.json" # the bundle's inputs: tests use it to tell a stale build
  mv -f "$work/coil-qjs" "$OUT/coil-qjs"
  rm -rf "$work"
fi
