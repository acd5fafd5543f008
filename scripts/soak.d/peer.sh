#!/usr/bin/env bash
# Repeats the LAN tests that run real mDNS, memberlist and libp2p in network namespaces, to surface timing flakes
# (discovery rounds, failure detection after a pulled cable, revocation in flight). Needs root.
# PEER_SOAK_COUNT sets the repetitions (default 25; about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${PEER_SOAK_COUNT:-25}
export LOMUZ_REQUIRE_NETNS=1
go test -count="$count" -timeout 60m -run '^(TestLANDiscoveryFindsAndExpires|TestAvahiSeesAnnouncement)$' ./peer/discovery/
go test -count="$count" -timeout 60m -run '^TestLANConvergePartitionHeal$' ./peer/gossip/
go test -count="$count" -timeout 60m -run '^TestLANTransferResumeGateRevoke$' ./peer/transfer/
go test -count="$count" -timeout 60m ./internal/netns/
