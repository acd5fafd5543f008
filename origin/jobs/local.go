package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LocalConfig configures the in-process queue.
type LocalConfig struct {
	// Dir, when set, makes jobs durable: one file per unfinished job. Empty keeps jobs in memory only (tests, demo).
	Dir string
	// Handlers by job kind. Enqueue refuses kinds without a handler: the local queue is its own only worker.
	Handlers map[string]Handler
	// Workers is how many jobs run at once. One by default: a transcode keeps a core busy and origin shares the
	// machine.
	Workers int
	// MaxAttempts is the attempt at which a failure is final (10: with DefaultBackoff about 17 minutes of retries).
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1-based) before the next.
	Backoff func(attempt int) time.Duration
	// JobTimeout bounds one attempt; 30 minutes covers a 2-hour master on a slow core.
	JobTimeout time.Duration
	// ShutdownGrace is how long Serve lets running handlers finish after its context ends before canceling them.
	ShutdownGrace time.Duration
	// KeepFinished is how many finished jobs Get still describes (oldest forgotten first).
	KeepFinished int
}

// DefaultLocalConfig returns the defaults for an in-process queue with the given handlers.
func DefaultLocalConfig(dir string, handlers map[string]Handler) LocalConfig {
	return LocalConfig{
		Dir:           dir,
		Handlers:      handlers,
		Workers:       1,
		MaxAttempts:   10,
		Backoff:       DefaultBackoff,
		JobTimeout:    30 * time.Minute,
		ShutdownGrace: 10 * time.Second,
		KeepFinished:  1000,
	}
}

func (c *LocalConfig) validate() error {
	if len(c.Handlers) == 0 {
		return errors.New("jobs: local queue needs at least one handler")
	}
	for kind, h := range c.Handlers {
		if err := Check(kind, "", nil); err != nil || h == nil {
			return fmt.Errorf("jobs: bad handler for kind %q", kind)
		}
	}
	d := DefaultLocalConfig(c.Dir, c.Handlers)
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Backoff == nil {
		c.Backoff = d.Backoff
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = d.JobTimeout
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
	if c.KeepFinished <= 0 {
		c.KeepFinished = d.KeepFinished
	}
	return nil
}

// record is a job's state, in memory and (JSON) on disk.
type record struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Key         string    `json:"key,omitempty"`
	Payload     []byte    `json:"payload,omitempty"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	State       State     `json:"state"`
	RunAt       time.Time `json:"run_at"`
	LastError   string    `json:"last_error,omitempty"`
}

func (r *record) info() Info {
	return Info{
		Job: Job{ID: r.ID, Kind: r.Kind, Key: r.Key, Payload: append([]byte(nil), r.Payload...),
			Attempt: r.Attempt, MaxAttempts: r.MaxAttempts},
		State: r.State, LastError: r.LastError,
	}
}

// Local is the in-process Queue. Safe for concurrent use.
type Local struct {
	cfg LocalConfig

	mu       sync.Mutex
	jobs     map[string]*record
	unique   map[string]string // kind + "\x00" + key -> id of the unfinished job
	finished []string          // ids of finished jobs, oldest first, for eviction
	serving  bool
	wake     chan struct{} // capacity 1: a job became ready
}

var _ Queue = (*Local)(nil)

// NewLocal opens the queue, loading the unfinished jobs of cfg.Dir if set. Jobs that were running when the process
// stopped are retried (or failed, when that was their last attempt).
func NewLocal(cfg LocalConfig) (*Local, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := &Local{cfg: cfg, jobs: map[string]*record{}, unique: map[string]string{}, wake: make(chan struct{}, 1)}
	if cfg.Dir == "" {
		return q, nil
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := readRecord(filepath.Join(cfg.Dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if r.State == StateRunning {
			r.LastError = "interrupted: the process stopped during the attempt"
			if r.Attempt >= r.MaxAttempts {
				r.State = StateFailed
			} else {
				r.State = StatePending
			}
		}
		q.jobs[r.ID] = r
		if r.State == StateFailed {
			q.finish(r)
			if err := q.remove(r); err != nil {
				return nil, err
			}
			continue
		}
		if r.Key != "" {
			q.unique[r.Kind+"\x00"+r.Key] = r.ID
		}
	}
	return q, nil
}

func readRecord(path string) (*record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer f.Close()
	// A record holds at most MaxPayload bytes of payload, base64-encoded, and a few short fields.
	b, err := io.ReadAll(io.LimitReader(f, 2*MaxPayload+16<<10))
	if err != nil {
		return nil, fmt.Errorf("jobs: read %s: %w", path, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("jobs: job file %s is corrupt: %w", path, err)
	}
	if err := Check(r.Kind, r.Key, r.Payload); err != nil || r.ID+".json" != filepath.Base(path) {
		return nil, fmt.Errorf("jobs: job file %s is invalid: %v", path, err)
	}
	return &r, nil
}

// persist writes r's file atomically. Called with q.mu held: jobs are few and small, and holding the lock keeps the
// file in step with memory.
func (q *Local) persist(r *record) error {
	if q.cfg.Dir == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(q.cfg.Dir, "tmp"), "job-*")
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("jobs: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("jobs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(q.cfg.Dir, r.ID+".json")); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	return syncDir(q.cfg.Dir)
}

func (q *Local) remove(r *record) error {
	if q.cfg.Dir == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(q.cfg.Dir, r.ID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("jobs: %w", err)
	}
	return syncDir(q.cfg.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("jobs: sync %s: %w", dir, err)
	}
	return nil
}

// finish records r as finished and forgets the oldest finished jobs beyond KeepFinished. Called with q.mu held.
func (q *Local) finish(r *record) {
	if r.Key != "" && q.unique[r.Kind+"\x00"+r.Key] == r.ID {
		delete(q.unique, r.Kind+"\x00"+r.Key)
	}
	q.finished = append(q.finished, r.ID)
	for len(q.finished) > q.cfg.KeepFinished {
		delete(q.jobs, q.finished[0])
		q.finished = q.finished[1:]
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// Time first so ids sort by creation, for humans reading the directory.
	return fmt.Sprintf("%016x%s", time.Now().UnixNano(), hex.EncodeToString(b[:]))
}

// Enqueue implements Enqueuer.
func (q *Local) Enqueue(_ context.Context, kind, key string, payload []byte) (string, error) {
	if err := Check(kind, key, payload); err != nil {
		return "", err
	}
	if q.cfg.Handlers[kind] == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if key != "" {
		if id, ok := q.unique[kind+"\x00"+key]; ok {
			return id, nil
		}
	}
	r := &record{ID: newID(), Kind: kind, Key: key, Payload: append([]byte(nil), payload...),
		MaxAttempts: q.cfg.MaxAttempts, State: StatePending, RunAt: time.Now()}
	if err := q.persist(r); err != nil {
		return "", err
	}
	q.jobs[r.ID] = r
	if key != "" {
		q.unique[kind+"\x00"+key] = r.ID
	}
	q.poke()
	return r.ID, nil
}

func (q *Local) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Get implements Queue.
func (q *Local) Get(_ context.Context, id string) (Info, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.jobs[id]
	if !ok {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r.info(), nil
}

// claim takes the ready job that has waited longest and marks it running, or says how long until one is ready
// (wait < 0: none waiting at all).
func (q *Local) claim(now time.Time) (*record, Job, time.Duration, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var best *record
	wait := time.Duration(-1)
	for _, r := range q.jobs {
		if r.State != StatePending && r.State != StateRetrying {
			continue
		}
		if r.RunAt.After(now) {
			if d := r.RunAt.Sub(now); wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		if best == nil || r.RunAt.Before(best.RunAt) || r.RunAt.Equal(best.RunAt) && r.ID < best.ID {
			best = r
		}
	}
	if best == nil {
		return nil, Job{}, wait, nil
	}
	prev := *best
	best.State, best.Attempt = StateRunning, best.Attempt+1
	if err := q.persist(best); err != nil {
		*best = prev
		return nil, Job{}, 0, err
	}
	return best, best.info().Job, 0, nil // a copy: the handler owns its payload
}

// settle records the outcome of an attempt.
func (q *Local) settle(r *record, err error, interrupted bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case interrupted:
		// Shutdown is not the job's fault: the attempt does not count.
		r.State, r.Attempt, r.RunAt = StatePending, r.Attempt-1, time.Now()
		return q.persist(r)
	case err == nil:
		r.State, r.LastError = StateDone, ""
	case errors.Is(err, ErrPermanent) || r.Attempt >= r.MaxAttempts:
		r.State, r.LastError = StateFailed, err.Error()
	default:
		r.State, r.LastError = StateRetrying, err.Error()
		r.RunAt = time.Now().Add(q.cfg.Backoff(r.Attempt))
		return q.persist(r)
	}
	q.finish(r)
	return q.remove(r)
}

// Serve implements Queue. It returns early with an error only when a job's file cannot be written (disk full):
// the queue cannot keep its promises then, and the caller should know.
func (q *Local) Serve(ctx context.Context) error {
	q.mu.Lock()
	if q.serving {
		q.mu.Unlock()
		return errors.New("jobs: Serve called twice")
	}
	q.serving = true
	q.mu.Unlock()

	// Handlers get a context that outlives ctx by ShutdownGrace, so a job about to finish can finish.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(q.cfg.ShutdownGrace, hcancel) })
	defer stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	fail := make(chan error, q.cfg.Workers)
	sem := make(chan struct{}, q.cfg.Workers)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case sem <- struct{}{}:
		case err := <-fail:
			return err
		case <-ctx.Done():
			return nil
		}
		var r *record
		var job Job
		for r == nil {
			var wait time.Duration
			var err error
			r, job, wait, err = q.claim(time.Now())
			if err != nil {
				return err
			}
			if r != nil {
				break
			}
			if wait < 0 {
				wait = time.Hour
			}
			timer.Reset(wait)
			select {
			case <-q.wake:
			case <-timer.C:
			case err := <-fail:
				return err
			case <-ctx.Done():
				return nil
			}
		}
		wg.Go(func() {
			defer func() { <-sem; q.poke() }()
			err := q.run(hctx, job)
			if serr := q.settle(r, err, err != nil && ctx.Err() != nil); serr != nil {
				fail <- serr // capacity Workers: never blocks
			}
		})
	}
}

// run performs one attempt, turning a panic into an error so one bad job cannot take origin down.
func (q *Local) run(ctx context.Context, j Job) (err error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.JobTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return q.cfg.Handlers[j.Kind].Work(ctx, j)
}
