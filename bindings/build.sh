#!/usr/bin/env bash
# Builds the npm package `usage-sdk` into bindings/pkg/:
#   usage_sdk.js        ES module for browsers and bundlers (wasm-bindgen --target web)
#   usage_sdk_bg.wasm   the SDK, optimised with binaryen's `wasm-opt -Oz`
#   usage_sdk.d.ts      TypeScript types
#   package.json, README.md
#
# Installs what it needs when it is missing, each at a pinned version, so a
# fresh machine builds the same bytes as any other:
#   * the wasm32-unknown-unknown target (rustup);
#   * wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in
#     Cargo.lock (cargo install);
#   * binaryen's wasm-opt from npm, at the version bindings/tools/package-lock.json
#     names (npm ci into bindings/tools/node_modules); npm itself from Debian
#     when it is missing and the script runs as root.
# Paths of this machine are remapped out of the .wasm (panic locations name
# files), so the build folder and $CARGO_HOME do not change the output.
#
# Prints the size of the package (the .wasm and the JavaScript glue, raw and
# gzipped) against the budget of 40 KiB gzipped; bindings/check-size.sh fails
# over it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
if [[ -d "$CARGO_HOME/bin" ]]; then
  export PATH="$CARGO_HOME/bin:$PATH"
fi

readonly TARGET=wasm32-unknown-unknown
readonly PROFILE=wasm-release
readonly OUT="$ROOT/bindings/pkg"
readonly TOOLS="$ROOT/bindings/tools"
readonly NAME=usage_sdk
readonly BUDGET_GZIP=$((40 * 1024))

say() { printf 'bindings/build.sh: %s\n' "$*"; }
die() { printf 'bindings/build.sh: error: %s\n' "$*" >&2; exit 1; }

# The version of `name` recorded in Cargo.lock.
locked_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/version = |"/, ""); print; exit }
  ' Cargo.lock
}

# The "version" field of a package.json, or nothing.
json_version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$1" 2>/dev/null || true
}

if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  say "adding the $TARGET target"
  rustup target add "$TARGET" || die "rustup could not add $TARGET"
fi

# wasm-bindgen-cli must match the crate exactly: the glue it writes and the
# crate's custom sections change between versions.
wanted="$(locked_version wasm-bindgen)"
[[ -n "$wanted" ]] || die "Cargo.lock has no wasm-bindgen"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have" != "$wanted" ]]; then
  say "installing wasm-bindgen-cli $wanted (Cargo.lock's wasm-bindgen; takes a few minutes)"
  # Not --locked: one of its locked dependencies is missing from the registry mirror.
  cargo install wasm-bindgen-cli --version "$wanted" --force \
    || die "cargo install wasm-bindgen-cli --version $wanted failed"
  have="$wanted"
fi

# binaryen from npm, pinned by the lock file: Debian's binaryen (108) is older
# and optimises less, and a distribution's version would make the output
# depend on the machine.
if ! command -v npm >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing npm (Debian's package), for binaryen's wasm-opt"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm \
      || die "apt-get could not install npm"
  else
    die "npm is needed for binaryen's wasm-opt (Debian: apt-get install npm)"
  fi
fi
binaryen_wanted="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/binaryen"]["version"])' "$TOOLS/package-lock.json")"
if [[ "$(json_version "$TOOLS/node_modules/binaryen/package.json")" != "$binaryen_wanted" ]]; then
  say "installing binaryen $binaryen_wanted from npm into bindings/tools"
  npm ci --prefix "$TOOLS" --no-audit --no-fund --loglevel=error || die "npm ci in bindings/tools failed"
fi
readonly WASM_OPT="$TOOLS/node_modules/.bin/wasm-opt"

# A build folder of its own: the remapping flags differ from an ordinary
# build's, and sharing a folder would rebuild one or the other every time.
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/npm-package"
remap="--remap-path-prefix=$ROOT=/usage --remap-path-prefix=$CARGO_HOME=/cargo"
say "building usage-wasm for $TARGET (profile $PROFILE)"
RUSTFLAGS="$remap" cargo build -p usage-wasm --target "$TARGET" --profile "$PROFILE" --target-dir "$target_dir"
input="$target_dir/$TARGET/$PROFILE/usage_wasm.wasm"

staging="$(mktemp -d -t usage-sdk-pkg.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
say "wasm-bindgen $have --target web"
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$staging" --out-name "$NAME" "$input"
# The generated class has `[Symbol.dispose]()`, which TypeScript knows only
# with the `esnext.disposable` library; the types say so themselves, so an
# app's `lib` setting need not (and `skipLibCheck` is not needed).
{
  printf '/// <reference lib="esnext.disposable" />\n'
  cat "$staging/$NAME.d.ts"
} >"$staging/$NAME.d.ts.new"
mv "$staging/$NAME.d.ts.new" "$staging/$NAME.d.ts"
say "$("$WASM_OPT" --version) -Oz"
"$WASM_OPT" -Oz --strip-debug --strip-producers \
  -o "$staging/${NAME}_bg.opt.wasm" "$staging/${NAME}_bg.wasm"
mv "$staging/${NAME}_bg.opt.wasm" "$staging/${NAME}_bg.wasm"

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

# Bytes in KiB with one decimal.
kib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1024 }'; }

# Sizes as a browser downloads them: gzip -9, without a name or time in the header.
size_line() {
  local file="$1" raw gz
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -n -c "$file" | wc -c)
  printf '%s: %d bytes, gzip -9: %d bytes (%s KiB)' "$(basename "$file")" "$raw" "$gz" "$(kib "$gz")"
}
total_gz=$(($(gzip -9 -n -c "$OUT/${NAME}_bg.wasm" | wc -c) + $(gzip -9 -n -c "$OUT/$NAME.js" | wc -c)))
say "wrote $OUT"
say "$(size_line "$OUT/${NAME}_bg.wasm")"
say "$(size_line "$OUT/$NAME.js")"
say "$(printf 'package (wasm + js), gzip -9: %d bytes (%s KiB); budget %d bytes (40 KiB)' \
  "$total_gz" "$(kib "$total_gz")" "$BUDGET_GZIP")"
if ((total_gz > BUDGET_GZIP)); then
  say "WARNING: the package is over its size budget (see bindings/README.md, Package size)"
fi
