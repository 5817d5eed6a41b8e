#!/usr/bin/env bash
# Builds the npm package `usage-sdk` into bindings/pkg/:
#   usage_sdk.js        ES module for browsers and bundlers (wasm-bindgen --target web)
#   usage_sdk_bg.wasm   the SDK, optimised with `wasm-opt -Oz` when binaryen is installed
#   usage_sdk.d.ts      TypeScript types
#   package.json, README.md
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at exactly the
# version of the wasm-bindgen crate in Cargo.lock; it says how to get either.
# Prints the size of the .wasm, raw and gzipped, against the budget.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -d "$HOME/.cargo/bin" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

readonly TARGET=wasm32-unknown-unknown
readonly PROFILE=wasm-release
readonly OUT="$ROOT/bindings/pkg"
readonly NAME=usage_sdk
readonly MAX_RAW=$((250 * 1024))
readonly MAX_GZIP=$((100 * 1024))

say() { printf 'bindings/build.sh: %s\n' "$*"; }
die() { printf 'bindings/build.sh: error: %s\n' "$*" >&2; exit 1; }

# The version of `name` recorded in Cargo.lock.
locked_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/version = |"/, ""); print; exit }
  ' Cargo.lock
}

rustup target list --installed 2>/dev/null | grep -qx "$TARGET" \
  || die "the $TARGET target is missing; add it with: rustup target add $TARGET"

# wasm-bindgen-cli must match the crate exactly: the glue it writes and the
# crate's custom sections change between versions.
wanted="$(locked_version wasm-bindgen)"
[[ -n "$wanted" ]] || die "Cargo.lock has no wasm-bindgen; run cargo build -p usage-wasm --target $TARGET first"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have" != "$wanted" ]]; then
  if [[ -z "$have" ]]; then
    die "wasm-bindgen-cli is not installed. Install the version Cargo.lock names with:
    cargo install wasm-bindgen-cli --version $wanted"
  fi
  die "wasm-bindgen-cli is $have but Cargo.lock has wasm-bindgen $wanted; they must match. Install it with:
    cargo install wasm-bindgen-cli --version $wanted --force"
fi

say "building usage-wasm for $TARGET (profile $PROFILE)"
cargo build -p usage-wasm --target "$TARGET" --profile "$PROFILE"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
input="$target_dir/$TARGET/$PROFILE/usage_wasm.wasm"

staging="$(mktemp -d -t usage-sdk-pkg.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
if command -v wasm-opt >/dev/null; then
  say "$(wasm-opt --version) -Oz"
  # Before wasm-bindgen, not after as its docs suggest: older binaryen (Debian
  # 12 has 108) mixes up the tables of wasm-bindgen's externref output, and the
  # page then fails with "WebAssembly.Table.set(): Argument 1 is invalid".
  wasm-opt -Oz -o "$staging/optimised.wasm" "$input"
  input="$staging/optimised.wasm"
else
  say "wasm-opt not found: the .wasm is not optimised further (Debian: apt-get install binaryen)"
fi
say "wasm-bindgen $have --target web"
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$staging" --out-name "$NAME" "$input"
rm -f "$staging/optimised.wasm"

version="$(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "usage-wasm"))')"
cat >"$staging/package.json" <<JSON
{
  "name": "usage-sdk",
  "version": "$version",
  "description": "Product usage tracking with per-user opt-out: the browser SDK (WebAssembly).",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "module": "./$NAME.js",
  "main": "./$NAME.js",
  "types": "./$NAME.d.ts",
  "exports": {
    ".": { "types": "./$NAME.d.ts", "default": "./$NAME.js" },
    "./${NAME}_bg.wasm": "./${NAME}_bg.wasm"
  },
  "files": ["$NAME.js", "$NAME.d.ts", "${NAME}_bg.wasm", "${NAME}_bg.wasm.d.ts", "README.md"],
  "sideEffects": false
}
JSON
cp "$ROOT/bindings/README.md" "$staging/README.md"
rm -f "$staging/.gitignore"

rm -rf "$OUT"
mkdir -p "$OUT"
cp -R "$staging/." "$OUT/"

raw=$(wc -c <"$OUT/${NAME}_bg.wasm")
gz=$(gzip -9 -c "$OUT/${NAME}_bg.wasm" | wc -c)
say "wrote $OUT"
say "$(printf '%s_bg.wasm: %d bytes (%.1f KiB), gzip -9: %d bytes (%.1f KiB); budget 250 KiB / 100 KiB' \
  "$NAME" "$raw" "$(echo "$raw/1024" | bc -l)" "$gz" "$(echo "$gz/1024" | bc -l)")"
if ((raw > MAX_RAW || gz > MAX_GZIP)); then
  say "WARNING: the .wasm is over its size budget (see bindings/README.md, Package size)"
fi
