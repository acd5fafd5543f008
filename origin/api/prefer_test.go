package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestOriginStatsRanking(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newOriginStats(3)
	s.now = func() time.Time { return now }
	every := time.Minute
	if got := s.start(2, every); got != 0 {
		t.Fatalf("nothing measured: start from the first in the list, got %d", got)
	}
	s.ok(0, 80*time.Millisecond)
	s.ok(1, 20*time.Millisecond)
	s.ok(2, 50*time.Millisecond)
	if got := s.start(0, every); got != 0 {
		t.Fatalf("no re-probe due yet: stay on the current one, got %d", got)
	}
	now = now.Add(every)
	if got := s.start(0, every); got != 1 {
		t.Fatalf("re-probe: the fastest should be chosen, got %d", got)
	}
	s.failed(1)
	now = now.Add(every / 2)
	s.lastProbe = time.Time{}
	if got := s.start(1, every); got != 2 {
		t.Fatalf("a recently failed origin ranks last: want 2, got %d", got)
	}
	now = now.Add(every)
	s.lastProbe = time.Time{}
	if got := s.start(2, every); got != 1 {
		t.Fatalf("once its failure is old the fast origin comes back: want 1, got %d", got)
	}
}

// A client fails over when its preferred origin dies and comes back to it once it returns.
func TestClientComesBackToThePreferredOrigin(t *testing.T) {
	var hitsA, hitsB atomic.Int64
	handler := func(hits *atomic.Int64, delay time.Duration) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			time.Sleep(delay) // a far-away replica
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"00000000-0000-4000-8000-000000000000","name":"t"}`))
		}
	}
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrA := lnA.Addr().String()
	a := &httptest.Server{Listener: lnA, Config: &http.Server{Handler: handler(&hitsA, 0)}}
	a.Start()
	b := httptest.NewServer(handler(&hitsB, 30*time.Millisecond))
	defer b.Close()
	c, err := NewClient(ClientConfig{BaseURLs: []string{a.URL, b.URL}, Credential: "x", ReprobeEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := func() {
		t.Helper()
		if _, err := c.Tenant(ctx); err != nil {
			t.Fatal(err)
		}
	}
	call()
	a.Close()
	hitsA.Store(0)
	for range 5 {
		call()
	}
	if hitsB.Load() < 5 {
		t.Fatalf("with the first origin down every call must reach the second: %d", hitsB.Load())
	}
	// The first comes back on the same address.
	lnA2, err := net.Listen("tcp", addrA)
	if err != nil {
		t.Skipf("address %s not free again: %v", addrA, err)
	}
	a2 := &httptest.Server{Listener: lnA2, Config: &http.Server{Handler: handler(&hitsA, 0)}}
	a2.Start()
	defer a2.Close()
	c.stats.mu.Lock()
	c.stats.failedAt[0] = time.Time{} // its failure has aged past ReprobeEvery
	c.stats.mu.Unlock()
	for range 10 {
		call()
	}
	if hitsA.Load() < 5 {
		t.Fatalf("the faster first origin is back but got only %d of 10 calls", hitsA.Load())
	}
}
