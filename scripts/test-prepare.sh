#!/usr/bin/env bash
# Prepare everything the test suite needs, once, before tap runs (`npm test` calls this first;
# `npm run test:prepare` runs it alone). A newcomer's `npm test` then runs every test instead of
# skipping the ones whose prerequisites are missing; the tests themselves fail, not skip, when a
# prerequisite is missing (COIL_TEST_ALLOW_SKIP=1 lets a developer skip them instead).
#
#   1. root: the privileged tests (network namespaces, netlink, nftables) need it.
#   2. Debian packages (iproute2, nftables, ...): installed with apt-get when missing (as root),
#      as `npm run demo` does; otherwise the missing ones are listed with the install command.
#      Then the VM of the kernel tests: qemu-system-x86 and Debian's kernel (scripts/vm/run-in-vm.sh --prepare).
#   3. In parallel, each only when missing:
#        - kube-apiserver + etcd, built from Go modules by scripts/envtest/build.sh
#          (15-25 min cold on 2 cores; cached in ${COIL_ENVTEST_CACHE:-~/.cache/coil-envtest}),
#        - Coil v2's Go `coil`, `coild` and `coil-egress`, built by scripts/coil-v2/build.sh
#          (~10 min cold on a loaded 2-core machine; cached in ${COIL_V2_CACHE:-~/.cache/coil-v2}),
#        - the cluster's kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl (one go build,
#          scripts/cluster/build.sh, after kube-apiserver so it reuses its packages: ~16 min more cold) and test
#          images, cached in ${COIL_CLUSTER_CACHE:-~/.cache/coil-cluster},
#        - dist/ (`npm run build` + the Bun-compiled dist/bin/coil) when missing or older than a
#          source file (~1 min), then the image (`npm run image -- --no-build`) when missing or older than
#          dist/bin or the image scripts.
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
  mmdebstrap:mmdebstrap containerd:containerd runc:runc iptables:iptables /bin/busybox:busybox-static \
  conntrack:conntrack curl:curl; do
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

# 2b. The VM for the kernel tests (FoU, IPIP, ip6tnl: test/e2e/egress-fou-vm.test.ts; docs/vm-tests.md): qemu
#     (installed without its recommends: no GUI or firmware bundles) and Debian's stock kernel package, fetched
#     with `apt-get download` and unpacked into ${COIL_VM_CACHE:-~/.cache/coil-vm} by scripts/vm/run-in-vm.sh
#     --prepare (~1 min cold, 70 MB; a --check of well under a second when cached).
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  if [[ $IS_ROOT == 1 ]] && command -v apt-get >/dev/null; then
    say "installing qemu-system-x86 for the VM tests (apt-get --no-install-recommends)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86; } >/dev/null \
      || die "apt-get install qemu-system-x86 failed"
  elif [[ $ALLOW_SKIP == 1 ]]; then
    say "qemu-system-x86 is missing (apt-get install -y --no-install-recommends qemu-system-x86); the VM tests will fail"
  else
    die "qemu-system-x86 is missing. Install it: apt-get install -y --no-install-recommends qemu-system-x86"
  fi
fi
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
  LOGS_VM=$(mktemp "${TMPDIR:-/tmp}/coil-test-prepare-vm.XXXXXX")
  if vm_ready=$(bash scripts/vm/run-in-vm.sh --check 2>/dev/null); then
    say "vm: cached ${vm_ready#run-in-vm: ready }"
  else
    say "vm: fetching Debian's kernel package and building the boot files (scripts/vm/run-in-vm.sh --prepare, ~1 min)"
    if bash scripts/vm/run-in-vm.sh --prepare >"$LOGS_VM" 2>&1; then
      say "vm: ready"
    elif [[ $ALLOW_SKIP == 1 ]]; then
      tail -5 "$LOGS_VM"; say "vm: could not be prepared; the VM tests will fail"
    else
      tail -20 "$LOGS_VM"; die "the VM could not be prepared (bash scripts/vm/run-in-vm.sh --prepare)"
    fi
  fi
  rm -f "$LOGS_VM"
fi

# 3. Builds. Go builds run in the background (both are nice 19), the dist build in the foreground.
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/coil-test-prepare.XXXXXX")
pids=() names=() logs=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' INT TERM

# Start, in the background, `bash <script>` for each step whose `<NO_BUILD var>=1 bash <script>` does not
# find its output, one after the other (a later step reuses what an earlier one put in the Go build cache).
# Only the scripts' own "[...]" progress lines are shown; the full output goes to a log.
go_build() { # <name> <what, how long, where> <script> <no-build variable> [<script> <no-build variable>]...
  local name="$1" what="$2" todo=() cached=()
  shift 2
  while [[ $# -ge 2 ]]; do
    if env "$2=1" bash "$1" >/dev/null 2>"$LOGS/$name.probe"; then
      cached+=("$(grep -m1 -oE '(reusing|using) .*' "$LOGS/$name.probe" || echo "$1 ok")")
    else
      todo+=("$1")
    fi
    shift 2
  done
  if [[ ${#todo[@]} -eq 0 ]]; then
    say "$name: cached (${cached[*]})"
    return
  fi
  command -v go >/dev/null || die "$name: not cached and Go is missing: install Go (the build scripts look in /usr/local/go/bin)"
  say "$name: $what"
  ( for s in "${todo[@]}"; do bash "$s" 2>&1 >/dev/null || exit 1; done | tee "$LOGS/$name.log" | { grep --line-buffered -E '^\[[a-z0-9-]+\] ' || true; } ) &
  pids+=("$!") names+=("$name") logs+=("$LOGS/$name.log")
}
ENVTEST_CACHE="${COIL_ENVTEST_CACHE:-$HOME/.cache/coil-envtest}"
COIL_V2_CACHE_DIR="${COIL_V2_CACHE:-$HOME/.cache/coil-v2}"
CLUSTER_CACHE="${COIL_CLUSTER_CACHE:-$HOME/.cache/coil-cluster}"
# The cluster's programs share most packages with kube-apiserver: built after it, they reuse its part of
# the Go build cache (built beside it, both would compile the shared packages at the same time).
go_build kubernetes "building kube-apiserver + etcd (cached in $ENVTEST_CACHE), then kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl in one go build plus the cluster's test images (cached in $CLUSTER_CACHE), from Go modules: usually 15-25 min + ~16 min cold on 2 cores" \
  scripts/envtest/build.sh COIL_ENVTEST_NO_BUILD scripts/cluster/build.sh COIL_CLUSTER_NO_BUILD
go_build coil-v2 "building Coil v2's Go executables for the interop tests, usually ~10 min cold (coil ~30 s, coild ~10 min: Kubernetes client libraries, then coil-egress ~20 s), cached afterwards in $COIL_V2_CACHE_DIR" \
  scripts/coil-v2/build.sh COIL_V2_NO_BUILD

# dist/: what the tests run (dist/bin/*.mjs, the Bun-compiled dist/bin/coil, the QuickJS build
# dist/bin/coil-qjs, coild's dist/bin/coil-spawner, dist/lib for the pack test).
outputs=(dist/lib/index.js dist/cjs/lib/index.js dist/bin/coil dist/bin/coil-qjs dist/bin/coil-spawner)
while IFS= read -r b; do outputs+=("$b"); done < <(node -p 'Object.values(require("./package.json").bin).join("\n")')
oldest="" why=""
for o in "${outputs[@]}"; do
  if [[ ! -e "$o" ]]; then oldest=""; why="$o is missing"; break; fi
  [[ -z "$oldest" || "$o" -ot "$oldest" ]] && oldest="$o"
done
if [[ -n "$oldest" ]]; then
  newer=$({ find lib adapters -type f \( -name '*.ts' -o -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$oldest" -print -quit
    find scripts/build-bins.sh scripts/build-cni.sh scripts/build-spawner.sh scripts/build-cjs.mjs tsconfig.json package.json -newer "$oldest" -print -quit
  } 2>/dev/null | head -1)
  why=${newer:+"$newer is newer than $oldest"}
fi
dist_status=0
if [[ -n "${why:-}" ]]; then
  say "dist: building (npm run build + the Bun-compiled dist/bin/coil + the QuickJS dist/bin/coil-qjs + dist/bin/coil-spawner), usually ~1 min, 2-3 min with a cold Go cache; $why"
  t0=$(date +%s)
  if npm run --silent build >"$LOGS/dist.log" 2>&1 && sh scripts/build-cni.sh --bun-only >>"$LOGS/dist.log" 2>&1 \
    && sh scripts/build-cni.sh --qjs-only >>"$LOGS/dist.log" 2>&1 && sh scripts/build-spawner.sh >>"$LOGS/dist.log" 2>&1; then
    say "dist: built in $(( $(date +%s) - t0 ))s"
  else
    dist_status=1
    tail -30 "$LOGS/dist.log"
    say "ERROR: dist build failed (full log: $LOGS/dist.log)"
  fi
else
  say "dist: up to date"
fi

# The image the cluster e2e deploys (dist/image/coil-ts-<version>.oci.tar): built from dist/bin as it is
# now, when missing or older than a program or the image scripts (cached Debian and Node layers: ~30 s warm;
# cold, mmdebstrap adds 3-6 min).
image=$(node -p '"dist/image/coil-ts-" + require("./package.json").version + ".oci.tar"')
image_why=""
if [[ ! -e "$image" ]]; then image_why="$image is missing"
else
  newer=$(find dist/bin scripts/image package.json -type f -newer "$image" -print -quit 2>/dev/null)
  image_why=${newer:+"$newer is newer than $image"}
fi
if [[ $dist_status == 0 && -n "$image_why" ]]; then
  say "image: building (npm run image -- --no-build); $image_why"
  t0=$(date +%s)
  if npm run --silent image -- --no-build >"$LOGS/image.log" 2>&1; then
    say "image: built in $(( $(date +%s) - t0 ))s"
  else
    dist_status=1
    tail -30 "$LOGS/image.log"
    say "ERROR: image build failed (full log: $LOGS/image.log)"
  fi
elif [[ -z "$image_why" ]]; then
  say "image: up to date"
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
