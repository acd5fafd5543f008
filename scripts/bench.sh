#!/usr/bin/env bash
# Prints BENCHMARKS.md: the machine and date, then the markdown that each scripts/bench.d/*.sh prints, in name order.
# Each section measures its subject and a baseline in the same run, so a noisy shared machine moves both together.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
echo "# Lomuz benchmarks"
echo
echo "Written by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
echo
echo "- machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "- cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- go: $(go version | awk '{print $3}')"
echo
# A section that fails is reported in place and the others still run: one broken benchmark must not hide the rest.
failed=()
for s in scripts/bench.d/*.sh; do
  [ -e "$s" ] || continue
  echo "running $s" >&2
  if ! "$s"; then
    failed+=("$s")
    echo "## $(basename "$s" .sh): failed"
    echo
    echo "This section's script exited with an error in this run; its figures are missing (see the run's stderr)."
  fi
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed sections: ${failed[*]}" >&2
fi
