#!/bin/sh
# Build dist/bin/coil-spawner: the small static Go program through which coild starts its ip, nsenter,
# nft and sysctl commands (adapters/kernel/spawner/main.go says why; adapters/kernel/spawner.ts is its
# client). The image installs it next to coild as /usr/local/coil/coil-spawner, where coild's
# `--spawner=auto` finds it.
#
# Usage: scripts/build-spawner.sh
# Needs Go (standard library only; no module is fetched). The toolchain is pinned like build-cni.sh's
# (GOTOOLCHAIN, default go1.26.8): the same bytes on every machine.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$#" -eq 0 ] || { echo "usage: scripts/build-spawner.sh" >&2; exit 2; }
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "build-spawner: go not found" >&2; exit 127; }
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.26.8}"
OUT="$ROOT/dist/bin"
mkdir -p "$OUT"
tmp="$OUT/.coil-spawner.$$"
trap 'rm -f "$tmp"' EXIT
trap 'exit 130' INT TERM
(cd "$ROOT/adapters/kernel/spawner" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o "$tmp" .)
mv -f "$tmp" "$OUT/coil-spawner" # rename: a running spawner keeps its file
