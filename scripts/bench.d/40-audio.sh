#!/usr/bin/env bash
# Audio engine: decode + resample + gain + limiter + watchdog into the unpaced null sink, as x real time per codec,
# next to beep's decoder alone on the same file (the baseline, measured in the same run). Files are stereo pink
# noise made by ffmpeg at bench time, LOMUZ_BENCH_AUDIO_SECONDS long (default 30); best of BENCH_COUNT runs
# (default 3). Prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${BENCH_COUNT:-3}"
export LOMUZ_BENCH_AUDIO_SECONDS="${LOMUZ_BENCH_AUDIO_SECONDS:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/audio.test"
go test -c -o "$bin" ./player/audio >&2
out="$("$bin" -test.run '^$' -test.bench 'BenchmarkEngine|BenchmarkDecodeOnly' -test.benchtime 1x -test.count "$count" 2>&1)" || {
  echo "$out" >&2
  echo "Benchmark failed; see stderr."
  exit 1
}
# best value of metric $2 for benchmark $1 (GOMAXPROCS suffix dropped)
best() {
  echo "$out" | awk -v name="$1" -v m="$2" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == name { for (i = 2; i <= NF; i++) if ($(i) == m && $(i-1) > b) b = $(i-1) } END { printf "%.0f", b + 0 }'
}
echo "## Audio engine: decode and mix speed"
echo
echo "Stereo pink noise, ${LOMUZ_BENCH_AUDIO_SECONDS} s per file, output 44.1 kHz, best of ${count} runs, one render goroutine."
echo "The engine figure includes everything a store plays through: decoder, resampler (beep quality 4, only for"
echo "48 kHz input; origin's renditions are 44.1 kHz), loudness gain, limiter and silence watchdog. Seconds of audio"
echo "per second of process CPU time (steady on a shared machine; what a device's CPU pays) and per second of wall"
echo "time. Real-time playback needs 1x; the target keeps 10x headroom on this machine for small store devices."
echo
echo "| input | engine, per CPU s | engine, per wall s | beep decoder alone, per CPU s (baseline) | target (engine, CPU) |"
echo "|---|---:|---:|---:|---|"
for c in mp3 vorbis vorbis-48k flac wav; do
  e=$(best "BenchmarkEngine/$c" x_realtime_cpu)
  w=$(best "BenchmarkEngine/$c" x_realtime)
  d=$(best "BenchmarkDecodeOnly/$c" x_realtime_cpu)
  v=$(awk -v e="$e" 'BEGIN { print (e >= 10) ? "met" : "MISSED" }')
  echo "| $c | ${e}x | ${w}x | ${d}x | >= 10x: $v |"
done
