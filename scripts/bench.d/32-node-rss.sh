#!/usr/bin/env bash
# Steady-state memory of a whole `lomuz node` process (issue target: <= 64 MB with 10,000 cached assets, null sink),
# next to the same binary with an empty catalog, measured in the same run against a real origin on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(LOMUZ_BENCH_RSS=1 go test -count=1 -timeout 60m -run '^TestBenchNodeRSS$' -v ./node/ 2>&1) || { echo "$out" >&2; exit 1; }
line=$(echo "$out" | grep '^RSS_RESULT' | tail -n 1)
base=$(echo "$line" | sed -E 's/.*baseline_mb=([0-9.]+).*/\1/')
full=$(echo "$line" | sed -E 's/.*full_mb=([0-9.]+).*/\1/')
echo "## Node memory (lomuz node, null sink)"
echo
echo "Peak RSS over 20 s of steady state, after the cache is complete (VmRSS from /proc; the whole process: Go"
echo "runtime, badger, cache index, selector, audio engine)."
echo
echo "| node | RSS (MB) | target |"
echo "|---|---|---|"
echo "| empty catalog (baseline) | $base | |"
echo "| 10,000 cached assets | $full | <= 64 |"
