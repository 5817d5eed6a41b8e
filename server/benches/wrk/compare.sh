#!/usr/bin/env bash
# Ingest throughput of one release build in three set-ups, back to back, in
# rounds: NDJSON sink on the SQLite registry (the reference), JetStream sink
# on the SQLite registry, NDJSON sink on a PostgreSQL registry.
#
# Usage: server/benches/wrk/compare.sh ADMIN_DATABASE_URL [ROUNDS] [SECONDS]
#   ADMIN_DATABASE_URL: a PostgreSQL role that may create databases
#   (e.g. the one tests/run exports as USAGE_TEST_DATABASE_URL).
# Environment: SETUPS picks and orders the set-ups (default
# "ndjson nats postgres"); BIN runs that usage-server instead of building
# one (to hold two builds against each other, run them in turn).
# Needs wrk, nats-server, curl and jq; everything listens on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ADMIN_URL="${1:?usage: compare.sh ADMIN_DATABASE_URL [ROUNDS] [SECONDS]}"
ROUNDS="${2:-3}"
SECONDS_EACH="${3:-5}"
SCRIPT="$ROOT/server/benches/wrk/batch.lua"

SETUPS="${SETUPS:-ndjson nats postgres}"

cd "$ROOT"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release -p usage-server --bin usage-server
  BIN="$ROOT/target/release/usage-server"
fi
WORK="$(mktemp -d -t usage-bench.XXXXXX)"
PIDS=()
DB="usage_bench_$$"
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

NATS_PORT="$(free_port)"
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
PIDS+=($!)
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
PG_URL="${ADMIN_URL%/*}/$DB"

# start NAME ARGS...: a demo server with the rate limit off, its port in
# PORT[NAME]. (Not run in a subshell, so its process id reaches PIDS.)
declare -A PORT TOKEN
start() {
  local name="$1" port
  shift
  port="$(free_port)"
  "$BIN" demo --addr "127.0.0.1:$port" --data "$WORK/$name" --rate-limit 0 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do
    [[ -s "$WORK/$name/demo.json" ]] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.2
  done
  PORT[$name]="$port"
}

token() {
  local port="$1" name="$2" key
  key="$(jq -r .service_key "$WORK/$name/demo.json")"
  curl -fs "http://127.0.0.1:$port/v1/tokens" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"org":"acme","user":"bob"}' | jq -r .token
}

for name in $SETUPS; do
  case "$name" in
    ndjson) start ndjson ;;
    nats) start nats --sink nats --nats-url "nats://127.0.0.1:$NATS_PORT" ;;
    postgres) start postgres --database-url "$PG_URL" ;;
    *) echo "unknown set-up $name (ndjson, nats, postgres)" >&2; exit 2 ;;
  esac
  TOKEN[$name]="$(token "${PORT[$name]}" "$name")"
done

for round in $(seq "$ROUNDS"); do
  for name in $SETUPS; do
    printf 'round %s  %-9s ' "$round" "$name"
    TOKEN="${TOKEN[$name]}" wrk -t2 -c8 -d"${SECONDS_EACH}s" -s "$SCRIPT" \
      "http://127.0.0.1:${PORT[$name]}" | tail -n 1
    # At a million events a second the NDJSON files grow by about 250 MB/s:
    # empty them between runs so the disk cannot fill (a full disk turns
    # the next runs into 503s).
    find "$WORK/$name/events" -type f -exec truncate -s 0 {} + 2>/dev/null || true
  done
done
