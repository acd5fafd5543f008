package download

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentCalls hammers a serving manager with Enqueue, SetPriority, Cancel, SetBandwidth and Progress from
// several goroutines, then enqueues everything once more: every blob must end installed and intact. Run with -race.
func TestConcurrentCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	srv := newBlobServer(t)
	mem := &MemSource{}
	var reqs []Request
	want := map[string][]byte{}
	for i := 0; i < 30; i++ {
		sha, data := srv.add(rng, 5_000+rng.IntN(20_000))
		want[sha] = data
		if i%2 == 0 {
			mem.Put(sha, data)
			reqs = append(reqs, Request{SHA256: sha, Size: int64(len(data)), Source: mem})
		} else {
			reqs = append(reqs, Request{SHA256: sha, Size: int64(len(data)), Source: srv.source()})
		}
	}
	h := newHarness(t, Config{Concurrency: 3}, 0)
	h.start()
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 0))
			for i := 0; i < 200; i++ {
				q := reqs[r.IntN(len(reqs))]
				switch r.IntN(5) {
				case 0, 1:
					q.Priority = Priority(r.IntN(3))
					if err := h.m.Enqueue(q); err != nil {
						t.Error(err)
						return
					}
				case 2:
					h.m.SetPriority(q.SHA256, Priority(r.IntN(3)))
				case 3:
					h.m.Cancel(q.SHA256)
				case 4:
					h.m.SetBandwidth(int64(r.IntN(2)) * 50 << 20)
					_ = h.m.Progress()
				}
			}
		}(uint64(g) + 1)
	}
	wg.Wait()
	h.m.SetBandwidth(0)
	if err := h.m.Enqueue(reqs...); err != nil {
		t.Fatal(err)
	}
	// Done events of earlier rounds may still be in flight; wait until the cache holds everything.
	poll(t, func() bool {
		for _, q := range reqs {
			if !h.c.Has(q.SHA256) {
				return false
			}
		}
		return true
	})
	for sha, data := range want {
		if !bytes.Equal(h.content(sha), data) {
			t.Fatalf("%s differs", sha[:8])
		}
	}
}
