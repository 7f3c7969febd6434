#!/usr/bin/env bash
# Generates the API reference of lib/ into api-docs/ (config: typedoc.json, warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-api-docs}"
rm -rf "$out"
node node_modules/typedoc/bin/typedoc --out "$out" --treatWarningsAsErrors
