#!/usr/bin/env bash
# Runs one fuzz target for a given time and prints libFuzzer's final stats.
#
#   fuzz/run.sh TARGET SECONDS      (targets: token_verify, batch_reader, json_syntax, stored_round_trip,
#                                    stored_round_trip_postgres, signin_session)
#
# New inputs go to fuzz/corpus/TARGET (not committed); fuzz/seeds/TARGET
# holds the committed starting inputs. A failing input lands in
# fuzz/artifacts/TARGET. The code under test forbids `unsafe`, so the
# default is no sanitizer, which runs several times more inputs a second;
# FUZZ_SANITIZER=address turns AddressSanitizer back on.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 TARGET SECONDS" >&2
  exit 2
fi
target="$1"
seconds="$2"
cd "$(dirname "$0")"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
mkdir -p "corpus/$target" "seeds/$target"
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer "${FUZZ_SANITIZER:-none}" "$target" \
  "corpus/$target" "seeds/$target" \
  -- -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
