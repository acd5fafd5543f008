package origin_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
)

// TestServeLeavesNoGoroutine: after Serve returns, the HTTP server, the sync-log writer and its flushers are gone.
func TestServeLeavesNoGoroutine(t *testing.T) {
	cat := extraBackends()[0].open(t)
	bs, err := dirblob.New(dirblob.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := origin.DefaultConfig()
	cfg.SyncLogFlushers = 3
	srv, err := origin.New(cfg, cat, bs, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	hc := &http.Client{Transport: &http.Transport{}}
	resp, err := hc.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hc.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before Serve, %d after it returned:\n%s", before, runtime.NumGoroutine(),
				buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}
