// Command originbench is the load fixture and driver behind scripts/bench.d/11-origin-sync.sh. It is not part of
// the product: `serve` runs a real origin server over a seeded catalog, `hello` a minimal Go JSON server as the
// baseline, and `measure` drives delta and full syncs from its own process and prints their figures.
//
// It must not be imported and must not listen beyond loopback: every server it starts binds 127.0.0.1 (or the
// address given), and the script stops it by PID. `serve --pprof ADDR` exposes net/http/pprof for profiling.
package main
