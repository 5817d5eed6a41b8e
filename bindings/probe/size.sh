#!/usr/bin/env bash
# Prints what the SDK's shared core alone weighs in the browser (the size
# probe in bindings/probe: the core as a sans-I/O state machine, every piece
# of I/O left to the page), built the way bindings/build.sh builds the
# package: profile wasm-release, wasm-bindgen --target web, binaryen's
# wasm-opt -Oz, gzip -9.
#
#   bindings/probe/size.sh            stable Rust, as the package is built
#   bindings/probe/size.sh --nightly  also with a nightly toolchain rebuilding
#                                     std with panics that abort without a
#                                     message (needs rust-src for nightly)
#
# Uses the wasm-bindgen and wasm-opt that bindings/build.sh installs; run it
# first. A measurement for bindings/README.md ("Package size"), not a product.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
readonly TARGET=wasm32-unknown-unknown
readonly PROFILE=wasm-release
readonly WASM_OPT="$ROOT/bindings/tools/node_modules/.bin/wasm-opt"

die() { printf 'bindings/probe/size.sh: error: %s\n' "$*" >&2; exit 1; }
command -v wasm-bindgen >/dev/null || die "wasm-bindgen is missing: run bindings/build.sh first"
[[ -x "$WASM_OPT" ]] || die "binaryen's wasm-opt is missing: run bindings/build.sh first"

target_root="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d -t usage-size-probe.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# measure LABEL WASM: the optimised .wasm and the generated glue, raw and gzipped.
measure() {
  local label="$1" input="$2" out="$work/$1"
  mkdir -p "$out"
  wasm-bindgen --target web --remove-name-section --remove-producers-section \
    --out-dir "$out" --out-name probe "$input"
  "$WASM_OPT" -Oz --strip-debug --strip-producers -o "$out/probe.opt.wasm" "$out/probe_bg.wasm"
  local wasm_raw wasm_gz js_gz
  wasm_raw=$(stat -c %s "$out/probe.opt.wasm")
  wasm_gz=$(gzip -9 -n -c "$out/probe.opt.wasm" | wc -c)
  js_gz=$(gzip -9 -n -c "$out/probe.js" | wc -c)
  printf '%-8s .wasm %7d B raw, %6d B gzip; glue %5d B gzip; together %6d B gzip (%.1f KiB)\n' \
    "$label" "$wasm_raw" "$wasm_gz" "$js_gz" $((wasm_gz + js_gz)) \
    "$(awk -v b=$((wasm_gz + js_gz)) 'BEGIN { print b / 1024 }')"
}

cargo build -q -p usage-size-probe --target "$TARGET" --profile "$PROFILE" \
  --target-dir "$target_root/size-probe"
measure stable "$target_root/size-probe/$TARGET/$PROFILE/usage_size_probe.wasm"

if [[ "${1:-}" == "--nightly" ]]; then
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" cargo +nightly build -q \
    -p usage-size-probe --target "$TARGET" --profile "$PROFILE" \
    --target-dir "$target_root/size-probe-nightly" \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
  measure nightly "$target_root/size-probe-nightly/$TARGET/$PROFILE/usage_size_probe.wasm"
fi
