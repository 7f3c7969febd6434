# Sourced by scripts/build-bins.sh and scripts/build-cni.sh (needs $ROOT): the version and commit the
# programs embed (adapters/common/version.ts reads them as __COIL_VERSION__ / __COIL_COMMIT__).
#   COIL_VERSION  package.json's "version"
#   COIL_COMMIT   `git rev-parse HEAD` of $ROOT's checkout at build time; "unknown" when $ROOT is not
#                 the top of a git checkout (e.g. an unpacked npm tarball inside some other repository)
# Either can be given in the environment instead (a release build from a tarball).
COIL_VERSION=${COIL_VERSION:-$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version' "$ROOT/package.json")}
if [ -z "${COIL_COMMIT:-}" ]; then
  COIL_COMMIT=unknown
  if top=$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null) && [ "$(cd "$top" && pwd -P)" = "$(cd "$ROOT" && pwd -P)" ]; then
    COIL_COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
  fi
fi
case "$COIL_VERSION$COIL_COMMIT" in *[!A-Za-z0-9.+_-]*) echo "build-info: unexpected characters in version/commit: $COIL_VERSION $COIL_COMMIT" >&2; exit 1 ;; esac
