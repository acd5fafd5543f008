#!/usr/bin/env bash
# Origin under load with faults, long form: two `lomuz origin` replicas on a private PostgreSQL, a `lomuz loadgen`
# process (24 devices) against both for LOMUZ_FAULT_DURATION (default 5m), and every 15 s a PostgreSQL restart
# (fast and crash-recovery in turn), a SIGKILL of one replica and its restart. Every acknowledged play event must be
# stored and no device's sync or upload may fail on both replicas. The loadgen result is kept in
# ${LOMUZ_FAULT_RESULT:-out/origin-faults.json} for RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p out
export LOMUZ_FAULT_RESULT=${LOMUZ_FAULT_RESULT:-$PWD/out/origin-faults.json}
LOMUZ_SOAK=1 go test -count=1 -timeout 120m -v -run '^TestOriginUnderFaults$' ./origin/
