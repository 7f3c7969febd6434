#!/usr/bin/env bash
# Build (or reuse) Coil v2's own Go programs that our adapters must interoperate with:
#   coil   the CNI executable (cmd/coil): the wire peer of our coild
#   coild  the node daemon (cmd/coild): the daemon our coild is swapped with live (both ways)
#   coil-egress  the egress NAT server (cmd/coil-egress): serves a client pod set up by our coild
#          over FoU, and Go coild's client pods are served by ours (test/e2e/egress-fou-interop-vm.test.ts)
#   coil-router  the flat-L2 router (cmd/coil-router): compared with ours by bench/router-scale.ts
#          (built only when asked for by name; not part of the default set)
#   coil-ipam-controller  the IPAM controller (cmd/coil-ipam-controller): compared with ours by
#          bench/ipam-controller.ts (built only when asked for by name; not part of the default set)
# github.com/cybozu-go/coil/v2 has no replace directives, so a plain
# `go install .../cmd/<name>@<version>` through the Go module proxy builds each of them.
#
# Usage:   build.sh [coil] [coild] [coil-egress] [coil-router] [coil-ipam-controller]
#          (no argument: coil, coild and coil-egress, what the test suite needs)
# Output:  ${COIL_V2_CACHE:-$HOME/.cache/coil-v2}/<version>/<name>
# Reuse:   an existing binary in the cache is reused ("reusing ...").
# Skip:    COIL_V2_COIL / COIL_V2_COILD / COIL_V2_COIL_EGRESS / COIL_V2_COIL_ROUTER / COIL_V2_COIL_IPAM_CONTROLLER, when set,
#          name an existing binary and nothing is built for that program.
# Stdout:  only one line per program, in argument order: `COIL_V2_COIL=<path>`,
#          `COIL_V2_COILD=<path>`, `COIL_V2_COIL_EGRESS=<path>`, `COIL_V2_COIL_ROUTER=<path>`, `COIL_V2_COIL_IPAM_CONTROLLER=<path>` (everything else goes to stderr). With COIL_V2_NO_BUILD=1 and a
#          program missing, the lines of the programs found are printed and the exit status is 1.
#
# Knobs:   COIL_V2_VERSION (default v2.15.0), COIL_V2_CACHE, GOCACHE/GOMODCACHE/GOPROXY
#          (standard Go variables), COIL_V2_NO_BUILD=1 (fail instead of building).
set -euo pipefail

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="-trimpath"
export CGO_ENABLED=0
export GO111MODULE=on
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

VERSION="${COIL_V2_VERSION:-v2.15.0}"
MODULE="github.com/cybozu-go/coil/v2"
CACHE_ROOT="${COIL_V2_CACHE:-$HOME/.cache/coil-v2}"
OUT_DIR="$CACHE_ROOT/$VERSION"

log() { printf '[coil-v2-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

TARGETS=("$@")
[[ ${#TARGETS[@]} -eq 0 ]] && TARGETS=(coil coild coil-egress)
for name in "${TARGETS[@]}"; do
  case "$name" in
    coil | coild | coil-egress | coil-router | coil-ipam-controller) ;;
    *) die "unknown program '$name' (expected: coil, coild, coil-egress, coil-router, coil-ipam-controller)" ;;
  esac
done

# The environment variable that names a prebuilt binary and is printed on stdout: coil ->
# COIL_V2_COIL, coild -> COIL_V2_COILD, coil-egress -> COIL_V2_COIL_EGRESS, coil-router -> COIL_V2_COIL_ROUTER, coil-ipam-controller ->
# COIL_V2_COIL_IPAM_CONTROLLER.
var_of() { printf 'COIL_V2_%s' "$(printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_')"; }

# Phase 1: resolve what already exists (environment or cache) without touching Go.
declare -A FOUND=()
MISSING=()
for name in "${TARGETS[@]}"; do
  var="$(var_of "$name")"
  given="${!var:-}"
  if [[ -n "$given" ]]; then
    [[ -x "$given" ]] || die "$var=$given is not an executable file"
    log "using $name from environment: $given"
    FOUND[$name]="$given"
  elif [[ -x "$OUT_DIR/$name" ]]; then
    log "reusing $OUT_DIR/$name"
    FOUND[$name]="$OUT_DIR/$name"
  else
    MISSING+=("$name")
  fi
done

print_found() {
  for name in "${TARGETS[@]}"; do
    printf '%s=%s\n' "$(var_of "$name")" "${FOUND[$name]}"
  done
}

if [[ ${#MISSING[@]} -eq 0 ]]; then
  print_found
  exit 0
fi

if [[ "${COIL_V2_NO_BUILD:-}" == "1" ]]; then
  # The programs that do exist are still printed (a caller that needs only one of them can use
  # its line, or ask for that program alone: `build.sh coil`).
  for name in "${TARGETS[@]}"; do
    [[ -n "${FOUND[$name]:-}" ]] && printf '%s=%s\n' "$(var_of "$name")" "${FOUND[$name]}"
  done
  for name in "${MISSING[@]}"; do
    log "missing $OUT_DIR/$name"
  done
  die "missing ${MISSING[*]} (build with: bash scripts/coil-v2/build.sh ${MISSING[*]}; or set $(for n in "${MISSING[@]}"; do printf '%s ' "$(var_of "$n")"; done)to a binary)"
fi
command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"

# Compare the local Go with the module's `go` directive, so that "Go too old" is said plainly
# instead of as a toolchain-download error (GOTOOLCHAIN=local forbids downloading a newer one).
go_version_ge() { # $1 >= $2, both like 1.26.5
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" == "$2" ]]
}
LOCAL_GO="$(go env GOVERSION)"; LOCAL_GO="${LOCAL_GO#go}"
GOMOD_JSON="$(cd "${TMPDIR:-/tmp}" && go mod download -json "$MODULE@$VERSION" 2>&1)" \
  || die "cannot download $MODULE@$VERSION through the module proxy ($(go env GOPROXY)): $GOMOD_JSON"
GOMOD="$(printf '%s\n' "$GOMOD_JSON" | sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p')"
if [[ -n "$GOMOD" && -f "$GOMOD" ]]; then
  NEED_GO="$(sed -nE 's/^go ([0-9.]+).*/\1/p' "$GOMOD" | head -1)"
  if [[ -n "$NEED_GO" ]] && ! go_version_ge "$LOCAL_GO" "$NEED_GO"; then
    die "local Go $LOCAL_GO is older than the 'go $NEED_GO' directive of $MODULE@$VERSION (GOTOOLCHAIN=$GOTOOLCHAIN); install Go >= $NEED_GO"
  fi
  log "$MODULE@$VERSION needs go ${NEED_GO:-?}; local go $LOCAL_GO"
fi
SRC_DIR="$(printf '%s\n' "$GOMOD_JSON" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"

mkdir -p "$OUT_DIR"
STAGES=()
trap 'for s in "${STAGES[@]}"; do rm -rf "$s"; done' EXIT

# build_one NAME: build cmd/NAME into $OUT_DIR/NAME, one builder at a time per cache dir and
# program (parallel test runs may all call this script).
build_one() {
  local name="$1" pkg="$MODULE/cmd/$1" out="$OUT_DIR/$1" stage t0
  exec 9>"$OUT_DIR/.$name.lock"
  flock 9
  if [[ -x "$out" ]]; then
    log "reusing $out (built concurrently)"
    exec 9>&-
    FOUND[$name]="$out"
    return
  fi
  stage="$(mktemp -d "$OUT_DIR/.stage.XXXXXX")"
  STAGES+=("$stage")
  t0="$(date +%s)"
  log "go install $pkg@$VERSION (nice 19) ..."
  if GOBIN="$stage" nice -n 19 go install "$pkg@$VERSION" 2>"$stage/install.err"; then
    log "go install succeeded"
  else
    cat "$stage/install.err" >&2
    # `go install pkg@version` also asks the proxy for the module's version list (@v/list) to look
    # for a deprecation notice; a proxy that serves the version but refuses the list (403) makes
    # it fail although every file the build needs is available. Fall back to exactly what
    # `go install pkg@version` compiles: the module's own source and go.mod/go.sum as the main
    # module (no replace directives), built with -mod=readonly, all versions pinned by go.sum.
    grep -q '@v/list' "$stage/install.err" || die "go install $pkg@$VERSION failed (see above)"
    log "go install failed only on the proxy's version list; building the downloaded module source instead"
    [[ -n "$SRC_DIR" && -f "$SRC_DIR/go.mod" ]] || die "no module source dir for $MODULE@$VERSION in: $GOMOD_JSON"
    cp -r "$SRC_DIR" "$stage/src" && chmod -R u+w "$stage/src"
    (cd "$stage/src" && GOFLAGS="-trimpath -mod=readonly -buildvcs=false" nice -n 19 go build -o "$stage/$name" "./cmd/$name" >&2) \
      || die "go build of $pkg from $SRC_DIR failed"
  fi
  mv -f "$stage/$name" "$out"
  log "built $name in $(( $(date +%s) - t0 ))s, $(du -h "$out" | cut -f1) -> $out"
  exec 9>&-
  FOUND[$name]="$out"
}

for name in "${MISSING[@]}"; do
  build_one "$name"
done
print_found
