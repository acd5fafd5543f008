package pgstore

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a PostgreSQL catalog.
type Config struct {
	// URL of the writer (primary), a libpq URL or DSN. Required.
	URL string
	// ReplicaURLs are read replicas (e.g. Aurora readers) used, round-robin, only for reads that tolerate lag:
	// SyncState, RecordsSince, LiveRecords and DeviceByCredential. A replica behind the revision a device
	// reports is not used for that read; a credential a replica does not know is looked up on the writer.
	ReplicaURLs []string
	// MaxConns bounds each pool (writer and every replica). Enough for the sync path's concurrency on a small
	// instance; 0 takes the default.
	MaxConns int32
	// RetryBackoff is the first wait before retrying a transient failure (connection refused or reset, admin
	// shutdown during a failover, serialization failure); it doubles up to MaxRetryBackoff, with jitter.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// RetryBudget bounds retrying when the caller's context has no deadline. With a deadline, retries stop at it.
	RetryBudget time.Duration
	// AnalyzeAfter and AnalyzeEvery: a transaction that writes at least AnalyzeAfter records and assets refreshes
	// the planner's statistics of both tables, at most once per AnalyzeEvery per process, so that full resyncs
	// and library searches keep their index plans right after a bulk import (see afterBulk). AnalyzeAfter < 0
	// disables it.
	AnalyzeAfter int
	AnalyzeEvery time.Duration
	// SkipMigrate leaves the embedded migrations unrun at Open; set it only when another process migrates.
	SkipMigrate bool
}

// DefaultConfig returns a Config for url with the defaults.
func DefaultConfig(url string) Config {
	return Config{
		URL:             url,
		MaxConns:        16,
		RetryBackoff:    10 * time.Millisecond,
		MaxRetryBackoff: 500 * time.Millisecond,
		RetryBudget:     15 * time.Second,
		AnalyzeAfter:    500,
		AnalyzeEvery:    10 * time.Second,
	}
}

// validate fills zero values with the defaults and rejects nonsense.
func (c *Config) validate() error {
	d := DefaultConfig(c.URL)
	if c.URL == "" {
		return errors.New("pgstore: URL is required")
	}
	if c.MaxConns == 0 {
		c.MaxConns = d.MaxConns
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = d.RetryBackoff
	}
	if c.MaxRetryBackoff == 0 {
		c.MaxRetryBackoff = d.MaxRetryBackoff
	}
	if c.RetryBudget == 0 {
		c.RetryBudget = d.RetryBudget
	}
	if c.AnalyzeAfter == 0 {
		c.AnalyzeAfter = d.AnalyzeAfter
	}
	if c.AnalyzeAfter < 0 {
		c.AnalyzeAfter = int(^uint(0) >> 1)
	}
	if c.AnalyzeEvery == 0 {
		c.AnalyzeEvery = d.AnalyzeEvery
	}
	switch {
	case c.MaxConns < 1 || c.MaxConns > 1000:
		return fmt.Errorf("pgstore: MaxConns %d outside 1..1000", c.MaxConns)
	case c.RetryBackoff < 0 || c.MaxRetryBackoff < c.RetryBackoff:
		return fmt.Errorf("pgstore: RetryBackoff %v must be >= 0 and <= MaxRetryBackoff %v", c.RetryBackoff, c.MaxRetryBackoff)
	case c.AnalyzeEvery < 0:
		return fmt.Errorf("pgstore: AnalyzeEvery %v is negative", c.AnalyzeEvery)
	case c.RetryBudget < 0:
		return fmt.Errorf("pgstore: RetryBudget %v is negative", c.RetryBudget)
	}
	for _, u := range c.ReplicaURLs {
		if u == "" {
			return errors.New("pgstore: empty replica URL")
		}
	}
	return nil
}
