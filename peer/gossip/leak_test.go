package gossip

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// Ending Serve leaves no goroutine behind (memberlist's listeners, probes and gossip timers all stop).
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	var gs []*Gossip
	for _, name := range []string{"a", "b"} {
		cfg := fastConfig(name, keyA)
		cfg.Handler = &recorder{}
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan error, 1)
		go func() { d <- g.Serve(ctx) }()
		gs, done = append(gs, g), append(done, d)
	}
	if _, err := gs[1].Join([]netip.AddrPort{gs[0].LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	if err := gs[0].Broadcast([]byte("x")); err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, d := range done {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}
