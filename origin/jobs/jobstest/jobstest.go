package jobstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/jobs"
)

// Factory returns a fresh queue with these handlers and attempt limit, not yet serving. Its backoff between
// attempts must be under 100 ms so the suite runs quickly. It registers its own cleanup on t.
type Factory func(t *testing.T, handlers map[string]jobs.Handler, maxAttempts int) jobs.Queue

// Timeout bounds each wait of the suite; generous because Postgres-backed queues poll.
const Timeout = 30 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, newQueue Factory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f Factory)
	}{
		{"RunsJob", testRunsJob},
		{"DeduplicatesUnfinishedByKey", testDedup},
		{"RetriesUntilSuccess", testRetry},
		{"PermanentFailureNotRetried", testPermanent},
		{"GivesUpAfterMaxAttempts", testMaxAttempts},
		{"PanicIsAFailedAttempt", testPanic},
		{"RejectsInvalidJobs", testInvalid},
		{"ManyJobsEachOnce", testMany},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newQueue) })
	}
}

// serve starts q and stops it when the test ends, checking that Serve returns.
func serve(t *testing.T, q jobs.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(Timeout):
			t.Errorf("Serve did not return within %v of its context ending", Timeout)
		}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// WaitState polls the job until it reaches one of the final states or want, failing the test after Timeout.
func WaitState(t *testing.T, q jobs.Queue, id string, want jobs.State) jobs.Info {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := q.Get(ctxT(t), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if info.State == want {
			return info
		}
		if (info.State == jobs.StateDone || info.State == jobs.StateFailed) && info.State != want {
			t.Fatalf("job %s ended %s (last error %q), want %s", id, info.State, info.LastError, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v, want %s", id, info.State, Timeout, want)
		}
		<-tick.C
	}
}

// recorder records the jobs a handler saw.
type recorder struct {
	mu   sync.Mutex
	seen []jobs.Job
}

func (r *recorder) add(j jobs.Job) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, j)
	return len(r.seen)
}

func (r *recorder) all() []jobs.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]jobs.Job(nil), r.seen...)
}

func testRunsJob(t *testing.T, f Factory) {
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.echo": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		rec.add(j)
		return nil
	})}, 5)
	// Enqueued before Serve: the job waits.
	id, err := q.Enqueue(ctxT(t), "test.echo", "k1", []byte(`{"asset":"a1"}`))
	if err != nil || id == "" {
		t.Fatalf("Enqueue = %q, %v", id, err)
	}
	serve(t, q)
	info := WaitState(t, q, id, jobs.StateDone)
	seen := rec.all()
	if len(seen) != 1 {
		t.Fatalf("handler ran %d times, want 1", len(seen))
	}
	j := seen[0]
	if j.ID != id || j.Kind != "test.echo" || j.Key != "k1" || string(j.Payload) != `{"asset":"a1"}` ||
		j.Attempt != 1 || j.MaxAttempts != 5 {
		t.Fatalf("handler saw %+v", j)
	}
	if info.Kind != "test.echo" || info.Key != "k1" || info.Attempt != 1 {
		t.Fatalf("Get = %+v", info)
	}
}

func testDedup(t *testing.T, f Factory) {
	gate := make(chan struct{})
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.gate": jobs.HandlerFunc(func(ctx context.Context, j jobs.Job) error {
		rec.add(j)
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})}, 5)
	a, err := q.Enqueue(ctxT(t), "test.gate", "same", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Enqueue(ctxT(t), "test.gate", "same", []byte("2"))
	if err != nil || b != a {
		t.Fatalf("second Enqueue with the same key = %q, %v; want the first job's id %q", b, err, a)
	}
	c, _ := q.Enqueue(ctxT(t), "test.gate", "other", nil)
	d, _ := q.Enqueue(ctxT(t), "test.gate", "", nil)
	e, _ := q.Enqueue(ctxT(t), "test.gate", "", nil)
	if c == a || d == e || d == a {
		t.Fatalf("distinct jobs share ids: %s %s %s %s", a, c, d, e)
	}
	serve(t, q)
	// While the keyed job is running it still deduplicates.
	WaitState(t, q, a, jobs.StateRunning)
	if again, _ := q.Enqueue(ctxT(t), "test.gate", "same", nil); again != a {
		t.Fatalf("Enqueue during the run = %q, want %q", again, a)
	}
	close(gate)
	for _, id := range []string{a, c, d, e} {
		WaitState(t, q, id, jobs.StateDone)
	}
	if n := len(rec.all()); n != 4 {
		t.Fatalf("handler ran %d times, want 4", n)
	}
	// A finished job does not block a new one with its key.
	again, err := q.Enqueue(ctxT(t), "test.gate", "same", nil)
	if err != nil || again == a {
		t.Fatalf("Enqueue after the keyed job finished = %q, %v; want a new job", again, err)
	}
	WaitState(t, q, again, jobs.StateDone)
}

func testRetry(t *testing.T, f Factory) {
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.flaky": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		if n := rec.add(j); n < 3 {
			return fmt.Errorf("transient failure %d", n)
		}
		return nil
	})}, 5)
	serve(t, q)
	id, err := q.Enqueue(ctxT(t), "test.flaky", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	info := WaitState(t, q, id, jobs.StateDone)
	seen := rec.all()
	if len(seen) != 3 || info.Attempt != 3 {
		t.Fatalf("ran %d times, Attempt %d; want 3 and 3", len(seen), info.Attempt)
	}
	for i, j := range seen {
		if j.Attempt != i+1 {
			t.Fatalf("run %d saw Attempt %d", i+1, j.Attempt)
		}
	}
}

func testPermanent(t *testing.T, f Factory) {
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.bad": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		rec.add(j)
		return jobs.Permanent(errors.New("master is not audio"))
	})}, 5)
	serve(t, q)
	id, _ := q.Enqueue(ctxT(t), "test.bad", "", nil)
	info := WaitState(t, q, id, jobs.StateFailed)
	if len(rec.all()) != 1 || !strings.Contains(info.LastError, "master is not audio") {
		t.Fatalf("ran %d times, last error %q", len(rec.all()), info.LastError)
	}
}

func testMaxAttempts(t *testing.T, f Factory) {
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.fail": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		rec.add(j)
		return errors.New("always fails")
	})}, 3)
	serve(t, q)
	id, _ := q.Enqueue(ctxT(t), "test.fail", "", nil)
	info := WaitState(t, q, id, jobs.StateFailed)
	if n := len(rec.all()); n != 3 || info.Attempt != 3 || !strings.Contains(info.LastError, "always fails") {
		t.Fatalf("ran %d times, info %+v; want 3 attempts", n, info)
	}
}

func testPanic(t *testing.T, f Factory) {
	var rec recorder
	q := f(t, map[string]jobs.Handler{"test.panic": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		if rec.add(j) == 1 {
			panic("decoder bug")
		}
		return nil
	})}, 5)
	serve(t, q)
	id, _ := q.Enqueue(ctxT(t), "test.panic", "", nil)
	if info := WaitState(t, q, id, jobs.StateDone); info.Attempt != 2 {
		t.Fatalf("done at attempt %d, want 2", info.Attempt)
	}
}

func testInvalid(t *testing.T, f Factory) {
	q := f(t, map[string]jobs.Handler{"test.ok": jobs.HandlerFunc(func(context.Context, jobs.Job) error { return nil })}, 5)
	for _, tc := range []struct {
		kind, key string
		payload   []byte
	}{
		{"", "", nil},
		{"Test.Upper", "", nil},
		{"test ok", "", nil},
		{strings.Repeat("k", 65), "", nil},
		{"test.ok", strings.Repeat("k", jobs.MaxKeyLen+1), nil},
		{"test.ok", "with space", nil},
		{"test.ok", "naïve", nil},
		{"test.ok", "", bytes.Repeat([]byte("x"), jobs.MaxPayload+1)},
	} {
		if _, err := q.Enqueue(ctxT(t), tc.kind, tc.key, tc.payload); !errors.Is(err, jobs.ErrInvalidJob) {
			t.Fatalf("Enqueue(%.20q, %.20q, %d bytes) = %v, want ErrInvalidJob", tc.kind, tc.key, len(tc.payload), err)
		}
	}
	if _, err := q.Enqueue(ctxT(t), "test.ok", "", bytes.Repeat([]byte("x"), jobs.MaxPayload)); err != nil {
		t.Fatalf("Enqueue at the payload bound = %v", err)
	}
	for _, id := range []string{"999999999", "nope", ""} {
		if _, err := q.Get(ctxT(t), id); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testMany(t *testing.T, f Factory) {
	var mu sync.Mutex
	count := map[string]int{}
	q := f(t, map[string]jobs.Handler{"test.count": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		mu.Lock()
		count[string(j.Payload)]++
		mu.Unlock()
		return nil
	})}, 5)
	serve(t, q)
	const n = 40
	ids := make([]string, n)
	for i := range n {
		id, err := q.Enqueue(ctxT(t), "test.count", fmt.Sprintf("job-%d", i), []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	for _, id := range ids {
		WaitState(t, q, id, jobs.StateDone)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if c := count[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("job %d ran %d times, want 1", i, c)
		}
	}
}
