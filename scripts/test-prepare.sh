#!/usr/bin/env bash
# Prepare everything the test suite needs, once, before tap runs (`npm test` calls this first;
# `npm run test:prepare` runs it alone). A newcomer's `npm test` then runs every test instead of
# skipping the ones whose prerequisites are missing; the tests themselves fail, not skip, when a
# prerequisite is missing (COIL_TEST_ALLOW_SKIP=1 lets a developer skip them instead).
#
#   1. root: the privileged tests (network namespaces, netlink, nftables) need it.
#   2. Debian packages (iproute2, nftables, ...): installed with apt-get when missing (as root),
#      as `npm run demo` does; otherwise the missing ones are listed with the install command.
#   3. In parallel, each only when missing:
#        - kube-apiserver + etcd, built from Go modules by scripts/envtest/build.sh
#          (15-25 min cold on 2 cores; cached in ${COIL_ENVTEST_CACHE:-~/.cache/coil-envtest}),
#        - Coil v2's Go `coil`, built by scripts/coil-v2/build.sh
#          and `coild` (~10 min cold for both on a loaded 2-core machine; cached in ${COIL_V2_CACHE:-~/.cache/coil-v2}),
#        - dist/ (`npm run build` + the Bun-compiled dist/bin/coil) when missing or older than a
#          source file (~1 min).
#   The tests find the Go binaries through the same two scripts (in no-build mode), so they use
#   exactly what was prepared here.
#
# Knobs: COIL_TEST_ALLOW_SKIP=1 (not root, or no apt-get: go on, and let the tests skip what cannot
# run; ignored under CI=true), plus the build scripts' own variables (COIL_ENVTEST_*, KUBEBUILDER_ASSETS,
# TEST_ASSET_*, COIL_V2_*).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:/usr/local/go/bin"
STARTED=$(date +%s)

say() { printf 'test-prepare: %s\n' "$*"; }
die() { say "ERROR: $*"; exit 1; }
ALLOW_SKIP=0
[[ "${COIL_TEST_ALLOW_SKIP:-}" == "1" && "${CI:-}" != "true" ]] && ALLOW_SKIP=1
IS_ROOT=0
[[ "$(id -u)" == "0" ]] && IS_ROOT=1

[[ -x node_modules/.bin/tap && -x node_modules/.bin/tsc ]] || die "node_modules is missing or incomplete: run npm ci first"

# 1. root
if [[ $IS_ROOT == 0 ]]; then
  if [[ $ALLOW_SKIP == 1 ]]; then
    say "not root: the privileged tests will be skipped (COIL_TEST_ALLOW_SKIP=1)"
  else
    die "the suite needs root (it creates network namespaces, veth pairs and nftables tables in throw-away namespaces; the host's own routes and rules are not touched). Run it as root (sudo npm test), or set COIL_TEST_ALLOW_SKIP=1 to skip the privileged tests."
  fi
fi

# 2. Debian packages: a command (or file) each one provides -> the package.
need=()
has() { [[ "$1" == /* ]] && [[ -e "$1" ]] || command -v "$1" >/dev/null 2>&1; }
for pair in ip:iproute2 nft:nftables ping:iputils-ping protoc:protobuf-compiler pgrep:procps openssl:openssl \
  nsenter:util-linux flock:util-linux setpriv:util-linux /usr/lib/cni/ptp:containernetworking-plugins birdc:bird2 \
  mmdebstrap:mmdebstrap containerd:containerd runc:runc iptables:iptables /bin/busybox:busybox-static; do
  has "${pair%%:*}" || [[ " ${need[*]} " == *" ${pair##*:} "* ]] || need+=("${pair##*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  if [[ $IS_ROOT == 1 ]] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need[*]} (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/dev/null \
      || die "apt-get install ${need[*]} failed"
  elif [[ $ALLOW_SKIP == 1 ]]; then
    say "missing Debian packages: ${need[*]} (apt-get install -y ${need[*]}); tests that need them will fail"
  else
    die "missing Debian packages: ${need[*]}. Install them: apt-get install -y ${need[*]}"
  fi
fi

# 3. Builds. Go builds run in the background (both are nice 19), the dist build in the foreground.
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/coil-test-prepare.XXXXXX")
pids=() names=() logs=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' INT TERM

# Start `bash <script>` in the background unless `<NO_BUILD var>=1 bash <script>` finds its output.
# Only the scripts' own "[...]" progress lines are shown; the full output goes to a log.
go_build() { # <name> <script> <no-build variable> <what, how long, where>
  local name="$1" script="$2" nobuild="$3" what="$4"
  if env "$nobuild=1" bash "$script" >/dev/null 2>"$LOGS/$name.probe"; then
    say "$name: cached ($(grep -m1 -oE '(reusing|using) .*' "$LOGS/$name.probe" || echo ok))"
    return
  fi
  command -v go >/dev/null || die "$name: not cached and Go is missing: install Go (the build scripts look in /usr/local/go/bin)"
  say "$name: $what"
  ( bash "$script" 2>&1 >/dev/null | tee "$LOGS/$name.log" | { grep --line-buffered -E '^\[[a-z0-9-]+\] ' || true; } ) &
  pids+=("$!") names+=("$name") logs+=("$LOGS/$name.log")
}
ENVTEST_CACHE="${COIL_ENVTEST_CACHE:-$HOME/.cache/coil-envtest}"
COIL_V2_CACHE_DIR="${COIL_V2_CACHE:-$HOME/.cache/coil-v2}"
go_build envtest scripts/envtest/build.sh COIL_ENVTEST_NO_BUILD \
  "building kube-apiserver + etcd from Go modules, usually 15-25 min cold on 2 cores, cached afterwards in $ENVTEST_CACHE"
go_build coil-v2 scripts/coil-v2/build.sh COIL_V2_NO_BUILD \
  "building Coil v2's Go executables for the interop tests, usually ~10 min cold (coil ~30 s, coild ~10 min: Kubernetes client libraries), cached afterwards in $COIL_V2_CACHE_DIR"

# dist/: what the tests run (dist/bin/*.mjs, the Bun-compiled dist/bin/coil, dist/lib for the pack test).
outputs=(dist/lib/index.js dist/cjs/lib/index.js dist/bin/coil)
while IFS= read -r b; do outputs+=("$b"); done < <(node -p 'Object.values(require("./package.json").bin).join("\n")')
oldest="" why=""
for o in "${outputs[@]}"; do
  if [[ ! -e "$o" ]]; then oldest=""; why="$o is missing"; break; fi
  [[ -z "$oldest" || "$o" -ot "$oldest" ]] && oldest="$o"
done
if [[ -n "$oldest" ]]; then
  newer=$({ find lib adapters -type f -name '*.ts' -newer "$oldest" -print -quit
    find scripts/build-bins.sh scripts/build-cni.sh scripts/build-cjs.mjs tsconfig.json package.json -newer "$oldest" -print -quit
  } 2>/dev/null | head -1)
  why=${newer:+"$newer is newer than $oldest"}
fi
dist_status=0
if [[ -n "${why:-}" ]]; then
  say "dist: building (npm run build + the Bun-compiled dist/bin/coil), usually ~1 min; $why"
  t0=$(date +%s)
  if npm run --silent build >"$LOGS/dist.log" 2>&1 && sh scripts/build-cni.sh --bun-only >>"$LOGS/dist.log" 2>&1; then
    say "dist: built in $(( $(date +%s) - t0 ))s"
  else
    dist_status=1
    tail -30 "$LOGS/dist.log"
    say "ERROR: dist build failed (full log: $LOGS/dist.log)"
  fi
else
  say "dist: up to date"
fi

status=$dist_status
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    say "${names[$i]}: ready"
  else
    status=1
    tail -30 "${logs[$i]}"
    say "ERROR: ${names[$i]} build failed (full log: ${logs[$i]})"
  fi
done
[[ $status == 0 ]] || exit 1
rm -rf "$LOGS"
say "ready in $(( $(date +%s) - STARTED ))s"
