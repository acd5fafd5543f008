#!/usr/bin/env bash
# Player database memory: player/store with its small-device options against badger's default sizes, each in its own
# process, holding 10,000 asset records (~600 bytes), 10,000 play-history entries and 1,000 proof-of-play events,
# reopened and fully scanned. Prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/store.test"
go test -c -o "$bin" ./player/store >&2
echo "## Player database: memory with 10,000 assets"
echo
echo "Resident memory of the whole benchmark process: its peak (the write phase included), and after the scan and a"
echo "GC that returns the benchmark's own garbage; the process held the 'before' figure before opening the database."
echo "badger's default sizes are the baseline, measured in the same run. Budget: the whole \`lomuz node\` must stay"
echo "<= 64 MB RSS with 10,000 cached assets."
echo
echo "| options | peak RSS MB | RSS after scan MB | anonymous MB | before Open MB | on disk MB |"
echo "|---|---:|---:|---:|---:|---:|"
for v in tuned badger-sizes; do
  out="$("$bin" -test.run '^$' -test.bench "BenchmarkCatalog10k/$v\$" -test.benchtime 1x 2>&1)" || {
    echo "$out" >&2
    echo "Benchmark failed; see stderr."
    exit 1
  }
  echo "$out" | awk -v v="$v" '/^BenchmarkCatalog10k/ {
    for (i = 2; i <= NF; i++) {
      if ($(i) == "rss-MB") r = $(i-1); if ($(i) == "rss-anon-MB") a = $(i-1)
      if ($(i) == "rss-before-MB") b = $(i-1); if ($(i) == "disk-MB") d = $(i-1); if ($(i) == "rss-peak-MB") p = $(i-1)
    }
    printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", (v == "tuned" ? "player/store defaults" : "badger default sizes (baseline)"), p, r, a, b, d
  }'
done
