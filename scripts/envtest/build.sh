#!/usr/bin/env bash
# Build a real test control plane (kube-apiserver + etcd) from Go modules.
#
# No registry serves prebuilt kube-apiserver/etcd binaries, so both are built from
# throw-away wrapper modules in a temp dir. k8s.io/kubernetes requires its staging
# modules at v0.0.0 with local `./staging/...` replaces; the wrapper's replace list is
# derived automatically from the exact tag's go.mod (each local staging replace
# becomes `k8s.io/x => k8s.io/x v0.<minor>.<patch>`). etcd is handled the same way.
#
# Output:  ${COIL_ENVTEST_CACHE:-$HOME/.cache/coil-envtest}/<k8s-version>/{kube-apiserver,etcd}
# Reuse:   existing binaries in the cache are reused ("reusing ...").
# Skip:    TEST_ASSET_KUBE_APISERVER / TEST_ASSET_ETCD / KUBEBUILDER_ASSETS, when set,
#          name existing binaries and nothing is built for them.
# Stdout:  only the final two lines `KUBE_APISERVER=<path>` and `ETCD=<path>`
#          (machine-readable; everything else goes to stderr).
#
# Knobs:   COIL_ENVTEST_K8S_VERSION (default v1.35.8), COIL_ENVTEST_ETCD_VERSION (default v3.6.16),
#          COIL_ENVTEST_CACHE, GOCACHE/GOMODCACHE (standard Go variables),
#          COIL_ENVTEST_NO_BUILD=1 (fail instead of building a missing binary).
set -euo pipefail

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="-trimpath -mod=mod"
export CGO_ENABLED=0
export GO111MODULE=on
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

K8S_VERSION="${COIL_ENVTEST_K8S_VERSION:-v1.35.8}"
ETCD_VERSION="${COIL_ENVTEST_ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${COIL_ENVTEST_CACHE:-$HOME/.cache/coil-envtest}"
OUT_DIR="$CACHE_ROOT/$K8S_VERSION"

log() { printf '[envtest-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/coil-envtest-build.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

now() { date +%s; }

# module_gomod / derive_replaces / the wrapper go.mod: shared with scripts/cluster/build.sh.
# shellcheck source=../lib/go-wrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/go-wrap.sh"

# Write a wrapper module requiring $mod@$ver with the derived replaces, then build $pkg.
build_wrapped() {
  local name="$1" mod="$2" ver="$3" staging_ver="$4" pkg="$5" ldflags="$6" out="$7"
  local dir="$WORK/$name" t0 t1 t2
  t0="$(now)"
  gowrap_write_module "$dir" "coil-envtest/$name" "$mod" "$ver" "$staging_ver"
  (cd "$dir" && nice -n 19 go get "$pkg@$ver" >&2) || die "$name: go get $pkg@$ver failed"
  t1="$(now)"
  log "$name: modules resolved/downloaded in $((t1 - t0))s; compiling (nice 19) ..."
  (cd "$dir" && nice -n 19 go build -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg" >&2) || die "$name: go build failed"
  mv -f "$out.tmp.$$" "$out"
  t2="$(now)"
  log "$name: compiled in $((t2 - t1))s (total $((t2 - t0))s), $(du -h "$out" | cut -f1) -> $out"
}

build_kube_apiserver() {
  local out="$1" v="${K8S_VERSION#v}" major minor patch
  IFS=. read -r major minor patch <<<"$v"
  local pkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version" ld="-s -w" p
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for p in $pkgs; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  build_wrapped kube-apiserver k8s.io/kubernetes "$K8S_VERSION" "v0.$minor.$patch" \
    k8s.io/kubernetes/cmd/kube-apiserver "$ld" "$out"
}

build_etcd() {
  local out="$1"
  build_wrapped etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" \
    go.etcd.io/etcd/server/v3 "-s -w" "$out"
}

# Where a binary comes from: explicit env var, KUBEBUILDER_ASSETS, or the cache (built if missing).
resolve() {
  local name="$1" explicit="$2" builder="$3"
  if [[ -n "$explicit" ]]; then
    [[ -x "$explicit" ]] || die "$name: $explicit (from env) is not an executable file"
    log "using $name from environment: $explicit"; RESOLVED="$explicit"; return
  fi
  if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    [[ -x "$KUBEBUILDER_ASSETS/$name" ]] || die "$name: not found in KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    log "using $name from KUBEBUILDER_ASSETS: $KUBEBUILDER_ASSETS/$name"; RESOLVED="$KUBEBUILDER_ASSETS/$name"; return
  fi
  local out="$OUT_DIR/$name"
  if [[ -x "$out" ]]; then
    log "reusing $out"; RESOLVED="$out"; return
  fi
  if [[ "${COIL_ENVTEST_NO_BUILD:-}" == "1" ]]; then
    die "$name missing: $out (build it with scripts/envtest/build.sh, or set TEST_ASSET_* / KUBEBUILDER_ASSETS)"
  fi
  mkdir -p "$OUT_DIR"
  # One builder at a time per cache dir (parallel test runs may all call this script).
  exec 9>"$OUT_DIR/.$name.lock"
  flock 9
  if [[ -x "$out" ]]; then
    log "reusing $out (built concurrently)"
  else
    "$builder" "$out"
  fi
  exec 9>&-
  RESOLVED="$out"
}

T_START="$(now)"
RESOLVED=""
resolve etcd "${TEST_ASSET_ETCD:-}" build_etcd; ETCD_BIN="$RESOLVED"
resolve kube-apiserver "${TEST_ASSET_KUBE_APISERVER:-}" build_kube_apiserver; APISERVER_BIN="$RESOLVED"
log "done in $(( $(now) - T_START ))s"
printf 'KUBE_APISERVER=%s\nETCD=%s\n' "$APISERVER_BIN" "$ETCD_BIN"
