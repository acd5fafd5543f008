#!/usr/bin/env bash
# Origin sync throughput and latency. Runs a real origin (scripts' fixture: origin/internal/originbench) on the
# embedded catalog and on PostgreSQL, each seeded with BENCH_ASSETS assets and BENCH_STORES x BENCH_PER_STORE
# enrolled devices, and drives it from other processes:
#   - no-change syncs of random devices with wrk, side by side with a minimal Go JSON server under the same load;
#   - delta syncs (BENCH_CHANGED changed assets out of BENCH_ASSETS) and full manifests, one at a time, gzip on the
#     wire, each answer's signatures verified as a device does.
# Prints a markdown section. Everything listens on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${BENCH_DURATION:-10s}
CONN=${BENCH_CONNECTIONS:-256}
ASSETS=${BENCH_ASSETS:-100000}
CHANGED=${BENCH_CHANGED:-100}
STORES=${BENCH_STORES:-20}
PER_STORE=${BENCH_PER_STORE:-5}
DELTA_RUNS=${BENCH_DELTA_RUNS:-1000}
FULL_RUNS=${BENCH_FULL_RUNS:-5}
PG_ADMIN=${LOMUZ_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
PG_DB="lomuz_bench_$$"

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "## Origin sync"; echo; echo "skipped: wrk is not installed (make test-deps)"; exit 0; }
go build -o "$TMP/originbench" ./origin/internal/originbench

# wrk_rps URL SCRIPT: requests/s, and non-2xx answers (0 when none).
wrk_run() {
  wrk -t2 -c"$CONN" -d"$DUR" -s "$2" "$1" > "$TMP/wrk.out" 2>&1
  awk '/Requests\/sec/ {r=$2} /Non-2xx/ {n=$5} END {printf "%s %s\n", r, (n==""?0:n)}' "$TMP/wrk.out"
}

# Baseline: a minimal Go JSON server, the same Lua script (it ignores auth and body).
"$TMP/originbench" hello --port-file "$TMP/hello.addr" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$TMP/hello.addr" ] && break; sleep 0.1; done

declare -A R
run_backend() { # NAME [--postgres URL]
  local name=$1; shift
  local dir="$TMP/$name"
  mkdir -p "$dir"
  echo "seeding $name: $ASSETS assets, $((STORES * PER_STORE)) devices" >&2
  "$TMP/originbench" serve --dir "$dir" --assets "$ASSETS" --changed "$CHANGED" --stores "$STORES" \
    --devices-per-store "$PER_STORE" --fixture "$dir/fx.json" --wrk-script "$dir/nc.lua" "$@" 2>"$dir/serve.log" &
  local pid=$!
  PIDS+=($pid)
  for _ in $(seq 1 3600); do
    [ -s "$dir/fx.json" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; return 1; }
    sleep 0.5
  done
  local url
  url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$dir/fx.json")
  read -r R[$name.rps] R[$name.non2xx] < <(wrk_run "$url" "$dir/nc.lua")
  read -r R[hello.$name.rps] _ < <(wrk_run "http://$(cat "$TMP/hello.addr")" "$dir/nc.lua")
  "$TMP/originbench" measure --fixture "$dir/fx.json" --delta-runs "$DELTA_RUNS" --full-runs "$FULL_RUNS" > "$dir/measure.out"
  while read -r k v; do R[$name.$k]=$v; done < "$dir/measure.out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_backend embedded
psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null
PG_URL=$(echo "$PG_ADMIN" | sed "s#/postgres?#/$PG_DB?#")
run_backend postgres --postgres "$PG_URL"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

echo "## Origin sync (scripts/bench.d/11-origin-sync.sh)"
echo
echo "wrk -t2 -c$CONN -d$DUR from a separate process; $ASSETS assets, $((STORES * PER_STORE)) devices in $STORES stores;"
echo "every sync's log row and telemetry are durable before the answer (group commit). Delta and full syncs run one"
echo "at a time with gzip ($DELTA_RUNS deltas, $FULL_RUNS full manifests: that p99 is their maximum); times run until"
echo "the whole answer has arrived. The driver then checks every signature as a"
echo "device does (the device's cost, shown apart)."
echo
echo "| figure | embedded | postgres | target |"
echo "|---|---|---|---|"
echo "| no-change sync, req/s | ${R[embedded.rps]} | ${R[postgres.rps]} | >= 10,000 and >= 0.25x hello-world |"
echo "| hello-world JSON server, same load, req/s (baseline) | ${R[hello.embedded.rps]} | ${R[hello.postgres.rps]} | |"
echo "| no-change / hello-world | $(ratio "${R[embedded.rps]}" "${R[hello.embedded.rps]}") | $(ratio "${R[postgres.rps]}" "${R[hello.postgres.rps]}") | >= 0.25x |"
echo "| non-2xx answers under load | ${R[embedded.non2xx]} | ${R[postgres.non2xx]} | 0 |"
echo "| no-change answer, bytes | ${R[embedded.nochange_wire_bytes]} | ${R[postgres.nochange_wire_bytes]} | tiny |"
echo "| delta sync ($CHANGED of $ASSETS) p50, ms | ${R[embedded.delta_p50_ms]} | ${R[postgres.delta_p50_ms]} | |"
echo "| delta sync p99, ms | ${R[embedded.delta_p99_ms]} | ${R[postgres.delta_p99_ms]} | <= 5 |"
echo "| delta answer on the wire (gzip), bytes | ${R[embedded.delta_wire_bytes]} | ${R[postgres.delta_wire_bytes]} | |"
echo "| bytes per changed entry (gzip, minus the no-change answer) | ${R[embedded.delta_bytes_per_entry]} | ${R[postgres.delta_bytes_per_entry]} | <= 100 |"
echo "| full manifest ($ASSETS assets) p50, ms | ${R[embedded.full_p50_ms]} | ${R[postgres.full_p50_ms]} | |"
echo "| full manifest p99, ms | ${R[embedded.full_p99_ms]} | ${R[postgres.full_p99_ms]} | |"
echo "| full manifest: device's decompress + verify of every signature, ms | ${R[embedded.full_verify_ms]} | ${R[postgres.full_verify_ms]} | |"
echo "| full manifest size, gzip / plain | $(mb "${R[embedded.full_wire_bytes]}") / $(mb "${R[embedded.full_plain_bytes]}") | $(mb "${R[postgres.full_wire_bytes]}") / $(mb "${R[postgres.full_plain_bytes]}") | |"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
