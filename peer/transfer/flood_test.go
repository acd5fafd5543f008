package transfer

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// One admitted peer floods a host with blob streams: garbage requests, valid requests reset at once, and requests
// cut short and left open (slowloris), from many goroutines. While it does, the host holds at most its per-peer
// stream limit open for that peer, its goroutines and heap stay bounded, and another peer's fetch of a 4 MiB blob
// completes with the right bytes.
func TestStreamFloodFromOnePeer(t *testing.T) {
	blob := testBlob(7, 4<<20)
	// The host and the legitimate peer run production settings (loopbackHost's 2 s stall timeout is for tests of
	// stalls, and a loaded machine under a flood can pause a stream that long), except a shorter request timeout,
	// after which a slowloris stream is dropped.
	newHost := func(seed byte, open OpenFunc) *Host {
		cfg := DefaultConfig()
		cfg.ListenAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
		cfg.PrivateKey, cfg.Open, cfg.RequestTimeout = testKey(seed), open, time.Second
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	srv, legit, attacker := newHost(1, memBlobs(blob)), newHost(3, nil), loopbackHost(t, 2, nil)
	cfg := DefaultConfig()
	_ = srv.SetAllowed([]string{attacker.ID(), legit.ID()})
	for _, c := range []*Host{attacker, legit} {
		_ = c.SetAllowed([]string{srv.ID()})
		_ = c.AddAddrs(srv.ID(), srv.Addrs(), time.Hour)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Connect both first, so the baseline counts their connections' goroutines.
	if _, err := legit.Fetch(ctx, srv.ID(), sha(blob), int64(len(blob))-1, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := attacker.Fetch(ctx, srv.ID(), sha(blob), int64(len(blob))-1, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	quiet := time.Now()
	if _, err := legit.Fetch(ctx, srv.ID(), sha(blob), 0, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	quietTook := time.Since(quiet)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseG := ms.HeapInuse, runtime.NumGoroutine()

	const workers, perWorker = 32, 15
	var opened, refused atomic.Int64
	fctx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if fctx.Err() != nil {
					return
				}
				s, err := attacker.h.NewStream(fctx, srv.h.ID(), protocol.ID(ProtocolID))
				if err != nil {
					refused.Add(1)
					continue
				}
				opened.Add(1)
				valid := sha(blob)
				switch (w + i) % 3 {
				case 0: // garbage: a random hash and offset
					_, _ = s.Write(testBlob(uint64(w*perWorker+i), requestLen))
					_, _ = io.Copy(io.Discard, io.LimitReader(s, 1<<10))
					_ = s.Close()
				case 1: // a valid request, reset before reading the answer
					_, _ = s.Write(append(valid[:], make([]byte, 8)...))
					_ = s.Reset()
				case 2: // a request cut short, left open until the host gives up on it
					_, _ = s.Write(valid[:10])
					_, _ = io.Copy(io.Discard, s)
					_ = s.Reset()
				}
			}
		})
	}

	// Sample the host while the flood runs and the legitimate fetch goes on.
	var maxBlob, maxStreams, maxG int
	var maxHeap uint64
	sample := func() {
		n, blobs := 0, 0
		for _, c := range srv.h.Network().ConnsToPeer(attacker.h.ID()) {
			for _, s := range c.GetStreams() {
				n++
				if s.Protocol() == ProtocolID && s.Stat().Direction == network.DirInbound {
					blobs++
				}
			}
		}
		maxStreams, maxBlob, maxG = max(maxStreams, n), max(maxBlob, blobs), max(maxG, runtime.NumGoroutine())
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, ms.HeapInuse)
	}
	fetched := make(chan error, 1)
	var got bytes.Buffer
	var floodTook time.Duration
	go func() {
		start := time.Now()
		_, err := legit.Fetch(ctx, srv.ID(), sha(blob), 0, &got, nil)
		floodTook = time.Since(start)
		fetched <- err
	}()
	floodDone := make(chan struct{})
	go func() { wg.Wait(); close(floodDone) }()
	var fetchErr error
	fetchedAt := int64(-1)
	for fetchedAt < 0 || floodDone != nil {
		select {
		case fetchErr = <-fetched:
			fetchedAt = opened.Load() + refused.Load()
			fetched = nil
		case <-floodDone:
			floodDone = nil
		case <-time.After(20 * time.Millisecond): // sampling period
			sample()
		}
	}
	stopFlood()
	if fetchErr != nil || !bytes.Equal(got.Bytes(), blob) {
		t.Fatalf("legitimate fetch during the flood: %v (%d of %d bytes)", fetchErr, got.Len(), len(blob))
	}
	t.Logf("legitimate 4 MiB fetch: %v without a flood, %v during it (logged, not asserted: shared machine)",
		quietTook.Round(time.Millisecond), floodTook.Round(time.Millisecond))
	t.Logf("flood: %d streams opened, %d refused; the legitimate 4 MiB fetch completed after %d flood streams; "+
		"at most %d blob streams (%d streams in all) of the attacker open at the host, goroutines %d -> max %d, "+
		"heap in use %d -> max %d MiB", opened.Load(), refused.Load(), fetchedAt, maxBlob, maxStreams, baseG, maxG,
		baseHeap>>20, maxHeap>>20)
	if maxBlob > cfg.MaxServeStreamsPeer {
		t.Errorf("the host served %d blob streams of one peer at once, limit %d", maxBlob, cfg.MaxServeStreamsPeer)
	}
	// Streams still negotiating their protocol count against the peer's stream limit only.
	if maxStreams > cfg.MaxStreamsPerPeerConn {
		t.Errorf("the host held %d streams of one peer open, limit %d", maxStreams, cfg.MaxStreamsPerPeerConn)
	}
	// Unbounded serving would be one goroutine per stream (480 here); the flood's own workers are 32.
	if maxG > baseG+workers+200 {
		t.Errorf("goroutines grew from %d to %d during the flood", baseG, maxG)
	}
	// Both sides of every stream live in this process, so this bounds the host and the attacker together: a few
	// yamux windows' worth, not one per stream.
	if maxHeap > baseHeap+128<<20 {
		t.Errorf("heap in use grew from %d to %d MiB during the flood", baseHeap>>20, maxHeap>>20)
	}
	if fetchedAt == 0 {
		t.Error("the legitimate fetch finished before the flood started: it proves nothing")
	}
}
