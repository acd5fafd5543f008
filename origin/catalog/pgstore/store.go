package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/lomuz/lomuz/origin/catalog"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ catalog.Store = (*Store)(nil)

// Store is the PostgreSQL catalog. It is safe for concurrent use.
type Store struct {
	cfg      Config
	w        *pgxpool.Pool
	replicas []*pgxpool.Pool
	next     atomic.Uint32 // round-robin over replicas
	closed   atomic.Bool
	// lastAnalyze is when afterBulk last ran ANALYZE (unix ns).
	lastAnalyze atomic.Int64
}

// Open connects to the writer (and replicas), runs the embedded migrations unless cfg.SkipMigrate, and returns the
// store. Close it when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg}
	w, err := s.pool(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgstore: writer: %w", err)
	}
	s.w = w
	for i, u := range cfg.ReplicaURLs {
		r, err := s.pool(ctx, u)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("pgstore: replica %d: %w", i, err)
		}
		s.replicas = append(s.replicas, r)
	}
	if !cfg.SkipMigrate {
		if err := s.retry(ctx, s.migrate); err != nil {
			s.Close()
			return nil, fmt.Errorf("pgstore: migrate: %w", err)
		}
	}
	return s, nil
}

func (s *Store) pool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = s.cfg.MaxConns
	return pgxpool.NewWithConfig(ctx, pc)
}

// migrate runs goose over the embedded migrations, holding a session advisory lock so that origin replicas
// starting together migrate one at a time.
func (s *Store) migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.w)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// 0x6c6f6d757a = "lomuz": an arbitrary key shared by every origin process.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(465675134330)"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(465675134330)")
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes the pools. Calls after Close return catalog.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.w != nil {
		s.w.Close()
	}
	for _, r := range s.replicas {
		r.Close()
	}
	return nil
}

// reader picks a replica round-robin, or the writer when there is none.
func (s *Store) reader() *pgxpool.Pool {
	if len(s.replicas) == 0 {
		return s.w
	}
	return s.replicas[int(s.next.Add(1))%len(s.replicas)]
}

// retry runs op until it succeeds, fails with an error that is not transient, or the time is up (ctx's deadline,
// else cfg.RetryBudget), sleeping with exponential backoff and jitter in between.
func (s *Store) retry(ctx context.Context, op func(context.Context) error) error {
	if s.closed.Load() {
		return catalog.ErrClosed
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.cfg.RetryBudget)
	}
	backoff := s.cfg.RetryBackoff
	for {
		err := op(ctx)
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		// Full jitter in [backoff/2, backoff): replicas restarting together do not retry in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, s.cfg.MaxRetryBackoff)
	}
}

// transient reports whether err is worth retrying: the server or the connection went away (failover, restart)
// or the transaction lost a race that a retry wins.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"25006": // read_only_sql_transaction: a writer demoted during a failover
			return true
		}
		return len(pe.Code) == 5 && pe.Code[:2] == "08" // connection_exception
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	// ErrConnClosed: the connection died earlier in this operation (a pooled connection to a server that
	// restarted). pgx does not call it safe because a request may have been sent; like EOF, it is retried here:
	// reads are idempotent, play events are stored once whatever the retries, a sync-log row may at worst be
	// written twice, and Update turns a failed COMMIT into ErrCommitUnknown before this is asked. Without it,
	// PostgreSQL restarts under load answered some device syncs 500 (RELIABILITY.md).
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// notFound turns pgx.ErrNoRows into catalog.ErrNotFound with what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", catalog.ErrNotFound, what)
	}
	return err
}
