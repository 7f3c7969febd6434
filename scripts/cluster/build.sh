#!/usr/bin/env bash
# Build what the local multi-node cluster (npm run cluster) needs beyond the envtest control plane:
#   - the Kubernetes node/control programs kube-controller-manager, kube-scheduler, kubelet, kube-proxy and
#     kubectl, from the k8s.io/kubernetes Go module, in ONE `go build` of one wrapper module (they share most
#     packages), the same version as the envtest kube-apiserver (scripts/envtest/build.sh);
#   - two local test images as OCI archives (nothing is pulled from a registry): a pause image (a static Go
#     binary that reaps children and exits on SIGTERM) and a test image (Debian's busybox-static plus a static
#     Go HTTP echo server), both built from scripts/cluster/images/ by scripts/cluster/images.ts.
#
# Output:  ${COIL_CLUSTER_CACHE:-$HOME/.cache/coil-cluster}/<k8s-version>/{kube-controller-manager,kube-scheduler,
#          kubelet,kube-proxy,kubectl}, and .../images/<inputs-hash>/{pause,testbox}.oci.tar
# Reuse:   binaries (all five) and images already in the cache are reused ("reusing ...").
# Skip:    COIL_CLUSTER_K8S_BIN=<dir> names a directory holding the five binaries; nothing is built for them.
# Stdout:  only KEY=VALUE lines (machine-readable; everything else goes to stderr):
#          KUBE_CONTROLLER_MANAGER KUBE_SCHEDULER KUBELET KUBE_PROXY KUBECTL PAUSE_IMAGE PAUSE_IMAGE_NAME
#          TEST_IMAGE TEST_IMAGE_NAME
# Usage:   scripts/cluster/build.sh [all|k8s|images]   (default all)
# Knobs:   COIL_ENVTEST_K8S_VERSION (default v1.35.8, shared with scripts/envtest/build.sh), COIL_CLUSTER_CACHE,
#          GOCACHE/GOMODCACHE, COIL_CLUSTER_NO_BUILD=1 (fail instead of building something missing).
set -euo pipefail

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="-trimpath -mod=mod"
export CGO_ENABLED=0
export GO111MODULE=on
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
K8S_VERSION="${COIL_ENVTEST_K8S_VERSION:-v1.35.8}"
CACHE_ROOT="${COIL_CLUSTER_CACHE:-$HOME/.cache/coil-cluster}"
OUT_DIR="$CACHE_ROOT/$K8S_VERSION"
PROGRAMS=(kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
WHAT="${1:-all}"

log() { printf '[cluster-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

case "$WHAT" in all|k8s|images) ;; *) die "usage: $0 [all|k8s|images]" ;; esac
command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/coil-cluster-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../lib/go-wrap.sh
source "$HERE/../lib/go-wrap.sh"

have_all() { local d="$1" p; for p in "${PROGRAMS[@]}"; do [[ -x "$d/$p" ]] || return 1; done; }

build_k8s() {
  local dir="$WORK/k8s" minor patch t0 t1 t2 tmp p pkgs=()
  IFS=. read -r _ minor patch <<<"${K8S_VERSION#v}"
  t0="$(now)"
  gowrap_write_module "$dir" coil-cluster/k8s k8s.io/kubernetes "$K8S_VERSION" "v0.$minor.$patch"
  for p in "${PROGRAMS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$p"); done
  (cd "$dir" && nice -n 19 go get "${pkgs[@]/%/@$K8S_VERSION}" >&2) || die "go get failed"
  t1="$(now)"
  log "modules resolved in $((t1 - t0))s; compiling ${PROGRAMS[*]} in one go build (nice 19) ..."
  tmp="$OUT_DIR/.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$dir" && nice -n 19 go build -ldflags "$(gowrap_k8s_ldflags "$K8S_VERSION")" -o "$tmp/" "${pkgs[@]}" >&2) \
    || { rm -rf "$tmp"; die "go build failed"; }
  for p in "${PROGRAMS[@]}"; do mv -f "$tmp/$p" "$OUT_DIR/$p"; done
  rm -rf "$tmp"
  t2="$(now)"
  log "compiled in $((t2 - t1))s (total $((t2 - t0))s): $(cd "$OUT_DIR" && du -ch "${PROGRAMS[@]}" | tail -1 | cut -f1) in $OUT_DIR"
}

resolve_k8s() {
  if [[ -n "${COIL_CLUSTER_K8S_BIN:-}" ]]; then
    have_all "$COIL_CLUSTER_K8S_BIN" || die "COIL_CLUSTER_K8S_BIN=$COIL_CLUSTER_K8S_BIN lacks one of ${PROGRAMS[*]}"
    log "using binaries from COIL_CLUSTER_K8S_BIN=$COIL_CLUSTER_K8S_BIN"; K8S_BIN="$COIL_CLUSTER_K8S_BIN"; return
  fi
  K8S_BIN="$OUT_DIR"
  if have_all "$OUT_DIR"; then log "reusing ${PROGRAMS[*]} in $OUT_DIR"; return; fi
  [[ "${COIL_CLUSTER_NO_BUILD:-}" == "1" ]] && die "missing binaries in $OUT_DIR (run scripts/cluster/build.sh)"
  mkdir -p "$OUT_DIR"
  exec 9>"$OUT_DIR/.build.lock"   # one builder at a time per cache dir
  flock 9
  if have_all "$OUT_DIR"; then log "reusing ${PROGRAMS[*]} in $OUT_DIR (built concurrently)"; else build_k8s; fi
  exec 9>&-
}

resolve_images() {
  local out
  [[ -x /bin/busybox ]] && /bin/busybox --list >/dev/null 2>&1 || die "/bin/busybox missing: apt-get install busybox-static"
  out="$(cd "$REPO" && COIL_CLUSTER_CACHE="$CACHE_ROOT" node --import tsx scripts/cluster/images.ts)" || die "image build failed"
  IMAGES_OUT="$out"
}

T_START="$(now)"
K8S_BIN=""; IMAGES_OUT=""
if [[ "$WHAT" != images ]]; then resolve_k8s; fi
if [[ "$WHAT" != k8s ]]; then resolve_images; fi
log "done in $(( $(now) - T_START ))s"
if [[ -n "$K8S_BIN" ]]; then
  printf 'KUBE_CONTROLLER_MANAGER=%s\nKUBE_SCHEDULER=%s\nKUBELET=%s\nKUBE_PROXY=%s\nKUBECTL=%s\n' \
    "$K8S_BIN/kube-controller-manager" "$K8S_BIN/kube-scheduler" "$K8S_BIN/kubelet" "$K8S_BIN/kube-proxy" "$K8S_BIN/kubectl"
fi
if [[ -n "$IMAGES_OUT" ]]; then printf '%s\n' "$IMAGES_OUT"; fi
