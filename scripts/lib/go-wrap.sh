# Shared shell functions for building programs of k8s.io/kubernetes (or any module that replaces its
# staging modules with local paths) from the Go module proxy through a throw-away wrapper module.
# Source this file; it defines functions only. Callers set WORK (a temp dir) and define log/die.
#
# k8s.io/kubernetes requires its staging modules at v0.0.0 with local `./staging/...` replaces. A wrapper
# module that requires k8s.io/kubernetes must replace each of them with the published version
# (`k8s.io/x => k8s.io/x v0.<minor>.<patch>`); the list is derived from the exact tag's go.mod.
# Used by scripts/envtest/build.sh (kube-apiserver, etcd) and scripts/cluster/build.sh (the node binaries).

# Resolve a module version's go.mod file via the module proxy. Prints its path.
gowrap_module_gomod() {
  local mod="$1" ver="$2" json gomod
  json="$(cd "$WORK" && go mod download -json "$mod@$ver")" || die "cannot download $mod@$ver: $json"
  gomod="$(printf '%s\n' "$json" | sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p')"
  [[ -n "$gomod" && -f "$gomod" ]] || die "no GoMod for $mod@$ver in: $json"
  printf '%s\n' "$gomod"
}

# Turn every local-path replace (`X => ./...` or `X => ../...`) of a go.mod into `X => X <version>`;
# entries pointing at FORBIDDEN_DEPENDENCY are dropped.
gowrap_derive_replaces() {
  local gomod="$1" version="$2"
  sed -nE 's#^[[:space:]]*(replace[[:space:]]+)?([^[:space:]()]+)[[:space:]]+=>[[:space:]]+\.\.?/([^[:space:]]+)[[:space:]]*$#\2 \3#p' "$gomod" \
    | { grep -v 'FORBIDDEN_DEPENDENCY' || true; } \
    | while read -r mod _; do printf '\t%s => %s %s\n' "$mod" "$mod" "$version"; done
}

# gowrap_write_module DIR NAME MOD VER STAGING_VER: write DIR/go.mod requiring MOD@VER with the derived replaces.
gowrap_write_module() {
  local dir="$1" name="$2" mod="$3" ver="$4" staging_ver="$5" gomod replaces nrep
  mkdir -p "$dir"
  gomod="$(gowrap_module_gomod "$mod" "$ver")"
  replaces="$(gowrap_derive_replaces "$gomod" "$staging_ver")"
  nrep="$(printf '%s\n' "$replaces" | grep -c '=>' || true)"
  log "${name##*/}: $mod@$ver, $nrep replaces derived from its go.mod (-> $staging_ver)"
  {
    printf 'module %s\n\n' "$name"
    grep -E '^go [0-9]' "$gomod" || echo "go 1.25.0"
    grep -E '^godebug ' "$gomod" || true
    printf '\nrequire %s %s\n\n' "$mod" "$ver"
    if [[ -n "$replaces" ]]; then printf 'replace (\n%s\n)\n' "$replaces"; fi
  } >"$dir/go.mod"
}

# The -ldflags that stamp a Kubernetes version into component-base and client-go (what `--version` prints).
gowrap_k8s_ldflags() {
  local version="$1" v="${1#v}" major minor patch p ld="-s -w"
  IFS=. read -r major minor patch <<<"$v"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  printf '%s\n' "$ld"
}
