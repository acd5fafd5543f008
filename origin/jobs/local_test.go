package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/jobs/jobstest"
)

func newLocal(t *testing.T, dir string, handlers map[string]jobs.Handler, maxAttempts int) *jobs.Local {
	t.Helper()
	cfg := jobs.DefaultLocalConfig(dir, handlers)
	cfg.MaxAttempts = maxAttempts
	cfg.Backoff = func(int) time.Duration { return 5 * time.Millisecond }
	cfg.Workers = 2
	q, err := jobs.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestLocalConformance(t *testing.T) {
	jobstest.Run(t, func(t *testing.T, h map[string]jobs.Handler, max int) jobs.Queue { return newLocal(t, "", h, max) })
}

func TestLocalDurableConformance(t *testing.T) {
	jobstest.Run(t, func(t *testing.T, h map[string]jobs.Handler, max int) jobs.Queue {
		return newLocal(t, t.TempDir(), h, max)
	})
}

func TestLocalJobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	done := make(chan jobs.Job, 1)
	handlers := map[string]jobs.Handler{"test.x": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		done <- j
		return nil
	})}
	first := newLocal(t, dir, handlers, 5)
	id, err := first.Enqueue(context.Background(), "test.x", "k", []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	// The process stops before any worker ran: a new queue on the directory runs the job.
	second := newLocal(t, dir, handlers, 5)
	if again, _ := second.Enqueue(context.Background(), "test.x", "k", nil); again != id {
		t.Fatalf("reloaded queue did not deduplicate: %s vs %s", again, id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go second.Serve(ctx)
	select {
	case j := <-done:
		if j.ID != id || string(j.Payload) != "p" || j.Attempt != 1 {
			t.Fatalf("ran %+v", j)
		}
	case <-time.After(jobstest.Timeout):
		t.Fatal("job did not run after restart")
	}
	jobstest.WaitState(t, second, id, jobs.StateDone)
	if left, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(left) != 0 {
		t.Fatalf("job files left after the job finished: %v", left)
	}
}

func TestLocalJobRunningAtCrashIsRetried(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{})
	hang := jobs.HandlerFunc(func(ctx context.Context, j jobs.Job) error {
		close(started)
		<-ctx.Done() // the "crashed" process never finishes
		return ctx.Err()
	})
	crashed := newLocal(t, dir, map[string]jobs.Handler{"test.x": hang}, 5)
	id, _ := crashed.Enqueue(context.Background(), "test.x", "k", nil)
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	go crashed.Serve(cctx)
	<-started

	// A new process opens the directory while the file still says "running".
	var got jobs.Job
	ran := make(chan struct{})
	next := newLocal(t, dir, map[string]jobs.Handler{"test.x": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		got = j
		close(ran)
		return nil
	})}, 5)
	info, err := next.Get(context.Background(), id)
	if err != nil || info.State != jobs.StatePending || info.Attempt != 1 {
		t.Fatalf("reloaded job = %+v, %v; want pending after 1 attempt", info, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go next.Serve(ctx)
	select {
	case <-ran:
	case <-time.After(jobstest.Timeout):
		t.Fatal("interrupted job was not retried")
	}
	if got.Attempt != 2 {
		t.Fatalf("retry ran as attempt %d, want 2", got.Attempt)
	}
}

func TestLocalShutdownPutsJobBack(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	cfg := jobs.DefaultLocalConfig(dir, map[string]jobs.Handler{"test.x": jobs.HandlerFunc(func(ctx context.Context, j jobs.Job) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})})
	cfg.ShutdownGrace = 10 * time.Millisecond
	q, err := jobs.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := q.Enqueue(context.Background(), "test.x", "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- q.Serve(ctx) }()
	<-started
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	info, _ := q.Get(context.Background(), id)
	if info.State != jobs.StatePending || info.Attempt != 0 {
		t.Fatalf("after shutdown the job is %+v; want pending with the attempt not counted", info)
	}
}

func TestLocalRejectsCorruptJobFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "abc.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := jobs.NewLocal(jobs.DefaultLocalConfig(dir, map[string]jobs.Handler{
		"test.x": jobs.HandlerFunc(func(context.Context, jobs.Job) error { return nil })}))
	if err == nil {
		t.Fatal("NewLocal accepted a corrupt job file")
	}
}
