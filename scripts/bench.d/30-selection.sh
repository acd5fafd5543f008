#!/usr/bin/env bash
# Next-track selection: Lomuz's selector with every rule on (schedule, day-parts, artist separation, spots) over
# 100,000 assets in 100 playlists, against the seed proposal's SQL (its section 3.2) on SQLite over the same catalog,
# as written (expiry UPDATE on every call, no index) and with the best indexes and no per-call UPDATE.
# Targets: Lomuz p99 <= 20 us; >= 100x faster than the first; faster than the second. Prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS_LOMUZ=${CALLS_LOMUZ:-200000}
CALLS_SEED=${CALLS_SEED:-200}
CALLS_INDEXED=${CALLS_INDEXED:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test ./player/schedule/ -run '^$' -bench '^BenchmarkNext$' -benchtime "${CALLS_LOMUZ}x" -count 1 >"$tmp/lomuz.txt"
line=$(grep '^BenchmarkNext' "$tmp/lomuz.txt")
metric() { awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}' <<<"$line"; }
l_p50=$(metric p50-ns); l_p99=$(metric p99-ns); l_mean=$(metric ns/op); l_spot=$(metric %spot)

# -mod=mod: the main module gains dependencies over time; let the benchmark module record their sums itself.
(cd bench/selectsql && go build -mod=mod -o "$tmp/selectsql" .)
mkdir "$tmp/seed" "$tmp/indexed"
"$tmp/selectsql" -variant seed -calls "$CALLS_SEED" -dir "$tmp/seed" >"$tmp/seed.txt"
"$tmp/selectsql" -variant indexed -calls "$CALLS_INDEXED" -dir "$tmp/indexed" >"$tmp/indexed.txt"
"$tmp/selectsql" -variant indexed -calls "$CALLS_INDEXED" -memory >"$tmp/indexed-mem.txt"
field() { sed 's/ plan=.*//' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
plan() { sed 's/.*plan="\(.*\)"/\1/' "$1"; }
us() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0fx", a / b}'; }
verdict() { awk -v c="$1" 'BEGIN {print (c ? "met" : "**missed**")}'; }

echo "## Next-track selection (100,000 assets, 100 playlists)"
echo
echo "Each call is one track boundary while virtual time advances by each track's length (day-parts, DST-aware"
echo "schedules, spots every 4 tracks / 15 minutes / full hours, windows opening and expiring, 95% of blobs present)."
echo "Lomuz: \`schedule.Selector\` Next + Played, $CALLS_LOMUZ calls, every rule on ($l_spot% of plays were spots)."
echo "SQLite (modernc.org/sqlite, pure Go, \`bench/selectsql\`): the seed's statements, plus the last_played UPDATE;"
echo "the current playlist is resolved outside the timed part, and no spots or artist separation are done."
echo
echo "| variant | calls | p50 (us) | p99 (us) | mean (us) | SELECTs alone p99 (us) |"
echo "|---|---|---|---|---|---|"
echo "| Lomuz selector, all rules | $CALLS_LOMUZ | $(us "$l_p50") | $(us "$l_p99") | $(us "$l_mean") | - |"
for f in seed indexed indexed-mem; do
  echo "| SQLite $(field "$tmp/$f.txt" variant), $(field "$tmp/$f.txt" storage) | $(field "$tmp/$f.txt" calls) |" \
    "$(us "$(field "$tmp/$f.txt" p50_ns)") | $(us "$(field "$tmp/$f.txt" p99_ns)") |" \
    "$(us "$(field "$tmp/$f.txt" mean_ns)") | $(us "$(field "$tmp/$f.txt" select_p99_ns)") |"
done
s_p99=$(field "$tmp/seed.txt" p99_ns); i_p99=$(field "$tmp/indexed.txt" p99_ns); m_p99=$(field "$tmp/indexed-mem.txt" p99_ns)
i_p50=$(field "$tmp/indexed.txt" p50_ns); m_sel=$(field "$tmp/indexed-mem.txt" select_p50_ns)
echo
echo "| target | measured | verdict |"
echo "|---|---|---|"
echo "| Lomuz p99 <= 20 us | $(us "$l_p99") us | $(verdict "$(awk -v p="$l_p99" 'BEGIN {print (p <= 20000)}')") |"
echo "| >= 100x faster than the seed's SQL (p99) | $(ratio "$s_p99" "$l_p99") | $(verdict "$(awk -v a="$s_p99" -v b="$l_p99" 'BEGIN {print (a >= 100 * b)}')") |"
echo "| faster than indexed SQL, WAL file (p99) | $(ratio "$i_p99" "$l_p99") (p50: $(ratio "$i_p50" "$l_p50")) | $(verdict "$(awk -v a="$i_p99" -v b="$l_p99" 'BEGIN {print (a > b)}')") |"
echo "| faster than indexed SQL in memory, SELECTs alone (p50) | $(ratio "$m_sel" "$l_p50") | $(verdict "$(awk -v a="$m_sel" -v b="$l_p50" 'BEGIN {print (a > b)}')") |"
echo
echo "Query plans: seed \`$(plan "$tmp/seed.txt")\`; indexed \`$(plan "$tmp/indexed.txt")\`."
