#!/usr/bin/env bash
# Kill -9 campaign for a whole node: 1,000 SIGKILLs of a real `lomuz node` process at random points of its downloads
# and playback, restarted on the same data each time; the installed blobs must all verify after every kill and
# origin must end up with every persisted play event, numbered without a gap. The test logs its seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOMUZ_SOAK=1 go test -count=1 -timeout 120m -v -run '^TestNodeSurvivesKill9$' ./node/
