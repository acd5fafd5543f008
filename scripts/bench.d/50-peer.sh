#!/usr/bin/env bash
# Peer bulk transfer: a libp2p blob fetch (peer/transfer) against a plain HTTPS GET (Go net/http, TLS 1.3,
# self-signed certificate) of the same file, between the same two network namespaces over one veth, unshaped and
# shaped to 1 Gbit/s with tc. Needs root (network namespaces); prints a markdown section.
# LOMUZ_BENCH_BYTES sets the file size (default 256 MiB); BENCH_COUNT the transfers per variant (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${BENCH_COUNT:-3}"
tmp="$(mktemp -d)"
bin="$tmp/transfer.test"
trap 'rm -rf "$tmp"' EXIT
echo "## Peer transfer: libp2p vs HTTPS between two namespaces"
echo
if [ "$(id -u)" != 0 ]; then
  echo "Skipped: needs root to create network namespaces."
  exit 0
fi
go test -c -o "$bin" ./peer/transfer >&2
out="$("$bin" -test.run '^$' -test.bench BenchmarkLANThroughput -test.benchtime "${count}x" -test.count 1 2>&1)" || {
  echo "$out" >&2
  echo "Benchmark failed; see stderr."
  exit 1
}
size=$(( ${LOMUZ_BENCH_BYTES:-268435456} / 1048576 ))
echo "One ${size} MiB blob, ${count} transfers per variant after a warm-up, one stream. CPU is user+system of both"
echo "processes (server and client) per GB moved. Targets (1 Gbit/s link): libp2p >= 0.9x HTTPS throughput,"
echo "<= 1.5x its CPU per GB. The HTTPS row of each link is the baseline, measured in the same run."
echo
echo "$out" | awk '
  /^BenchmarkLANThroughput\// {
    split($1, p, "/"); link = p[2]; v = p[3]; sub(/-[0-9]+$/, "", v)
    for (i = 2; i <= NF; i++) { if ($(i) == "MB/s") mbs = $(i-1); if ($(i) == "cpu-s/GB") cpu = $(i-1) }
    key = link "/" v; MB[key] = mbs; CPU[key] = cpu
    if (!(link in seenl)) { seenl[link] = 1; links[++nl] = link }
    if (!(v in seenv)) { seenv[v] = 1; vars[++nv] = v }
  }
  END {
    print "| link | transport | MB/s | Gbit/s | CPU s/GB | throughput vs HTTPS | CPU vs HTTPS | target |"
    print "|---|---|---:|---:|---:|---:|---:|---|"
    for (i = 1; i <= nl; i++) for (j = 1; j <= nv; j++) {
      l = links[i]; v = vars[j]; k = l "/" v; b = l "/https"
      if (!(k in MB)) continue
      tr = MB[k] / MB[b]; cr = CPU[k] / CPU[b]
      tgt = "baseline"
      if (v != "https") {
        tgt = (l == "1gbit") ? sprintf("%s / %s", (tr >= 0.9 ? "met" : "MISSED"), (cr <= 1.5 ? "met" : "MISSED")) : "(no target)"
      }
      printf "| %s | %s | %.0f | %.2f | %.2f | %.2fx | %.2fx | %s |\n", l, v, MB[k], MB[k] * 8 / 1000, CPU[k], tr, cr, tgt
    }
  }'

echo
echo "### Peer discovery: a new node on the store bridge"
echo
go test -c -o "$tmp/discovery.test" ./peer/discovery >&2
dout="$("$tmp/discovery.test" -test.run '^$' -test.bench BenchmarkDiscoverNewNode -test.benchtime 5x -test.count 1 2>&1)" || {
  echo "$dout" >&2
  echo "Benchmark failed; see stderr."
  exit 1
}
echo "Default timings (listening all the time, a query every 4 s); each new node starts at a random phase of the"
echo "others' rounds. From the new node's start until both nodes already on the bridge list it and it lists them;"
echo "5 new nodes in turn. The baseline is the browse interval: what waiting for the next query would cost."
echo
echo "$dout" | awk '
  /^BenchmarkDiscoverNewNode/ {
    for (i = 2; i <= NF; i++) { if ($(i) == "ns/op") mean = $(i-1) / 1e9; if ($(i) == "worst-s") worst = $(i-1) }
  }
  END {
    print "| figure | value | target |"
    print "|---|---:|---|"
    printf "| mean time to discovery | %.2f s | <= 5 s: %s |\n", mean, (mean <= 5 ? "met" : "MISSED")
    printf "| worst time to discovery | %.2f s | <= 5 s: %s |\n", worst, (worst <= 5 ? "met" : "MISSED")
    print "| browse interval (baseline) | 4.00 s | |"
  }'

echo
echo "### Peer gossip: a broadcast reaching 5 nodes"
echo
go test -c -o "$tmp/gossip.test" ./peer/gossip >&2
gout="$("$tmp/gossip.test" -test.run '^$' -test.bench BenchmarkLANBroadcastConvergence -test.benchtime 100x -test.count 1 2>&1)" || {
  echo "$gout" >&2
  echo "Benchmark failed; see stderr."
  exit 1
}
echo "Default memberlist LAN timings, 5 nodes in 5 namespaces on one bridge, 100 broadcasts from each node in turn;"
echo "time from Broadcast until the last of the other 4 delivered it (receivers forward each message once). The"
echo "mesh target (catalog change converged on 5 nodes, p99 <= 2 s) includes the node's own work on top of this;"
echo "the baseline is one gossip interval."
echo
echo "$gout" | awk '
  /^BenchmarkLANBroadcastConvergence/ {
    for (i = 2; i <= NF; i++) {
      if ($(i) == "p50-ms") p50 = $(i-1); if ($(i) == "max-ms") mx = $(i-1); if ($(i) == "missed") miss = $(i-1)
    }
  }
  END {
    print "| figure | value | target |"
    print "|---|---:|---|"
    printf "| median to all 5 | %.0f ms | |\n", p50
    printf "| worst of those that arrived (>= p99) | %.0f ms | <= 2,000 ms for the whole catalog change: %s |\n", mx, (mx <= 2000 ? "met" : "MISSED")
    printf "| not on every node within 5 s (left to push/pull) | %d of 100 | 0 |\n", miss
    print "| gossip interval (baseline) | 200 ms | |"
  }'
