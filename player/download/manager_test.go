package download

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/cache"
)

// harness runs a Manager over a real cache and collects its events.
type harness struct {
	t      *testing.T
	c      *cache.Cache
	m      *Manager
	cancel context.CancelFunc
	served chan error

	mu     sync.Mutex
	events []Event
	got    chan Event
}

func newHarness(t *testing.T, cfg Config, quota int64) *harness {
	t.Helper()
	ccfg := cache.DefaultConfig(t.TempDir())
	ccfg.QuotaBytes = quota
	c, err := cache.Open(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	m, err := New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, c: c, m: m, served: make(chan error, 1), got: make(chan Event, 1024)}
	t.Cleanup(func() { h.stop(); c.Close() })
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.served <- h.m.Serve(ctx) }()
	go func() {
		for {
			select {
			case e := <-h.m.Events():
				h.mu.Lock()
				h.events = append(h.events, e)
				h.mu.Unlock()
				h.got <- e
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.served; !errors.Is(err, context.Canceled) {
		h.t.Errorf("Serve = %v", err)
	}
}

// TestServeLeavesNoGoroutine stops Serve in the middle of a stalled transfer (watchdog running) and checks that no
// goroutine of the manager outlives it. It is the only manager in the process while it checks.
func TestServeLeavesNoGoroutine(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 100_000)
	srv.plan = func(string, int) fault { return stallHalf }
	h := newHarness(t, Config{Source: srv.source()}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	poll(t, func() bool { p := h.m.Progress(); return len(p) == 1 && p[0].Bytes > 0 })
	h.stop()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "player/download.(*Manager)") || strings.Contains(g, "player/download.(*limiter)") {
			t.Errorf("goroutine left after Serve returned:\n%s", g)
		}
	}
	if p := h.m.Progress(); len(p) != 1 || p[0].State != Queued {
		t.Fatalf("interrupted download not queued again: %+v", p)
	}
}

// await returns the first Done or Failed event for each of shas (Retrying events are kept in h.events).
func (h *harness) await(shas ...string) map[string]Event {
	h.t.Helper()
	want := map[string]bool{}
	for _, s := range shas {
		want[s] = true
	}
	out := map[string]Event{}
	timeout := time.After(30 * time.Second)
	for len(out) < len(want) {
		select {
		case e := <-h.got:
			if want[e.SHA256] && e.Kind != Retrying {
				out[e.SHA256] = e
			}
		case <-timeout:
			h.t.Fatalf("timed out with %d of %d downloads finished; progress %+v", len(out), len(want), h.m.Progress())
		}
	}
	return out
}

func (h *harness) retries(sha string) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if e.SHA256 == sha && e.Kind == Retrying {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) content(sha string) []byte {
	h.t.Helper()
	f, err := h.c.Open(sha)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return b
}

func TestDownloadsInstallVerified(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	srv := newBlobServer(t)
	h := newHarness(t, Config{Source: srv.source()}, 0)
	var shas []string
	var reqs []Request
	for i := 0; i < 6; i++ {
		sha, _ := srv.add(rng, 50_000+i*10_000)
		shas = append(shas, sha)
		reqs = append(reqs, Request{SHA256: sha, Size: int64(50_000 + i*10_000), Priority: Priority(i % 3)})
	}
	if err := h.m.Enqueue(reqs...); err != nil {
		t.Fatal(err)
	}
	h.start()
	for sha, e := range h.await(shas...) {
		if e.Kind != Done {
			t.Fatalf("%s: %v %v", sha[:8], e.Kind, e.Err)
		}
		if !bytes.Equal(h.content(sha), srv.blobs[sha]) {
			t.Fatalf("%s: content differs", sha[:8])
		}
	}
	if p := h.m.Progress(); len(p) != 0 {
		t.Fatalf("queue not empty: %+v", p)
	}
	// Held blobs are not downloaded again.
	before := srv.totalSent()
	if err := h.m.Enqueue(reqs...); err != nil || len(h.m.Progress()) != 0 || srv.totalSent() != before {
		t.Fatalf("re-enqueue of held blobs: %v %+v", err, h.m.Progress())
	}
}

func TestEnqueueRejectsBadRequests(t *testing.T) {
	srv := newBlobServer(t)
	h := newHarness(t, Config{Source: srv.source()}, 0)
	good := Request{SHA256: string(bytes.Repeat([]byte("a"), 64)), Size: 10}
	for _, r := range []Request{
		{SHA256: "nothex", Size: 10},
		{SHA256: good.SHA256, Size: 0},
		{SHA256: good.SHA256, Size: 10, Priority: 7},
		{SHA256: good.SHA256, Size: 10, MD5: "short"},
		{SHA256: good.SHA256, Size: 10, MD5: "0123456789ABCDEF0123456789abcdef"},
	} {
		if err := h.m.Enqueue(good, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue(%+v) = %v", r, err)
		}
	}
	if len(h.m.Progress()) != 0 {
		t.Fatal("a rejected batch left requests queued")
	}
	if _, err := New(h.c, Config{Concurrency: 100}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad config: %v", err)
	}
	if _, err := New(h.c, Config{BytesPerSec: 10}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad config: %v", err)
	}
}

func TestResumeAfterTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 400_000)
	srv.plan = func(_ string, n int) fault {
		if n < 2 {
			return truncateHalf
		}
		return serveOK
	}
	h := newHarness(t, Config{Source: srv.source()}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data)), Priority: Current})
	h.start()
	if e := h.await(sha)[sha]; e.Kind != Done {
		t.Fatalf("%v %v", e.Kind, e.Err)
	}
	if !bytes.Equal(h.content(sha), data) {
		t.Fatal("content differs")
	}
	// 200,000 then 100,000 then the last 100,000: every byte crossed the wire once.
	want := []string{sha[:8] + " ", sha[:8] + " bytes=200000-", sha[:8] + " bytes=300000-"}
	if got := srv.rangeLog(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("requests %q, want %q", got, want)
	}
	if sent := srv.totalSent(); sent != int64(len(data)) {
		t.Fatalf("server sent %d bytes for a %d-byte blob", sent, len(data))
	}
	if len(h.retries(sha)) != 2 {
		t.Fatalf("retries: %v", h.retries(sha))
	}
}

func TestCorruptDataNeverInstalled(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	srv := newBlobServer(t)
	flaky, flakyData := srv.add(rng, 120_000)
	rotten, rottenData := srv.add(rng, 90_000)
	srv.plan = func(sha string, n int) fault {
		if sha == rotten || n < 2 {
			return corruptByte
		}
		return serveOK
	}
	var mu sync.Mutex
	var sawPresent []string
	h := newHarness(t, Config{Source: srv.source(), MaxAttempts: 4}, 0)
	h.m.Enqueue(Request{SHA256: flaky, Size: int64(len(flakyData))},
		Request{SHA256: rotten, Size: int64(len(rottenData))})
	srv.onReq = func(sha string) {
		// Before every request for the rotten blob it must never be in the cache.
		if sha == rotten && h.c.Has(rotten) {
			mu.Lock()
			sawPresent = append(sawPresent, sha)
			mu.Unlock()
		}
	}
	h.start()
	evs := h.await(flaky, rotten)
	if evs[flaky].Kind != Done || !bytes.Equal(h.content(flaky), flakyData) {
		t.Fatalf("flaky: %v %v", evs[flaky].Kind, evs[flaky].Err)
	}
	if r := h.retries(flaky); len(r) != 2 || !errors.Is(r[0].Err, cache.ErrHashMismatch) {
		t.Fatalf("flaky retries: %v", r)
	}
	if e := evs[rotten]; e.Kind != Failed || !errors.Is(e.Err, ErrGaveUp) || !errors.Is(e.Err, cache.ErrHashMismatch) {
		t.Fatalf("rotten: %v %v", e.Kind, e.Err)
	}
	if h.c.Has(rotten) || len(sawPresent) > 0 || h.c.PartialSize(rotten) != 0 {
		t.Fatal("corrupt blob reached the cache")
	}
	// With a sha256 that matches but an md5 that does not, the blob is rejected too.
	h2 := newHarness(t, Config{Source: srv.source(), MaxAttempts: 1}, 0)
	h2.m.Enqueue(Request{SHA256: flaky, Size: int64(len(flakyData)), MD5: "00000000000000000000000000000000"})
	h2.start()
	if e := h2.await(flaky)[flaky]; e.Kind != Failed || !errors.Is(e.Err, cache.ErrHashMismatch) || h2.c.Has(flaky) {
		t.Fatalf("md5 mismatch: %v %v", e.Kind, e.Err)
	}
}

func TestStallIsRetriedAndResumed(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 200_000)
	srv.plan = func(_ string, n int) fault {
		return [...]fault{stallHalf, ignoreRange}[min(n, 1)]
	}
	h := newHarness(t, Config{Source: srv.source(), StallTimeout: 200 * time.Millisecond}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	if e := h.await(sha)[sha]; e.Kind != Done {
		t.Fatalf("%v %v", e.Kind, e.Err)
	}
	if r := h.retries(sha); len(r) != 1 || !errors.Is(r[0].Err, ErrStalled) {
		t.Fatalf("retries: %v", r)
	}
	// The second server ignored Range: the source skipped the first half of its full answer.
	if got := srv.rangeLog(); len(got) != 2 || got[1] != sha[:8]+" bytes=100000-" || !bytes.Equal(h.content(sha), data) {
		t.Fatalf("requests %q", got)
	}
}

func TestPriorityOrderAndPreemption(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	srv := newBlobServer(t)
	names := map[string]string{}
	add := func(name string) Request {
		sha, data := srv.add(rng, 30_000)
		names[sha] = name
		return Request{SHA256: sha, Size: int64(len(data)), Priority: Future}
	}
	fa, fb, em, cu := add("futureA"), add("futureB"), add("emergency"), add("current")
	em.Priority, cu.Priority = Emergency, Current
	var order []string
	var mu sync.Mutex
	srv.onReq = func(sha string) { mu.Lock(); order = append(order, names[sha]); mu.Unlock() }
	h := newHarness(t, Config{Source: srv.source(), Concurrency: 1}, 0)
	h.m.Enqueue(fa, fb, em, cu)
	if !h.m.SetPriority(fb.SHA256, Current) || h.m.SetPriority(string(bytes.Repeat([]byte("0"), 64)), Current) {
		t.Fatal("SetPriority")
	}
	h.start()
	h.await(fa.SHA256, fb.SHA256, em.SHA256, cu.SHA256)
	mu.Lock()
	got := order
	order = nil
	mu.Unlock()
	if want := []string{"futureB", "current", "emergency", "futureA"}; !equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}

	// Pre-emption: a future download holds the only slot (the server stalls it); a current one arrives and takes
	// the slot; the future one resumes afterwards from its partial file.
	slow, urgent := add("slow"), add("urgent")
	urgent.Priority = Current
	srv.mu.Lock()
	srv.plan = func(sha string, n int) fault {
		if sha == slow.SHA256 && n == 0 {
			return stallHalf
		}
		return serveOK
	}
	srv.mu.Unlock()
	h.m.Enqueue(slow)
	poll(t, func() bool { p := h.m.Progress(); return len(p) == 1 && p[0].Bytes > 0 }) // slow is transferring
	h.m.Enqueue(urgent)
	evs := h.await(slow.SHA256, urgent.SHA256)
	if evs[slow.SHA256].Kind != Done || evs[urgent.SHA256].Kind != Done || len(h.retries(slow.SHA256)) != 0 {
		t.Fatalf("events %v, slow retries %v", evs, h.retries(slow.SHA256))
	}
	log := srv.rangeLog()
	if n := len(log); n < 3 || !strings.HasPrefix(log[n-1], slow.SHA256[:8]+" bytes=") || log[n-2][:8] != urgent.SHA256[:8] {
		t.Fatalf("slow did not resume after the urgent one: %q", log)
	}
}

// poll waits for cond, checking every few milliseconds, and fails the test after 10 s.
func poll(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQuotaOfPinnedContentIsRetried(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	srv := newBlobServer(t)
	pinnedSHA, pinnedData := srv.add(rng, 60_000)
	other, otherData := srv.add(rng, 60_000)
	h := newHarness(t, Config{Source: srv.source(), MaxAttempts: 3}, 100_000)
	h.c.SetPinned([]string{pinnedSHA})
	h.m.Enqueue(Request{SHA256: pinnedSHA, Size: int64(len(pinnedData))})
	h.start()
	h.await(pinnedSHA)
	h.m.Enqueue(Request{SHA256: other, Size: int64(len(otherData))})
	if e := h.await(other)[other]; e.Kind != Failed || !errors.Is(e.Err, cache.ErrQuotaExceeded) {
		t.Fatalf("over quota: %v %v", e.Kind, e.Err)
	}
	if !h.c.Has(pinnedSHA) {
		t.Fatal("pinned blob evicted")
	}
	// Unpinned, it makes way.
	h.c.SetPinned(nil)
	h.m.Enqueue(Request{SHA256: other, Size: int64(len(otherData))})
	if e := h.await(other)[other]; e.Kind != Done || h.c.Has(pinnedSHA) {
		t.Fatalf("after unpinning: %v %v, old present %v", e.Kind, e.Err, h.c.Has(pinnedSHA))
	}
}

func TestCancelKeepsPartial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 100_000)
	srv.plan = func(string, int) fault { return stallHalf }
	h := newHarness(t, Config{Source: srv.source()}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	poll(t, func() bool { p := h.m.Progress(); return len(p) == 1 && p[0].Bytes > 0 })
	h.m.Cancel(sha)
	poll(t, func() bool { return h.c.PartialSize(sha) > 0 })
	if len(h.m.Progress()) != 0 || h.c.Has(sha) {
		t.Fatal("cancelled download still listed or installed")
	}
}

func TestOverlongAnswerRejected(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 20_000)
	srv.plan = func(string, int) fault { return appendJunk }
	h := newHarness(t, Config{Source: srv.source(), MaxAttempts: 2}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	// The attempt fails on the extra bytes; what fitted is kept and, since it hashes right, installed without
	// asking the server again.
	if e := h.await(sha)[sha]; e.Kind != Done || !bytes.Equal(h.content(sha), data) {
		t.Fatalf("over-long answer: %v %v", e.Kind, e.Err)
	}
	if r := h.retries(sha); len(r) != 1 || !errors.Is(r[0].Err, cache.ErrTooLarge) || len(srv.rangeLog()) != 1 {
		t.Fatalf("retries %v, requests %q", r, srv.rangeLog())
	}
	// With wrong bytes in front of the junk, nothing is installed.
	bad, badData := srv.add(rng, 20_000)
	srv.mu.Lock()
	srv.plan = func(string, int) fault { return corruptJunk }
	srv.mu.Unlock()
	h.m.Enqueue(Request{SHA256: bad, Size: int64(len(badData))})
	if e := h.await(bad)[bad]; e.Kind != Failed || !errors.Is(e.Err, cache.ErrHashMismatch) || h.c.Has(bad) {
		t.Fatalf("corrupt over-long answer: %v %v", e.Kind, e.Err)
	}
}

// TestWaitsForBootVerification: a blob on disk that the cache has not re-hashed yet is neither fetched again nor
// reported done until the cache's verdict; once verified it is done without a byte from the network.
func TestWaitsForBootVerification(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 30_000)
	dir := t.TempDir()
	p := dir + "/blobs/" + sha[:2] + "/" + sha
	if err := os.MkdirAll(dir+"/blobs/"+sha[:2], 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, data, 0o644) // as if the journal write was lost in a crash
	c, err := cache.Open(cache.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := New(c, Config{Source: srv.source(), BackoffMin: time.Millisecond, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	poll(t, func() bool { p := m.Progress(); return len(p) == 1 && p[0].Attempts >= 3 })
	select {
	case e := <-m.Events():
		t.Fatalf("event before verification: %+v", e)
	default:
	}
	if _, err := c.VerifyAll(ctx); err != nil {
		t.Fatal(err)
	}
	if e := <-m.Events(); e.Kind != Done || e.SHA256 != sha || srv.totalSent() != 0 {
		t.Fatalf("after verification: %+v, %d bytes fetched", e, srv.totalSent())
	}
}

func TestMemSourceThroughManager(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	srv := newBlobServer(t) // only to make blobs; the manager never calls it
	sha, data := srv.add(rng, 70_000)
	missing, _ := srv.add(rng, 10)
	mem := &MemSource{}
	mem.Put(sha, data)
	h := newHarness(t, Config{Source: mem, MaxAttempts: 2}, 0)
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))}, Request{SHA256: missing, Size: 10})
	h.start()
	evs := h.await(sha, missing)
	if evs[sha].Kind != Done || !bytes.Equal(h.content(sha), data) || srv.totalSent() != 0 {
		t.Fatalf("mem source: %+v", evs[sha])
	}
	if e := evs[missing]; e.Kind != Failed || !errors.Is(e.Err, ErrNoBlob) {
		t.Fatalf("missing blob: %+v", e)
	}
}

// offsetSource records the offsets it is asked for, then serves like a MemSource.
type offsetSource struct {
	MemSource
	mu      sync.Mutex
	offsets []int64
}

func (s *offsetSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	s.mu.Lock()
	s.offsets = append(s.offsets, offset)
	s.mu.Unlock()
	return s.MemSource.Fetch(ctx, sha, offset, w)
}

// TestRedirectResumesFromPartialWithNewSource moves a download whose source hangs half way to another source: the
// hanging attempt stops at once (no stall timeout is waited for), and the new source is asked only for the rest.
func TestRedirectResumesFromPartialWithNewSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	srv := newBlobServer(t)
	sha, data := srv.add(rng, 100_000)
	srv.plan = func(string, int) fault { return stallHalf }
	h := newHarness(t, Config{Source: srv.source(), StallTimeout: time.Hour}, 0)
	if h.m.Redirect(sha, &MemSource{}) {
		t.Fatal("Redirect of an unknown download succeeded")
	}
	h.m.Enqueue(Request{SHA256: sha, Size: int64(len(data))})
	h.start()
	poll(t, func() bool { p := h.m.Progress(); return len(p) == 1 && p[0].Bytes > 0 })
	peer := &offsetSource{}
	peer.Put(sha, data)
	if !h.m.Redirect(sha, peer) {
		t.Fatal("Redirect of an active download refused")
	}
	if e := h.await(sha)[sha]; e.Kind != Done || e.Source != Source(peer) {
		t.Fatalf("%v %v from %v", e.Kind, e.Err, e.Source)
	}
	peer.mu.Lock()
	defer peer.mu.Unlock()
	if len(peer.offsets) != 1 || peer.offsets[0] == 0 || !bytes.Equal(h.content(sha), data) {
		t.Fatalf("new source asked from %v; content intact %v", peer.offsets, bytes.Equal(h.content(sha), data))
	}
	if r := h.retries(sha); len(r) != 0 {
		t.Fatalf("a redirect counted as a failed attempt: %v", r)
	}
}
