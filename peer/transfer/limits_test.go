package transfer

import (
	"bytes"
	"io"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// The resource manager's per-peer limit on inbound blob streams holds: streams beyond it are refused at once,
// those within it complete.
func TestServeStreamsPerPeerLimit(t *testing.T) {
	const limit = 3
	blob := testBlob(3, 64<<10)
	var open atomic.Int32
	release := make(chan struct{})
	slow := func(sha [32]byte) (io.ReadSeeker, int64, error) {
		open.Add(1)
		<-release
		return bytes.NewReader(blob), int64(len(blob)), nil
	}
	cfg := DefaultConfig()
	cfg.ListenAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.PrivateKey = testKey(1)
	cfg.Open = slow
	cfg.MaxServeStreamsPeer = limit
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli := loopbackHost(t, 2, nil)
	_ = srv.SetAllowed([]string{cli.ID()})
	_ = cli.SetAllowed([]string{srv.ID()})
	_ = cli.AddAddrs(srv.ID(), srv.Addrs(), time.Hour)
	ctx := ctxT(t)
	errs := make(chan error, limit)
	for range limit {
		go func() {
			_, err := cli.Fetch(ctx, srv.ID(), [32]byte{1}, 0, io.Discard, nil)
			errs <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for open.Load() < limit {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d streams reached the server", open.Load(), limit)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	if _, err := cli.Fetch(ctx, srv.ID(), [32]byte{1}, 0, io.Discard, nil); err == nil {
		t.Fatal("a stream beyond the per-peer limit was served")
	}
	if open.Load() != limit {
		t.Fatalf("Open called %d times, want %d", open.Load(), limit)
	}
	close(release)
	for range limit {
		if err := <-errs; err != nil {
			t.Fatalf("stream within the limit: %v", err)
		}
	}
}

// Closing hosts leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		blob := testBlob(4, 1<<20)
		srv, cli := loopbackHost(t, 1, memBlobs(blob)), loopbackHost(t, 2, nil)
		_ = srv.SetAllowed([]string{cli.ID()})
		_ = cli.SetAllowed([]string{srv.ID()})
		_ = cli.AddAddrs(srv.ID(), srv.Addrs(), time.Hour)
		if _, err := cli.Fetch(ctxT(t), srv.ID(), sha(blob), 0, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		cli.Close()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 { // +2: the test's own context timers
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(),
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}
