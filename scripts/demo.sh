#!/bin/sh
# `npm run demo`: root check, missing Debian packages, the coil executable, then scripts/demo.ts.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "$(id -u)" != "0" ]; then
  echo "coil demo: needs root. It creates network namespaces and veth pairs (in a throw-away namespace" >&2
  echo "that plays the node; this machine's own routes are not touched). Run: sudo npm run demo" >&2
  exit 1
fi

missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
command -v ping >/dev/null 2>&1 || missing="$missing iputils-ping"
command -v nsenter >/dev/null 2>&1 || missing="$missing util-linux"
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ ! -x "$ROOT/dist/bin/coil-qjs" ]; then
  echo "building the coil CNI executable (dist/bin/coil-qjs, scripts/build-cni.sh --qjs-only; needs Go)"
  PATH="$PATH:/usr/local/go/bin" sh "$ROOT/scripts/build-cni.sh" --qjs-only
fi

exec node --import tsx "$ROOT/scripts/demo.ts"
