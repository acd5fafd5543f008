package ingest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/origin/transcode"
)

// The worker's metrics count outcomes only when the completion was recorded.
func TestWorkerMetricsCountOutcomes(t *testing.T) {
	m := newWorkerMetrics()
	calls := 0
	c := m.count(transcode.CompleterFunc(func(context.Context, string, string, transcode.Result, error) error {
		calls++
		if calls == 3 {
			return errors.New("catalog down")
		}
		return nil
	}))
	ctx := context.Background()
	_ = c.FinishTranscode(ctx, "t", "a", transcode.Result{}, nil)
	_ = c.FinishTranscode(ctx, "t", "b", transcode.Result{}, errors.New("not audio"))
	_ = c.FinishTranscode(ctx, "t", "c", transcode.Result{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.serve(sctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lomuz_worker_transcodes_total{outcome="ready"} 1`, `lomuz_worker_transcodes_total{outcome="failed"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s:\n%.1500s", want, body)
		}
	}
}
