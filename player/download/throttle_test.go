package download

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// virtualClock jumps forward when someone waits: After(d) moves now to now+d and fires at once. With one waiter at a
// time (one transfer), the time it reads at the end is exactly the total time the limiter and backoff imposed.
type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestLimiterOnVirtualClock(t *testing.T) {
	clk := &virtualClock{now: time.Unix(1_000_000, 0)}
	l := newLimiter(64<<10, clk)
	start := clk.Now()
	const total = 1 << 20
	for sent := 0; sent < total; sent += l.chunk() {
		if err := l.wait(context.Background(), l.chunk()); err != nil {
			t.Fatal(err)
		}
	}
	// 1 MiB at 64 KiB/s is 16 s, less the initial burst of one chunk (8 KiB = 0.125 s).
	if el := clk.Now().Sub(start); el < 15800*time.Millisecond || el > 16*time.Second {
		t.Fatalf("1 MiB at 64 KiB/s took %v of virtual time", el)
	}
	// Raising the rate takes effect for what follows.
	l.setRate(1 << 20)
	mid := clk.Now()
	for sent := 0; sent < total; sent += l.chunk() {
		l.wait(context.Background(), l.chunk())
	}
	if el := clk.Now().Sub(mid); el < 900*time.Millisecond || el > 1100*time.Millisecond {
		t.Fatalf("1 MiB at 1 MiB/s took %v", el)
	}
	l.setRate(0)
	before := clk.Now()
	l.wait(context.Background(), 32<<10)
	if !clk.Now().Equal(before) {
		t.Fatal("unlimited limiter waited")
	}
}

func TestBandwidthLimitOverVirtualClock(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 512<<10)
	clk := &virtualClock{now: time.Unix(2_000_000, 0)}
	h := newHarness(t, Config{Source: srv.source(), BytesPerSec: 128 << 10, Concurrency: 1, clock: clk}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	start := clk.Now()
	h.start()
	if e := h.await(sha)[sha]; e.Kind != Done {
		t.Fatalf("%v %v", e.Kind, e.Err)
	}
	// 512 KiB through a real HTTP transfer at 128 KiB/s: 4 s of virtual time, minus one 16 KiB burst.
	if el := clk.Now().Sub(start); el < 3800*time.Millisecond || el > 4100*time.Millisecond {
		t.Fatalf("512 KiB at 128 KiB/s took %v of virtual time", el)
	}
}

func TestBandwidthLimitRealTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	srv := newBlobServer(t)
	var reqs []Request
	var shas []string
	for i := 0; i < 2; i++ {
		sha, data := srv.add(rng, 48<<10)
		reqs = append(reqs, Request{SHA256: sha, Size: int64(len(data))})
		shas = append(shas, sha)
	}
	h := newHarness(t, Config{Source: srv.source(), BytesPerSec: 64 << 10}, 0)
	h.m.Enqueue(reqs...)
	start := time.Now()
	h.start()
	h.await(shas...)
	// Two concurrent transfers share the cap: 96 KiB at 64 KiB/s cannot take less than 1.5 s minus the 8 KiB burst.
	// Only the lower bound is checked: a slow machine may take longer.
	if el := time.Since(start); el < 1370*time.Millisecond {
		t.Fatalf("96 KiB at 64 KiB/s took only %v", el)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 10_000)
	clk := &virtualClock{now: time.Unix(3_000_000, 0)}
	srv.now = clk.Now
	srv.plan = func(_ string, n int) fault {
		if n == 0 {
			return unavailable
		}
		return serveOK
	}
	h := newHarness(t, Config{Source: srv.source(), clock: clk}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	if e := h.await(sha)[sha]; e.Kind != Done {
		t.Fatalf("%v %v", e.Kind, e.Err)
	}
	srv.mu.Lock()
	st := srv.stamps[sha]
	srv.mu.Unlock()
	if len(st) != 2 || st[1].Sub(st[0]) < 120*time.Second {
		t.Fatalf("second request %v after a 503 with Retry-After: 120", st[1].Sub(st[0]))
	}
	if r := h.retries(sha); len(r) != 1 || !strings.Contains(r[0].Err.Error(), "503") {
		t.Fatalf("retries %v", r)
	}
}

func TestFormatLineAndBar(t *testing.T) {
	ps := []Progress{
		{SHA256: "3f9a1c0000", Priority: Current, State: Active, Bytes: 5e6, Total: 10e6, BytesPerSec: 1.5e6},
		{SHA256: "abcdef0000", Priority: Future, State: Queued, Bytes: 0, Total: 10e6},
	}
	got := FormatLine(ps, 200)
	want := "downloads 1/2 [#####...............]  25%  5.0 MB/20.0 MB  1.5 MB/s  current 3f9a1c.."
	if got != want {
		t.Fatalf("line\n got %q\nwant %q", got, want)
	}
	if got := FormatLine(ps, 20); len([]rune(got)) != 20 {
		t.Fatalf("not cut to width: %q", got)
	}
	if FormatLine(nil, 80) != "" {
		t.Fatal("empty queue draws something")
	}
	// Not a terminal: a regular file and /dev/null (a character device) get no bar.
	f, _ := os.CreateTemp(t.TempDir(), "out")
	defer f.Close()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	if NewBar(f) != nil || NewBar(null) != nil {
		t.Fatal("bar on a non-terminal")
	}
	var nilBar *Bar
	nilBar.Draw(ps) // must not panic
	var buf bytes.Buffer
	b := &Bar{out: &buf, width: 80}
	b.Draw(ps)
	b.Draw(nil)
	if s := buf.String(); !strings.HasPrefix(s, "\r"+want[:79]+"\x1b[K") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Fatalf("bar output %q", s)
	}
}
