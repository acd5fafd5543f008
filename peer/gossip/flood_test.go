package gossip

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// counter is a Handler that counts messages and remembers only whether one given payload arrived, so a flood does
// not grow the test's own memory.
type counter struct {
	recorder
	n     atomic.Int64
	want  []byte
	gotIt atomic.Bool
}

func (c *counter) Message(b []byte) {
	c.n.Add(1)
	if bytes.Equal(b, c.want) {
		c.gotIt.Store(true)
	}
}

// A member holding the mesh key floods one node with gossip packets as fast as it can send them, bypassing its own
// broadcast queue (as a malicious or broken node would), each with a fresh message id. The victim's forwarding
// queue stays within MaxQueued, its goroutines and heap stay bounded, and a broadcast from a third node still
// reaches it during the flood.
func TestGossipFloodFromOneMember(t *testing.T) {
	want := []byte("legitimate message")
	victimH := &counter{want: want}
	cfg := fastConfig("victim", keyA)
	cfg.Handler = victimH
	victim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- victim.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	attacker, _ := start(t, fastConfig("attacker", keyA))
	legit, _ := start(t, fastConfig("legit", keyA))
	for _, g := range []*Gossip{attacker, legit} {
		if _, err := g.Join([]netip.AddrPort{victim.LocalAddr()}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "full membership", func() bool { return len(victim.Members()) == 3 })
	node := attacker.ml.LocalNode()
	for _, n := range attacker.ml.Members() {
		if n.Name == "victim" {
			node = n
		}
	}
	if node.Name != "victim" {
		t.Fatal("attacker does not see the victim")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseG := ms.HeapInuse, runtime.NumGoroutine()

	fctx, stop := context.WithCancel(context.Background())
	defer stop()
	var sent atomic.Int64
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		msg := bytes.Repeat([]byte{'f'}, attacker.MaxBroadcast()+idLen)
		for i := uint64(1); fctx.Err() == nil; i++ {
			binary.BigEndian.PutUint64(msg, i<<20|0xf100d) // a fresh id each time
			if attacker.ml.SendBestEffort(node, msg) == nil {
				sent.Add(1)
			}
		}
	}()
	// Let the flood run before the legitimate broadcast, then until the victim has it.
	for sent.Load() < 20000 {
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
	if err := legit.Broadcast(want); err != nil {
		t.Fatal(err)
	}
	var maxG, maxQueued int
	var maxHeap uint64
	deadline := time.Now().Add(30 * time.Second)
	for !victimH.gotIt.Load() {
		if time.Now().After(deadline) {
			stop()
			<-floodDone
			t.Fatalf("the legitimate broadcast did not reach the victim in 30 s of flood (%d flood packets sent, "+
				"%d messages delivered)", sent.Load(), victimH.n.Load())
		}
		runtime.ReadMemStats(&ms)
		maxHeap, maxG = max(maxHeap, ms.HeapInuse), max(maxG, runtime.NumGoroutine())
		maxQueued = max(maxQueued, victim.queue.NumQueued())
		time.Sleep(20 * time.Millisecond) // sampling period
	}
	stop()
	<-floodDone
	t.Logf("flood: %d packets sent, %d delivered to the victim's handler; the legitimate broadcast arrived; "+
		"victim forwarding queue max %d (limit %d); goroutines %d -> max %d; heap in use %d -> max %d MiB",
		sent.Load(), victimH.n.Load(), maxQueued, cfg.MaxQueued, baseG, maxG, baseHeap>>20, maxHeap>>20)
	if maxQueued > cfg.MaxQueued {
		t.Errorf("forwarding queue reached %d, limit %d", maxQueued, cfg.MaxQueued)
	}
	if maxG > baseG+100 {
		t.Errorf("goroutines grew from %d to %d during the flood", baseG, maxG)
	}
	// The queue holds at most MaxQueued messages of ~1.3 KB, memberlist's handoff queue 1,024 more; three nodes
	// share this process.
	if maxHeap > baseHeap+64<<20 {
		t.Errorf("heap in use grew from %d to %d MiB during the flood", baseHeap>>20, maxHeap>>20)
	}
}
