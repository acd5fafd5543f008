#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each (default 30s). Crashers land in testdata/fuzz of the
# package, where `go test` keeps running them as regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-30s}
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
  done
done
