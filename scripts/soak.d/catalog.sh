#!/usr/bin/env bash
# Catalog soak: repeats the concurrency subtests of the catalog conformance suite (delta sync under concurrent
# writes, concurrent writers' revisions, duplicate play batches, telemetry racing revocation) on both backends, with
# the race detector. CATALOG_SOAK_COUNT (default 30) sets the repetitions; each run uses fresh stores.
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${CATALOG_SOAK_COUNT:-30}"
echo "catalog soak: ${count} rounds per backend"
go test -race -count "$count" -timeout 60m \
  -run 'TestConformance/(DeltaSyncUnderWrites|RevisionsConcurrentWriters|PlayEventsConcurrentDuplicates|TelemetryKeepsRevocation|StateHash)$' \
  ./origin/catalog/embedded ./origin/catalog/pgstore
