package pgjobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/jobs/jobstest"
	"github.com/lomuz/lomuz/origin/jobs/pgjobs"
)

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgjobs.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestConformance(t *testing.T) {
	jobstest.Run(t, func(t *testing.T, h map[string]jobs.Handler, maxAttempts int) jobs.Queue {
		cfg := pgjobs.DefaultConfig(newPool(t), h)
		cfg.MaxAttempts = maxAttempts
		cfg.Workers = 2
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
		cfg.PollInterval = 100 * time.Millisecond
		cfg.ShutdownGrace = time.Second
		q, err := pgjobs.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}

func TestMigrateTwice(t *testing.T) {
	pool := newPool(t)
	if err := pgjobs.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}

// Workers and origin replicas starting together on a fresh database all migrate at once.
func TestMigrateConcurrently(t *testing.T) {
	url := testenv.Postgres(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			pool, err := pgxpool.New(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- pgjobs.Migrate(context.Background(), pool)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
}

func TestEnqueueOnlyQueue(t *testing.T) {
	pool := newPool(t)
	producer, err := pgjobs.New(pgjobs.DefaultConfig(pool, nil))
	if err != nil {
		t.Fatal(err)
	}
	id, err := producer.Enqueue(context.Background(), "any.kind", "k", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := producer.Enqueue(context.Background(), "any.kind", "k", nil); again != id {
		t.Fatalf("duplicate enqueue got %s, want %s", again, id)
	}
	if err := producer.Serve(context.Background()); err == nil {
		t.Fatal("Serve on an enqueue-only queue succeeded")
	}
	// A worker process with the handler picks the job up.
	done := make(chan jobs.Job, 1)
	cfg := pgjobs.DefaultConfig(pool, map[string]jobs.Handler{"any.kind": jobs.HandlerFunc(func(_ context.Context, j jobs.Job) error {
		done <- j
		return nil
	})})
	cfg.PollInterval = 100 * time.Millisecond
	worker, err := pgjobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- worker.Serve(ctx) }()
	select {
	case j := <-done:
		if j.ID != id || string(j.Payload) != "x" {
			t.Fatalf("worker got %+v", j)
		}
	case <-time.After(jobstest.Timeout):
		t.Fatal("worker did not get the job")
	}
	jobstest.WaitState(t, producer, id, jobs.StateDone)
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestRescueAfterMustExceedJobTimeout(t *testing.T) {
	cfg := pgjobs.DefaultConfig(newPool(t), nil)
	cfg.JobTimeout, cfg.RescueAfter = time.Minute, time.Minute
	if _, err := pgjobs.New(cfg); err == nil {
		t.Fatal("New accepted RescueAfter == JobTimeout")
	}
}
