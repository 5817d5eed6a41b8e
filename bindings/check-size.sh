#!/usr/bin/env bash
# Builds the npm package with bindings/build.sh and fails when the package
# (the .wasm and the JavaScript glue, gzip -9) is over 40 KiB. Prints the size.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BUDGET=$((40 * 1024))
readonly PKG="$ROOT/bindings/pkg"

"$ROOT/bindings/build.sh"
wasm=$(gzip -9 -n -c "$PKG/usage_sdk_bg.wasm" | wc -c)
js=$(gzip -9 -n -c "$PKG/usage_sdk.js" | wc -c)
total=$((wasm + js))
printf 'bindings/check-size.sh: package gzip -9: %d bytes (wasm %d + js %d); budget %d bytes (40 KiB)\n' \
  "$total" "$wasm" "$js" "$BUDGET"
if ((total > BUDGET)); then
  printf 'bindings/check-size.sh: FAILED: the package is %d bytes over 40 KiB\n' "$((total - BUDGET))" >&2
  exit 1
fi
