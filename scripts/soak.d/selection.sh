#!/usr/bin/env bash
# Long run of the selection and trusted-time properties: many more random cases than `make test` draws.
# SOAK_CHECKS sets the number of cases per property (default 50,000; about a minute on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
checks=${SOAK_CHECKS:-50000}
go test -count=1 -timeout 60m ./player/trustedtime/ -run 'TestIntervalContainsTrueTime' -rapid.checks="$checks"
go test -count=1 -timeout 60m ./player/schedule/ -run 'TestSelectionMatchesModel' -rapid.checks="$checks"
