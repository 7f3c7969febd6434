#!/usr/bin/env bash
# Build (or reuse) Coil v2's own Go CNI executable `coil`, the peer our coild must be wire
# compatible with. github.com/cybozu-go/coil/v2 has no replace directives, so a plain
# `go install .../cmd/coil@<version>` through the Go module proxy builds it.
#
# Output:  ${COIL_V2_CACHE:-$HOME/.cache/coil-v2}/<version>/coil
# Reuse:   an existing binary in the cache is reused ("reusing ...").
# Skip:    COIL_V2_COIL, when set, names an existing binary and nothing is built.
# Stdout:  only the final line `COIL_V2_COIL=<path>` (everything else goes to stderr).
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
PKG="$MODULE/cmd/coil"
CACHE_ROOT="${COIL_V2_CACHE:-$HOME/.cache/coil-v2}"
OUT_DIR="$CACHE_ROOT/$VERSION"
OUT="$OUT_DIR/coil"

log() { printf '[coil-v2-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -n "${COIL_V2_COIL:-}" ]]; then
  [[ -x "$COIL_V2_COIL" ]] || die "COIL_V2_COIL=$COIL_V2_COIL is not an executable file"
  log "using coil from environment: $COIL_V2_COIL"
  printf 'COIL_V2_COIL=%s\n' "$COIL_V2_COIL"
  exit 0
fi

if [[ -x "$OUT" ]]; then
  log "reusing $OUT"
  printf 'COIL_V2_COIL=%s\n' "$OUT"
  exit 0
fi

[[ "${COIL_V2_NO_BUILD:-}" == "1" ]] && die "missing $OUT (build it with scripts/coil-v2/build.sh or set COIL_V2_COIL)"
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

mkdir -p "$OUT_DIR"
# One builder at a time per cache dir (parallel test runs may all call this script).
exec 9>"$OUT_DIR/.coil.lock"
flock 9
if [[ -x "$OUT" ]]; then
  log "reusing $OUT (built concurrently)"
else
  STAGE="$(mktemp -d "$OUT_DIR/.stage.XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  t0="$(date +%s)"
  log "go install $PKG@$VERSION (nice 19) ..."
  if GOBIN="$STAGE" nice -n 19 go install "$PKG@$VERSION" 2>"$STAGE/install.err"; then
    log "go install succeeded"
  else
    cat "$STAGE/install.err" >&2
    # `go install pkg@version` also asks the proxy for the module's version list (@v/list) to look
    # for a deprecation notice; a proxy that serves the version but refuses the list (403) makes
    # it fail although every file the build needs is available. Fall back to exactly what
    # `go install pkg@version` compiles: the module's own source and go.mod/go.sum as the main
    # module (no replace directives), built with -mod=readonly, all versions pinned by go.sum.
    grep -q '@v/list' "$STAGE/install.err" || die "go install $PKG@$VERSION failed (see above)"
    log "go install failed only on the proxy's version list; building the downloaded module source instead"
    SRC_DIR="$(printf '%s\n' "$GOMOD_JSON" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
    [[ -n "$SRC_DIR" && -f "$SRC_DIR/go.mod" ]] || die "no module source dir for $MODULE@$VERSION in: $GOMOD_JSON"
    cp -r "$SRC_DIR" "$STAGE/src" && chmod -R u+w "$STAGE/src"
    (cd "$STAGE/src" && GOFLAGS="-trimpath -mod=readonly -buildvcs=false" nice -n 19 go build -o "$STAGE/coil" ./cmd/coil >&2) \
      || die "go build of $PKG from $SRC_DIR failed"
  fi
  mv -f "$STAGE/coil" "$OUT"
  log "built in $(( $(date +%s) - t0 ))s, $(du -h "$OUT" | cut -f1) -> $OUT"
fi
exec 9>&-
printf 'COIL_V2_COIL=%s\n' "$OUT"
