package pgjobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/lomuz/lomuz/origin/jobs"
)

// riverKind is the one river job kind Lomuz jobs travel as.
const riverKind = "lomuz_job"

// Config configures a Postgres-backed queue.
type Config struct {
	// Pool reaches the database holding river's tables (see Migrate). Required; the caller closes it.
	Pool *pgxpool.Pool
	// Handlers by job kind. Empty makes an enqueue-only queue (origin replicas): Serve then fails.
	Handlers map[string]jobs.Handler
	// Queue is the river queue name; workers of different pools of machines may use different queues.
	Queue string
	// ID names this client in river's attempted_by column; empty lets river pick one (host name and time).
	ID string
	// Workers is how many jobs this process runs at once: one transcode per core is the natural setting.
	Workers int
	// MaxAttempts is the attempt at which a failure is final.
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1-based).
	Backoff func(attempt int) time.Duration
	// JobTimeout bounds one attempt; 30 minutes covers a 2-hour master on a slow core.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is taken for abandoned by a dead worker; it must
	// exceed JobTimeout.
	RescueAfter time.Duration
	// ShutdownGrace is how long Serve lets running jobs finish after its context ends before canceling them.
	ShutdownGrace time.Duration
	// PollInterval is how often idle workers look for jobs besides river's LISTEN/NOTIFY wake-ups; at least
	// 100 ms (river's fetch cooldown).
	PollInterval time.Duration
	// Logger receives river's logs; nil logs warnings and errors to stderr.
	Logger *slog.Logger
}

// DefaultConfig returns the production defaults for a queue on pool.
func DefaultConfig(pool *pgxpool.Pool, handlers map[string]jobs.Handler) Config {
	return Config{
		Pool:          pool,
		Handlers:      handlers,
		Queue:         "lomuz",
		Workers:       1,
		MaxAttempts:   10,
		Backoff:       jobs.DefaultBackoff,
		JobTimeout:    30 * time.Minute,
		RescueAfter:   31 * time.Minute,
		ShutdownGrace: 30 * time.Second,
		PollInterval:  time.Second,
	}
}

func (c *Config) validate() error {
	if c.Pool == nil {
		return errors.New("pgjobs: Pool is required")
	}
	for kind, h := range c.Handlers {
		if err := jobs.Check(kind, "", nil); err != nil || h == nil {
			return fmt.Errorf("pgjobs: bad handler for kind %q", kind)
		}
	}
	d := DefaultConfig(c.Pool, c.Handlers)
	if c.Queue == "" {
		c.Queue = d.Queue
	}
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
	if c.RescueAfter <= 0 {
		c.RescueAfter = c.JobTimeout + time.Minute
	}
	if c.RescueAfter <= c.JobTimeout {
		return fmt.Errorf("pgjobs: RescueAfter %v must exceed JobTimeout %v, or live jobs would be rescued", c.RescueAfter, c.JobTimeout)
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
	if c.PollInterval <= 0 {
		c.PollInterval = d.PollInterval
	}
	if c.PollInterval < 100*time.Millisecond {
		return fmt.Errorf("pgjobs: PollInterval %v below river's 100 ms fetch cooldown", c.PollInterval)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return nil
}

// migrateLock is the advisory lock key that serializes Migrate across processes ("lomuzjob" in ASCII).
const migrateLock int64 = 0x6c6f6d757a6a6f62

// Migrate brings river's tables in the pool's database up to date. Safe to run at every start and from several
// processes at once: rivermigrate alone is not (two processes racing on a fresh database collide on its types), so
// Migrate holds a Postgres advisory lock while it runs.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgjobs: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return fmt.Errorf("pgjobs: migrate lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx ended; a lost connection releases the lock by itself.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLock)
	}()
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("pgjobs: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("pgjobs: migrate: %w", err)
	}
	return nil
}

// args is the river job args every Lomuz job travels as.
type args struct {
	JobKind string `json:"kind" river:"unique"`
	Key     string `json:"key" river:"unique"`
	Payload []byte `json:"payload,omitempty"`
}

func (args) Kind() string { return riverKind }

// Queue is a jobs.Queue over river. Safe for concurrent use.
type Queue struct {
	cfg    Config
	client *river.Client[pgx.Tx]
}

var _ jobs.Queue = (*Queue)(nil)

// New builds the queue; river's tables must exist (Migrate).
func New(cfg Config) (*Queue, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rc := &river.Config{
		ID:                   cfg.ID,
		Logger:               cfg.Logger,
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		RetryPolicy:          retryPolicy(cfg.Backoff),
		FetchPollInterval:    cfg.PollInterval,
		SoftStopTimeout:      cfg.ShutdownGrace,
	}
	if len(cfg.Handlers) > 0 {
		rc.Queues = map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}}
		rc.Workers = river.NewWorkers()
		if err := river.AddWorkerSafely(rc.Workers, &worker{handlers: cfg.Handlers}); err != nil {
			return nil, fmt.Errorf("pgjobs: %w", err)
		}
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("pgjobs: %w", err)
	}
	return &Queue{cfg: cfg, client: client}, nil
}

type retryPolicy func(attempt int) time.Duration

func (p retryPolicy) NextRetry(j *rivertype.JobRow) time.Time {
	return time.Now().Add(p(j.Attempt))
}

// Enqueue implements jobs.Enqueuer.
func (q *Queue) Enqueue(ctx context.Context, kind, key string, payload []byte) (string, error) {
	if err := jobs.Check(kind, key, payload); err != nil {
		return "", err
	}
	if len(q.cfg.Handlers) > 0 && q.cfg.Handlers[kind] == nil {
		return "", fmt.Errorf("%w: %q", jobs.ErrUnknownKind, kind)
	}
	opts := &river.InsertOpts{Queue: q.cfg.Queue, MaxAttempts: q.cfg.MaxAttempts}
	if key != "" {
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}}
	}
	res, err := q.client.Insert(ctx, args{JobKind: kind, Key: key, Payload: payload}, opts)
	if err != nil {
		return "", fmt.Errorf("pgjobs: enqueue %s: %w", kind, err)
	}
	return strconv.FormatInt(res.Job.ID, 10), nil
}

// Get implements jobs.Queue. Finished jobs are kept for river's retention periods (a day for completed ones).
func (q *Queue) Get(ctx context.Context, id string) (jobs.Info, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return jobs.Info{}, fmt.Errorf("%w: %q", jobs.ErrNotFound, id)
	}
	row, err := q.client.JobGet(ctx, n)
	if errors.Is(err, river.ErrNotFound) {
		return jobs.Info{}, fmt.Errorf("%w: %s", jobs.ErrNotFound, id)
	}
	if err != nil {
		return jobs.Info{}, fmt.Errorf("pgjobs: get %s: %w", id, err)
	}
	if row.Kind != riverKind {
		return jobs.Info{}, fmt.Errorf("%w: %s is not a Lomuz job", jobs.ErrNotFound, id)
	}
	return infoFromRow(row)
}

func infoFromRow(row *rivertype.JobRow) (jobs.Info, error) {
	a, err := decodeArgs(row.EncodedArgs)
	if err != nil {
		return jobs.Info{}, err
	}
	info := jobs.Info{Job: jobs.Job{ID: strconv.FormatInt(row.ID, 10), Kind: a.JobKind, Key: a.Key,
		Payload: a.Payload, Attempt: row.Attempt, MaxAttempts: row.MaxAttempts}}
	switch row.State {
	case rivertype.JobStateRunning:
		info.State = jobs.StateRunning
	case rivertype.JobStateRetryable:
		info.State = jobs.StateRetrying
	case rivertype.JobStateCompleted:
		info.State = jobs.StateDone
	case rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		info.State = jobs.StateFailed
	default: // available, pending, scheduled
		info.State = jobs.StatePending
		if row.Attempt > 0 {
			info.State = jobs.StateRetrying
		}
	}
	if len(row.Errors) > 0 {
		info.LastError = row.Errors[len(row.Errors)-1].Error
	}
	return info, nil
}

// Serve implements jobs.Queue.
func (q *Queue) Serve(ctx context.Context) error {
	if len(q.cfg.Handlers) == 0 {
		return errors.New("pgjobs: Serve on an enqueue-only queue (no handlers)")
	}
	// Start gets a context that ctx cannot cancel: canceling Start's context would be river's hard stop, and we
	// want the graceful one (SoftStopTimeout) below.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("pgjobs: start: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-q.client.Stopped():
		return errors.New("pgjobs: river client stopped on its own")
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), q.cfg.ShutdownGrace+30*time.Second)
	defer cancel()
	if err := q.client.Stop(stopCtx); err != nil {
		return fmt.Errorf("pgjobs: stop: %w", err)
	}
	return nil
}

// worker dispatches river jobs to Lomuz handlers.
type worker struct {
	river.WorkerDefaults[args]
	handlers map[string]jobs.Handler
}

func (w *worker) Work(ctx context.Context, j *river.Job[args]) error {
	h := w.handlers[j.Args.JobKind]
	if h == nil {
		// Perhaps a newer worker version knows this kind: retry rather than cancel.
		return fmt.Errorf("%w: %q", jobs.ErrUnknownKind, j.Args.JobKind)
	}
	err := h.Work(ctx, jobs.Job{ID: strconv.FormatInt(j.ID, 10), Kind: j.Args.JobKind, Key: j.Args.Key,
		Payload: j.Args.Payload, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts})
	if errors.Is(err, jobs.ErrPermanent) {
		return river.JobCancel(err)
	}
	return err
}
