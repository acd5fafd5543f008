package embedded

import (
	"fmt"
	"log/slog"
	"strings"
)

// Config configures the embedded catalog. The defaults keep a small footprint (tens of MiB of RAM), which suits
// one box serving a demo or a small chain; raise the caches for large catalogs.
type Config struct {
	// Dir holds the database. Required; created if missing.
	Dir string
	// MemTableSize is the size of each in-memory table, bytes. It must exceed the largest value (a record body is
	// at most 1 MiB) several times over: badger refuses to open below ~6.7 MiB with 1 MiB values.
	MemTableSize int64
	// NumMemtables bounds the memtables kept before writes stall (each MemTableSize bytes).
	NumMemtables int
	// BlockCacheSize and IndexCacheSize are badger's caches, bytes. BlockCacheSize must not be 0 if compression is
	// ever turned on (badger panics); it is off here.
	BlockCacheSize int64
	IndexCacheSize int64
	// ValueLogFileSize is the size of each write-ahead log file, bytes, in [1 MiB, 2 GiB).
	ValueLogFileSize int64
	// NumCompactors must be 0 (none) or at least 2: badger rejects 1.
	NumCompactors int
	// NoSyncWrites skips the fsync at every commit. By default every committed write (play events, sync logs
	// included) survives a power loss, as the API promises for acknowledged syncs.
	NoSyncWrites bool
	// Logger receives badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// MaxRetries bounds how often a transaction that lost an optimistic-concurrency race is re-run.
	MaxRetries int
}

// DefaultConfig returns the defaults for a database in dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:              dir,
		MemTableSize:     16 << 20,
		NumMemtables:     2,
		BlockCacheSize:   16 << 20,
		IndexCacheSize:   8 << 20,
		ValueLogFileSize: 64 << 20,
		NumCompactors:    2,
		MaxRetries:       20,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig(c.Dir)
	if c.Dir == "" {
		return fmt.Errorf("embedded: Dir is required")
	}
	fill := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.MemTableSize, d.MemTableSize)
	fill(&c.BlockCacheSize, d.BlockCacheSize)
	fill(&c.IndexCacheSize, d.IndexCacheSize)
	fill(&c.ValueLogFileSize, d.ValueLogFileSize)
	if c.NumMemtables == 0 {
		c.NumMemtables = d.NumMemtables
	}
	if c.NumCompactors == 0 {
		c.NumCompactors = d.NumCompactors
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	switch {
	case c.MemTableSize < 8<<20:
		return fmt.Errorf("embedded: MemTableSize %d below 8 MiB (badger refuses it with 1 MiB values)", c.MemTableSize)
	case c.NumMemtables < 1:
		return fmt.Errorf("embedded: NumMemtables %d < 1", c.NumMemtables)
	case c.NumCompactors < 2:
		return fmt.Errorf("embedded: NumCompactors %d: badger needs at least 2", c.NumCompactors)
	case c.BlockCacheSize < 0 || c.IndexCacheSize < 0:
		return fmt.Errorf("embedded: negative cache size")
	case c.ValueLogFileSize < 1<<20 || c.ValueLogFileSize >= 2<<30:
		return fmt.Errorf("embedded: ValueLogFileSize %d outside [1 MiB, 2 GiB)", c.ValueLogFileSize)
	case c.MaxRetries < 1:
		return fmt.Errorf("embedded: MaxRetries %d < 1", c.MaxRetries)
	}
	return nil
}

// badgerLogger forwards badger's warnings and errors and drops its per-compaction info lines.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}

func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
