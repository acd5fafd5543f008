#!/usr/bin/env bash
# Long simulator campaign: every library scenario over many seeds, then longer swarm runs. Stops at the first
# failing seed and prints the command that reproduces it.
# SIM_SOAK_SEEDS sets the seeds per scenario (default 50).
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${SIM_SOAK_SEEDS:-50}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/lomuz" ./cmd/lomuz
for f in sim/scenarios/*.yaml; do
  for s in $(seq 1 "$seeds"); do
    "$tmp/lomuz" sim --quiet --scenario "$f" --seed "$s" --report "$tmp/report" >"$tmp/out" 2>&1 || {
      cat "$tmp/out"
      echo "FAILED: lomuz sim --scenario $f --seed $s"
      exit 1
    }
  done
  echo "ok $f x $seeds seeds"
done
# The swarm campaign: every fault kind drawn from the seed, SIM_SWARM_SEEDS seeds (default 1,000; make test runs
# 20 in sim.TestSwarmCampaign). Counts the seeds run and the violations, for RELIABILITY.md.
swarm="${SIM_SWARM_SEEDS:-1000}"
start=$(date +%s)
for s in $(seq 1 "$swarm"); do
  "$tmp/lomuz" sim --quiet --scenario sim/scenarios/swarm.yaml --seed "$s" --report "$tmp/report" >"$tmp/out" 2>&1 || {
    cat "$tmp/out"
    echo "FAILED: lomuz sim --scenario sim/scenarios/swarm.yaml --seed $s"
    exit 1
  }
done
echo "ok swarm x $swarm seeds, 0 violations, $(( $(date +%s) - start )) s"
# Longer swarm runs: a simulated day of the week scenario's shape, fewer stores.
sed -e 's/^chaos: .*/chaos: 24h/' -e 's/stores: 20/stores: 4/' -e 's/faults: 400/faults: 60/' \
  sim/scenarios/bench/week.yaml >"$tmp/day.yaml"
for s in $(seq 1 $(( seeds / 10 + 1 ))); do
  "$tmp/lomuz" sim --scenario "$tmp/day.yaml" --seed "$s" --report "$tmp/report" || {
    echo "FAILED: lomuz sim --scenario sim/scenarios/bench/week.yaml (chaos 24h, 4 stores, 60 faults) --seed $s"
    exit 1
  }
done
