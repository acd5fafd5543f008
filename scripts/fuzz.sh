#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each (default 30s), then prints one line per target:
# executions, new corpus entries, and whether it failed. LOMUZ_FUZZ_TALLY names a file a target may append one
# byte to per execution, for an exact count. Crashers land in testdata/fuzz of the package, where `go
# test` keeps running them as regression cases.
#
# Targets are found by reading the test files (`func FuzzX(f *testing.F)`), not by `go test -list`, so a target in
# a package whose tests do not build fails the run instead of being skipped. Optional second argument: a regexp
# that selects packages (e.g. `./origin$`).
set -uo pipefail
cd "$(dirname "$0")/.."
t=${1:-30s}
only=${2:-}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
summary=()
failed=0
for dir in $(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | xargs -n1 dirname | sort -u); do
  pkg=./${dir#./}
  if [ -n "$only" ] && ! [[ $pkg =~ $only ]]; then continue; fi
  for f in $(grep -h -o -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "$dir"/*_test.go | sed -E 's/^func ([A-Za-z0-9_]*).*/\1/' | sort -u); do
    echo "== $pkg $f ($t)"
    out=$log/$f.log
    tally=$log/$f.tally
    before=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null | wc -l)
    LOMUZ_FUZZ_TALLY=$tally go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" 2>&1 | tee "$out" | tail -n 3
    rc=${PIPESTATUS[0]}
    # Go 1.26's fuzz coordinator can fail a run with a bare "context deadline exceeded" when -fuzztime ends while a
    # worker is busy (golang/go#75804, fixed in Go 1.27): no crasher is written. Such a run counts as passed once
    # the corpus replays clean.
    after=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null | wc -l)
    race=""
    if [ "$rc" -ne 0 ] && [ "$after" -eq "$before" ] && grep -q '^    context deadline exceeded$' "$out" &&
      go test -count=1 -run "^$f\$" "$pkg" >/dev/null 2>&1; then
      rc=0
      race=" (deadline race at the end, golang/go#75804; corpus replays clean)"
    fi
    # The last progress line holds the totals: "fuzz: elapsed: 30s, execs: 123 (4/sec), new interesting: 5 (total: 9)".
    last=$(grep -E '^fuzz: elapsed: .*execs: ' "$out" | tail -n 1)
    execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
    # Targets that tally their executions themselves (LOMUZ_FUZZ_TALLY, one byte each) give the exact count; go
    # test's leaves out each worker's batch still running at the deadline.
    if [ -s "$tally" ]; then execs=$(stat -c %s "$tally"); fi
    newc=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
    status=ok
    if [ "$rc" -ne 0 ]; then status=FAIL; failed=1; fi
    summary+=("$(printf '%-10s %-32s %-28s execs %-10s new %-5s %s' "$t" "$f" "$pkg" "${execs:-?}" "${newc:-?}" "$status$race")")
  done
done
echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
