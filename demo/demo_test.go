package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/node"
)

// syncBuffer is an io.Writer safe to read while the demo writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The demo's promise: three zones playing scheduled content within a minute, and a clean stop.
func TestDemoPlaysThreeZonesWithinAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.Out = t.TempDir(), "127.0.0.1:0", &out
	zones := make(chan []*node.Runner, 1)
	cfg.Ready = func(_ string, rs []*node.Runner) { zones <- rs }
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- Run(ctx, cfg) }()
	var rs []*node.Runner
	select {
	case rs = <-zones:
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, out.String())
	case <-time.After(time.Minute):
		t.Fatalf("zones not running after a minute:\n%s", out.String())
	}
	deadline := start.Add(time.Minute)
	for {
		playing := 0
		for _, r := range rs {
			if np := r.Brief().NowPlaying; np != nil && (np.Level == "scheduled" || np.Level == "spot") {
				playing++
			}
		}
		if playing == len(rs) {
			break
		}
		if time.Now().After(deadline) {
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := rs[0].Status(sctx)
			scancel()
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("after a minute %d of %d zones play scheduled content:\n%s\nzone 1 status (%v):\n%s", playing,
				len(rs), out.String(), err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of its context ending")
	}
	if !strings.Contains(out.String(), "LOMUZ_TOKEN=lmza_") {
		t.Fatalf("banner lacks the admin token:\n%s", out.String())
	}
}
