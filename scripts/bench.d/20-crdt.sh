#!/usr/bin/env bash
# crdt: merge, delta sizes, codec throughput, play-log append+prune, inventory size. Runs the Go benchmarks of
# package crdt (crdt/bench_test.go) and prints a markdown section: each figure next to its target and a baseline
# measured in the same run (a plain map merge, the changed records' own bytes, encoding/json).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench . -benchtime "${CRDT_BENCHTIME:-3x}" -benchmem ./crdt/)
echo "$out" | grep -q '^ok' || { echo "$out" >&2; exit 1; }
echo "$out" | awk '
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  for (i = 3; i < NF; i += 2) v[name "|" $(i+1)] = $i
}
function ms(n)  { return sprintf("%.1f ms", v[n "|ns/op"] / 1e6) }
function us(n)  { return sprintf("%.1f µs", v[n "|ns/op"] / 1e3) }
function get(n, u) { return v[n "|" u] }
function ok(c) { return c ? "yes" : "**no**" }
END {
  print "## crdt"
  print ""
  print "Store state CRDTs (package `crdt`). Sizes are exact; times are on a shared 2-core machine, so compare each with its"
  print "baseline from the same run. Records carry a ~300-byte asset body and a 64-byte signature."
  print ""
  print "| measure | value | target | met | baseline (same run) |"
  print "|---|---|---|---|---|"
  d1 = get("DeltaOneChange100k", "delta-bytes")
  printf "| delta after 1 change, 100,000-record catalog | %d B (summary %d B) | < 1,024 B | %s | the record alone: %d B |\n", d1, get("DeltaOneChange100k", "summary-bytes"), ok(d1 < 1024), get("DeltaOneChange100k", "record-bytes")
  r = get("DeltaOffline1Pct100k", "ratio")
  printf "| delta after offline while 1%% of 100,000 changed | %d B (%.3fx) | <= 2x changed bytes | %s | changed records: %d B |\n", get("DeltaOffline1Pct100k", "delta-bytes"), r, ok(r <= 2), get("DeltaOffline1Pct100k", "changed-bytes")
  printf "| compute that delta (100,000 records, revision index) | %s | < 1 ms | %s | — |\n", us("DeltaOneChange100k"), ok(v["DeltaOneChange100k|ns/op"] < 1e6)
  printf "| merge two 10,000-record catalogs (5,000 newer) | %s | < 100 ms | %s | plain map merge: %s |\n", ms("CatalogMerge10k"), ok(v["CatalogMerge10k|ns/op"] < 1e8), ms("BaselineMapMerge10k")
  printf "| same, verifying every record with ed25519 | %s | — | — | — |\n", ms("CatalogMerge10kEd25519")
  printf "| encode delta (10k records, 5x2k blobs, 500 plays) | %s MB/s | >= 50 MB/s | %s | encoding/json: %s MB/s |\n", get("EncodeDelta", "MB/s"), ok(get("EncodeDelta", "MB/s") >= 50), get("BaselineJSONEncode", "MB/s")
  printf "| decode + validate the same | %s MB/s | >= 20 MB/s | %s | encoding/json: %s MB/s |\n", get("DecodeDelta", "MB/s"), ok(get("DecodeDelta", "MB/s") >= 20), get("BaselineJSONDecode", "MB/s")
  printf "| binary size vs encoding/json | 1 : %.2f | smaller | %s | — |\n", get("BaselineJSONEncode", "size-vs-binary"), ok(get("BaselineJSONEncode", "size-vs-binary") > 1)
  printf "| play-log append + prune, per event | %s, %d allocs | < 50 µs | %s | — |\n", us("PlayAppendPrune"), get("PlayAppendPrune", "allocs/op"), ok(v["PlayAppendPrune|ns/op"] < 5e4)
  printf "| inventory 10,000 blobs x 50 nodes: full state | %.1f MB encoded, %.0f MB heap | < 8 MiB encoded (push/pull limit) | %s | a 32-byte hash per item: 16.0 MB |\n", get("Inventory10kx50", "full-MB"), get("Inventory10kx50", "heap-MB"), ok(get("Inventory10kx50", "full-MB") < 8.38)
  printf "| inventory: delta after one blob change | %d B | < 1,024 B | %s | — |\n", get("Inventory10kx50", "delta-bytes"), ok(get("Inventory10kx50", "delta-bytes") < 1024)
}'
