package download

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/cache"
)

const (
	killHelperDir   = "LOMUZ_DOWNLOAD_KILL_DIR"
	killHelperURL   = "LOMUZ_DOWNLOAD_KILL_URL"
	killHelperBlobs = "LOMUZ_DOWNLOAD_KILL_BLOBS"
)

// TestKill9MidDownload re-executes the test binary as a child that downloads four blobs from a real HTTP server on
// 127.0.0.1 which truncates and corrupts answers at random; the parent SIGKILLs the child once the server has sent a
// random number of bytes, then opens the cache as a rebooted device would, re-hashes everything in it and checks
// that every blob it serves is complete and correct. The next child resumes in the same directory.
func TestKill9MidDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	kills := 20
	if os.Getenv("LOMUZ_SOAK") == "1" {
		kills = 300
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 99))
	srv := newBlobServer(t)
	var list []string
	want := map[string][]byte{}
	for i := 0; i < 4; i++ {
		sha, data := srv.add(rng, 150_000+rng.IntN(300_000))
		want[sha] = data
		list = append(list, fmt.Sprintf("%s:%d", sha, len(data)))
	}
	srv.plan = func(string, int) fault { // called under srv.mu
		switch r := rng.IntN(100); {
		case r < 15:
			return corruptByte
		case r < 30:
			return truncateHalf
		}
		return serveOK
	}
	dir := t.TempDir()
	fresh, midway := 0, 0
	for k := 0; k < kills; k++ {
		srv.mu.Lock()
		killAt := srv.sent + 8<<10 + int64(rng.IntN(600_000))
		srv.mu.Unlock()
		trigger := make(chan struct{}, 1)
		srv.mu.Lock()
		srv.onBytes = func(total int64) {
			if total >= killAt {
				select {
				case trigger <- struct{}{}:
				default:
				}
			}
		}
		srv.mu.Unlock()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDownloader$", "-test.count=1")
		cmd.Env = append(os.Environ(), killHelperDir+"="+dir, killHelperURL+"="+srv.srv.URL+"/blobs/",
			killHelperBlobs+"="+strings.Join(list, ","))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-trigger:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			midway++
		case err := <-exited:
			if err != nil {
				t.Fatalf("kill %d: child failed: %v", k, err)
			}
		}

		// Reboot: open the cache, hash everything, compare.
		var quarantined []string
		cfg := cache.DefaultConfig(dir)
		cfg.Notify = func(e cache.Event) {
			if e.Kind == cache.Quarantined {
				quarantined = append(quarantined, e.SHA256)
			}
		}
		c, err := cache.Open(cfg)
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", k, err)
		}
		if _, err := c.VerifyAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(quarantined) > 0 {
			t.Fatalf("kill %d: blobs in the cache failed verification: %v", k, quarantined)
		}
		for _, sha := range c.List() {
			f, err := c.Open(sha)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(got, want[sha]) {
				t.Fatalf("kill %d: blob %s served with wrong content", k, sha[:8])
			}
		}
		complete := len(c.List()) == len(want)
		c.Close()
		if complete { // start over so that later kills land mid-download again
			dir = t.TempDir()
			fresh++
		}
	}
	t.Logf("%d kills mid-download, %d complete runs, %d fresh caches", midway, kills-midway, fresh)
	if midway < kills/2 {
		t.Fatalf("only %d of %d children were killed mid-download", midway, kills)
	}
}

// TestHelperDownloader is the child of TestKill9MidDownload; it does nothing in a normal run.
func TestHelperDownloader(t *testing.T) {
	dir := os.Getenv(killHelperDir)
	if dir == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	c, err := cache.Open(cache.DefaultConfig(dir))
	if err != nil {
		fail(err)
	}
	m, err := New(c, Config{Source: NewHTTPSource(nil, os.Getenv(killHelperURL)), MaxAttempts: -1,
		BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	if err != nil {
		fail(err)
	}
	pending := map[string]bool{}
	for _, b := range strings.Split(os.Getenv(killHelperBlobs), ",") {
		sha, size, _ := strings.Cut(b, ":")
		n, _ := strconv.ParseInt(size, 10, 64)
		if err := m.Enqueue(Request{SHA256: sha, Size: n}); err != nil {
			fail(err)
		}
		if !c.Has(sha) {
			pending[sha] = true
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	for len(pending) > 0 {
		e := <-m.Events()
		if e.Kind == Done {
			delete(pending, e.SHA256)
		}
	}
	cancel()
	<-done
	c.Close()
	os.Exit(0)
}
