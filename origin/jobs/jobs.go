package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Bounds on what a job carries.
const (
	MaxPayload = 64 << 10 // bytes
	MaxKeyLen  = 256      // bytes
)

// Sentinel errors; compare with errors.Is.
var (
	ErrInvalidJob  = errors.New("jobs: invalid job")
	ErrNotFound    = errors.New("jobs: no such job")
	ErrUnknownKind = errors.New("jobs: no handler for kind")
	// ErrPermanent marks a handler error that retrying cannot fix (a master ffmpeg cannot decode).
	ErrPermanent = errors.New("permanent failure")
)

// Job is one unit of work as a handler sees it.
type Job struct {
	ID          string // assigned by the queue, unique within it
	Kind        string // selects the handler
	Key         string // deduplication key; may be empty
	Payload     []byte // the handler's input; owned by the handler for the duration of Work
	Attempt     int    // 1 on the first run
	MaxAttempts int    // the attempt at which a failure becomes final
}

// Handler runs jobs of one kind.
//
// Work is called from the queue's worker goroutines, possibly concurrently for different jobs, and may block until
// ctx ends (shutdown or the queue's job timeout), after which it should return promptly. It returns nil when done,
// an error to be retried with backoff, or Permanent(err) to give up at once. It must be idempotent.
type Handler interface {
	Work(ctx context.Context, j Job) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, j Job) error

// Work implements Handler.
func (f HandlerFunc) Work(ctx context.Context, j Job) error { return f(ctx, j) }

// Enqueuer adds jobs; it is what code that only schedules work (origin's ingest) depends on. Safe for concurrent use;
// blocks until the job is durable (for Local with a directory: fsynced; for pgjobs: committed).
type Enqueuer interface {
	// Enqueue adds a job and returns its id, or the id of the unfinished job with the same kind and key. The queue
	// copies payload.
	Enqueue(ctx context.Context, kind, key string, payload []byte) (id string, err error)
}

// State is where a job is in its life.
type State string

// Job states as Info reports them.
const (
	StatePending  State = "pending"  // waiting for a worker
	StateRunning  State = "running"  // a worker holds it
	StateRetrying State = "retrying" // failed an attempt; waiting for its backoff to pass
	StateDone     State = "done"     // a handler returned nil
	StateFailed   State = "failed"   // gave up: permanent error or attempts spent
)

// Info describes a job for operators and tests.
type Info struct {
	Job
	State     State
	LastError string // the last attempt's error, if any
}

// Queue is a durable job queue: an Enqueuer plus the workers that run its jobs.
type Queue interface {
	Enqueuer
	// Get describes a job by id, or fails with ErrNotFound (also for finished jobs the queue no longer keeps).
	Get(ctx context.Context, id string) (Info, error)
	// Serve runs the queue's handlers on its jobs until ctx ends. It then stops taking jobs, cancels running
	// handlers' contexts after a grace period, waits for them and returns nil. A job interrupted this way is put
	// back to run again; the interruption does not count as an attempt. Serve may be called once.
	Serve(ctx context.Context) error
}

// Permanent wraps err so that queues do not retry the job.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

type permanent struct{ err error }

func (p permanent) Error() string        { return "permanent failure: " + p.err.Error() }
func (p permanent) Unwrap() []error      { return []error{ErrPermanent, p.err} }
func (p permanent) Is(target error) bool { return target == ErrPermanent }

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// Check validates a job's kind, key and payload against the bounds in the package doc.
func Check(kind, key string, payload []byte) error {
	if !kindRE.MatchString(kind) {
		return fmt.Errorf("%w: kind %q must match %s", ErrInvalidJob, kind, kindRE)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %d bytes, limit %d", ErrInvalidJob, len(key), MaxKeyLen)
	}
	for _, c := range []byte(key) {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: key %q has a non-printable or non-ASCII byte", ErrInvalidJob, key)
		}
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes, limit %d", ErrInvalidJob, len(payload), MaxPayload)
	}
	return nil
}

// DefaultBackoff waits 2^(attempt-1) seconds after a failed attempt, capped at 10 minutes: a master stuck behind a
// failing blob store is retried within the hour, a flapping one does not spin.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 10 {
		return 10 * time.Minute
	}
	return min(time.Duration(1<<(attempt-1))*time.Second, 10*time.Minute)
}
