#!/usr/bin/env bash
# Store mesh: five `lomuz node` processes in network namespaces behind one uplink to a `lomuz origin` namespace
# (node/mesh_netns_test.go). Reports the uplink amplification of one pull of 20 large files (kernel byte counters of
# the uplink), the time for the mesh to form by mDNS alone, the time for every node to hold every file, the time
# from one node having a changed playlist record to all having it, and from a playlist change to every node holding
# the new record and file; also the uplink bytes per blob byte the nodes count from the cloud, the time for a node to
# get a blob elsewhere after a peer served it bad bytes, and the time from a device's revocation to it being out of
# every gate list and of gossip. Needs root; prints a markdown section.
# BENCH_COUNT sets the passing runs wanted (default 3, at most twice as many attempts); each takes about 2-3 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${BENCH_COUNT:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "## Store mesh: five nodes behind one uplink"
echo
if [ "$(id -u)" != 0 ]; then
  echo "Skipped: needs root to create network namespaces."
  exit 0
fi
go test -c -o "$tmp/node.test" ./node >&2
# Runs until count of them pass, at most twice count attempts: a failed run is reported (its failing line) and its
# figures are not used, since the test writes them only once every check passed.
passed=0 attempts=0 failures=""
while [ "$passed" -lt "$count" ] && [ "$attempts" -lt $((count * 2)) ]; do
  attempts=$((attempts + 1))
  if LOMUZ_MESH_FIGURES="$tmp/run$((passed + 1)).json" "$tmp/node.test" -test.run '^TestMeshNetns$' -test.count 1 \
    >"$tmp/attempt$attempts.log" 2>&1; then
    passed=$((passed + 1))
    continue
  fi
  # The test's own lines first (the failure among them), then the end of the processes' logs it printed.
  grep -E '^[[:space:]]+mesh_[a-z_]+_test\.go:[0-9]+: ' "$tmp/attempt$attempts.log" | grep -v ' log of ' | tail -40 >&2
  tail -50 "$tmp/attempt$attempts.log" >&2
  why="$(grep -E '^[[:space:]]+mesh_[a-z_]+_test\.go:[0-9]+: ' "$tmp/attempt$attempts.log" | grep -v ' log of ' | tail -1 |
    sed -E 's/^[[:space:]]+//')"
  failures="${failures}- attempt ${attempts}: ${why}"$'\n'
done
if [ "$passed" -eq 0 ]; then
  echo "Every run failed:"
  echo
  printf '%s' "$failures"
  exit 1
fi
count=$passed
echo "${count} passing runs of node/TestMeshNetns out of ${attempts} (20 WAV files, 45.9 MB, uploaded untranscoded)."
echo "Amplification = bytes the gateway received on the uplink / unique blob bytes. The baseline is the naive store,"
echo "where each node pulls every file itself: N x the unique bytes (computed from N, not run). The change times are one"
echo "sample per run (a playlist edit synced by one node on request, spread by gossip, its file pulled once and"
echo "shared): with ${count} runs the p99 is the worst run."
if [ -n "$failures" ]; then
  echo
  echo "Failed runs (their figures are not used):"
  echo
  printf '%s' "$failures"
fi
echo
python3 - "$tmp" "$count" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{d}/run{i}.json")) for i in range(1, n + 1)]
def col(k): return [r[k] for r in runs]
amp, formed, held, change = col("amplification"), col("formed_s"), col("held_s"), col("change_s")
N = runs[0]["nodes"]
print("| figure | median | worst | target | baseline (naive) |")
print("|---|---:|---:|---|---:|")
med = lambda v: sorted(v)[len(v) // 2]
print(f"| uplink amplification, one pull | {med(amp):.3f}x | {max(amp):.3f}x | <= 1.02x | {N}x |")
print(f"| new nodes discovered (all {N} see all), s | {med(formed):.2f} | {max(formed):.2f} | <= 5 | - |")
print(f"| all files on all nodes, s | {med(held):.1f} | {max(held):.1f} | - | - |")
spread = col("record_spread_s")
print(f"| catalog change: first node has the record -> all {N} have it, s | {med(spread):.2f} | {max(spread):.2f} | p99 <= 2 | - |")
print(f"| catalog change -> all nodes hold it and its file (one node asked to sync), s | {med(change):.1f} | {max(change):.1f} | - | - |")
per, bad, out = col("uplink_per_counted_byte"), col("corrupt_peer_s"), col("revoked_out_s")
print(f"| uplink bytes / blob bytes the nodes count from the cloud | {med(per):.4f} | {max(per):.4f} | - | - |")
print(f"| peer served bad bytes -> blob from another peer (from the restart), s | {med(bad):.1f} | {max(bad):.1f} | - | - |")
print(f"| device revoked -> out of every gate list and of gossip (one node asked to sync; key grace {runs[0]['key_grace_s']:.0f} s), s | {med(out):.1f} | {max(out):.1f} | - | - |")
PY
