#!/usr/bin/env bash
# Store mesh: five `lomuz node` processes in network namespaces behind one uplink to a `lomuz origin` namespace
# (node/mesh_netns_test.go). Reports the uplink amplification of one pull of 20 large files (kernel byte counters of
# the uplink), the time for the mesh to form by mDNS alone, the time for every node to hold every file, the time
# from one node having a changed playlist record to all having it, and from a playlist change to every node holding
# the new record and file; also the uplink bytes per blob byte the
# nodes count from the cloud, the time for a node to get a blob elsewhere after a peer served it bad bytes, and the
# time from a device's revocation to it being out of every gate list and of gossip. Needs root; prints a markdown
# section.
# BENCH_COUNT sets the runs (default 3); each takes about 4 minutes.
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
for i in $(seq 1 "$count"); do
  LOMUZ_MESH_FIGURES="$tmp/run$i.json" "$tmp/node.test" -test.run '^TestMeshNetns$' -test.count 1 >"$tmp/run$i.log" 2>&1 || {
    # The test's own lines first (the failure among them), then the end of the processes' logs it printed.
    grep -E '^[[:space:]]+mesh_[a-z_]+_test\.go:[0-9]+: ' "$tmp/run$i.log" | grep -v ' log of ' | tail -40 >&2
    tail -50 "$tmp/run$i.log" >&2
    echo "Run $i failed; see stderr."
    exit 1
  }
done
echo "${count} runs of node/TestMeshNetns (20 WAV files, 45.9 MB, uploaded untranscoded). Amplification = bytes the"
echo "gateway received on the uplink / unique blob bytes. The baseline is the naive store, where each node pulls every"
echo "file itself: N x the unique bytes (computed from N, not run). The change time is one sample per run (a playlist"
echo "edit fetched by one rebooting node, spread by gossip, its file pulled once and shared): with ${count} runs the"
echo "p99 is the worst run."
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
print(f"| catalog change -> all nodes hold it and its file (from a reboot to sync it), s | {med(change):.1f} | {max(change):.1f} | - | - |")
per, bad, out = col("uplink_per_counted_byte"), col("corrupt_peer_s"), col("revoked_out_s")
print(f"| uplink bytes / blob bytes the nodes count from the cloud | {med(per):.4f} | {max(per):.4f} | - | - |")
print(f"| peer served bad bytes -> blob from another peer (from the restart), s | {med(bad):.1f} | {max(bad):.1f} | - | - |")
print(f"| device revoked -> out of every gate list and of gossip (one node rebooted to sync; key grace {runs[0]['key_grace_s']:.0f} s), s | {med(out):.1f} | {max(out):.1f} | - | - |")
PY
