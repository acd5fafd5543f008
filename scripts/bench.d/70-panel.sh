#!/usr/bin/env bash
# Director's panel (origin/panel) at the usability target: one tenant of 50,000 ready assets and 1,000 enrolled
# devices (100 stores), each having synced and reported a play. Every page is fetched over HTTP from a real origin
# (embedded catalog) with a signed-in session, next to the baseline measured in the same run: the raw admin API
# call listing one page of 50 assets. Prints a markdown section. PANEL_BENCHTIME (default 5x) sets -benchtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! go test -run '^$' -bench '^(BenchmarkPanel|BenchmarkLibrarySearchPostgres)$' -benchtime "${PANEL_BENCHTIME:-5x}" -benchmem -timeout 20m \
  ./origin/panel >"$out" 2>&1; then
  cat "$out" >&2
  echo "panel benchmarks failed" >&2
  exit 1
fi

echo "## Director's panel (origin/panel)"
echo
echo "50,000 assets, 1,000 devices in 100 stores; pages of 50 rows. Wall-clock per page on a shared 2-core machine,"
echo "server and client in one process, on the embedded catalog; rows marked PostgreSQL are the library on"
echo "PostgreSQL's catalog (same 50,000 assets, no devices). Library search is origin's (GET /v1/assets?q=): a"
echo "trigram index on PostgreSQL, a scan bounded per call on the embedded catalog. The preview reads only the assets"
echo "of the playlists the zone's schedules name (100 ids per API call), and the emergency-eligible ones only when its"
echo "plan falls back; here one playlist, no fallback."
echo
awk '
/^Benchmark(Panel|LibrarySearchPostgres)\/[A-Za-z0-9_]+-[0-9]+ / {
  name = $1; pg = (name ~ /^BenchmarkLibrarySearchPostgres/)
  sub(/^Benchmark[A-Za-z]+\//, "", name); sub(/-[0-9]+$/, "", name)
  if (pg) name = "PostgreSQL " name
  ns[name] = $3; mem[name] = $5
  order[++n] = name
}
function ms(v) { return sprintf("%.1f ms", v / 1e6) }
END {
  target["LibraryPage"] = 200e6; target["FleetPage"] = 200e6; target["FleetSearch"] = 200e6
  target["Alerts"] = 500e6; target["LibrarySearchHit"] = 3e9; target["LibrarySearchMiss"] = 3e9
  target["Preview3h"] = 3e9
  target["PostgreSQL LibrarySearchHit"] = 3e9; target["PostgreSQL LibrarySearchMiss"] = 3e9
  target["PostgreSQL LibraryPage"] = 200e6
  print "| page | time per page | allocated per page | target | baseline: API page of 50 assets (same run) |"
  print "|---|---|---|---|---|"
  base = ns["Baseline_APIAssetsPage"]
  for (i = 1; i <= n; i++) {
    k = order[i]
    if (k ~ /Baseline_APIAssetsPage$/) continue
    t = (k in target) ? "<= " ms(target[k]) : "-"
    ok = (k in target && ns[k] > target[k]) ? " (over)" : ""
    b = (k ~ /^PostgreSQL /) ? ns["PostgreSQL Baseline_APIAssetsPage"] : base
    printf "| %s | %s%s | %.1f MB | %s | %s |\n", k, ms(ns[k]), ok, mem[k] / 1e6, t, ms(b)
  }
}' "$out"
echo
