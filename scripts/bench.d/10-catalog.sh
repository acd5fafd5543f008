#!/usr/bin/env bash
# Catalog storage benchmarks (origin/catalog): the PostgreSQL and embedded backends under the same Go benchmarks
# (catalogtest.Bench), each next to its own baseline measured in the same run: one `SELECT 1` round trip on the
# same pool for PostgreSQL, one badger Get for embedded. Prints a markdown section.
# CATALOG_BENCHTIME (default 2s) sets -benchtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! go test -run '^$' -bench '^BenchmarkCatalog$' -benchtime "${CATALOG_BENCHTIME:-2s}" -timeout 30m -v \
  ./origin/catalog/pgstore ./origin/catalog/embedded >"$out" 2>&1; then
  cat "$out" >&2
  echo "catalog benchmarks failed" >&2
  exit 1
fi

echo "## Catalog storage (origin/catalog)"
echo
echo "One tenant with 100,000 asset records (~420-byte bodies, 64-byte signatures), loaded 1,000 per transaction;"
echo "then 100 of them change. Parallel benchmarks use GOMAXPROCS goroutines. Figures are wall-clock on a shared"
echo "machine: compare each with its baseline from the same run."
echo
awk '
/^pkg: / { pkg = ($2 ~ /pgstore$/) ? "PostgreSQL" : "embedded (badger)" }
/loaded [0-9]+ records in/ { for (i = 1; i <= NF; i++) if ($i ~ /^\(/) { rate[pkg] = substr($i, 2) } }
/^BenchmarkCatalog\/[A-Za-z0-9]+-[0-9]+ / {
  name = $1; sub(/^BenchmarkCatalog\//, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 3; i < NF; i += 2) v[pkg, name, $(i + 1)] = $i
  seen[pkg] = 1
}
function persec(ns) { return ns > 0 ? sprintf("%.0f/s", 1e9 / ns) : "-" }
function ms(ns) { return sprintf("%.2f ms", ns / 1e6) }
END {
  print "| backend | measure | result | target | baseline (same run) |"
  print "|---|---|---|---|---|"
  n = split("PostgreSQL|embedded (badger)", backends, "|")
  for (k = 1; k <= n; k++) {
    b = backends[k]
    if (!seen[b]) { printf "| %s | not measured (backend unavailable) | | | |\n", b; continue }
    base = v[b, "Baseline", "ns/op"]
    basetxt = (b == "PostgreSQL" ? "SELECT 1: " : "one Get: ") persec(base)
    printf "| %s | no-change sync lookup (DeviceSyncState, one read) | %s | >= 20,000/s | %s |\n", b, persec(v[b, "NoChangeSync", "ns/op"]), basetxt
    printf "| %s | no-change sync as two reads (credential, then state) | %s | - | %s |\n", b, persec(v[b, "NoChangeSyncTwoReads", "ns/op"]), basetxt
    printf "| %s | RecordsSince, 100 changed of 100,000 | mean %s, p99 %.2f ms | p99 <= 2 ms | %s |\n", b, ms(v[b, "RecordsSince100of100000", "ns/op"]), v[b, "RecordsSince100of100000", "p99-ms"], basetxt
    printf "| %s | LiveRecords, all 100,000 (pages of 10,000) | mean %s, p99 %.0f ms | p99 <= 1,000 ms | %s |\n", b, ms(v[b, "LiveRecords100000", "ns/op"]), v[b, "LiveRecords100000", "p99-ms"], basetxt
    printf "| %s | writes, 100 records per transaction | %.0f records/s | >= 1,000 records/s | load of 100,000: %s records/s |\n", b, v[b, "Write100", "records/s"], rate[b]
    if (v[b, "PeakRSS", "peak-rss-MB"] != "")
      printf "| %s | memory of the process holding 100,000 records: anonymous RSS at the end (peak RSS incl. mapped tables) | %.0f MB (%.0f MB) | anonymous <= 128 MB | - |\n", b, v[b, "PeakRSS", "anon-rss-MB"], v[b, "PeakRSS", "peak-rss-MB"]
  }
}' "$out"
