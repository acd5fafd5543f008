#!/usr/bin/env bash
# Audio engine campaign: fuzz the decoders through the engine's header checks for SOAK_AUDIO_FUZZTIME (default
# 10m), then repeat the playlist, fault and control tests SOAK_AUDIO_COUNT times (default 20) to flush out
# scheduling-dependent behaviour. Runs from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$(go env GOPATH)/bin:$PATH"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${SOAK_AUDIO_FUZZTIME:-10m}" ./player/audio
go test -count "${SOAK_AUDIO_COUNT:-20}" -timeout 2h \
  -run 'TestNullSinkTenMinutePlaylist|TestBadFilesDoNotStopPlayback|TestPlayAndStop|TestPlayThenPrepareInOneBatch|TestCrossfadeLength|TestWatchdog' \
  ./player/audio
