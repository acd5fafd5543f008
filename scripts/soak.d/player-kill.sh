#!/usr/bin/env bash
# Long kill -9 campaign for the player's storage: 1,000 SIGKILLs of a child appending proof-of-play events
# (player/store: every event reported persisted must be there after reopen) and 300 of a child downloading through
# a faulty HTTP server on 127.0.0.1 (player/download: the reopened cache may only serve blobs that re-hash
# correctly). LOMUZ_SOAK=1 selects the long counts; each run logs its seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LOMUZ_SOAK=1
go test -count=1 -timeout 30m -v -run '^(TestPlayOutboxSurvivesKill9)$' ./player/store/
go test -count=1 -timeout 30m -v -run '^(TestKill9MidDownload)$' ./player/download/
