package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrNotFound: the key, record or value was never written (or was deleted).
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid: the caller passed a value outside the documented bounds; nothing was written.
	ErrInvalid = errors.New("store: invalid argument")
)

// Bounds on what the store accepts. They keep every value inside badger's LSM tree (ValueThreshold) and keep a
// corrupt or hostile input from growing the database without limit.
const (
	MaxKeyLen    = 512      // bytes of a catalog key, zone id or asset id
	MaxRecordLen = 64 << 10 // bytes of one encoded catalog record
	MaxPlayLen   = 4 << 10  // bytes of one encoded proof-of-play event
	MaxBlobLen   = 16 << 10 // bytes of the trusted-time state or the enrollment credentials
)

// Config tunes the badger database for a small device. Fields left zero are filled by validate from
// DefaultConfig.
type Config struct {
	// Dir holds the database files; created if missing.
	Dir string
	// MemTableSize in bytes. Badger keeps NumMemtables of them in RAM and limits one transaction (so one atomic
	// catalog delta) to 15% of one: 8 MiB allows ~1.2 MiB deltas. At least 1 MiB, so that a 64 KiB value fits a
	// batch (badger refuses to open otherwise).
	MemTableSize int64
	// NumMemtables in RAM before writes stall; 2 lets one flush while the other fills.
	NumMemtables int
	// BlockCacheSize in bytes for decoded table blocks; a device's working set (catalog, history) is a few MiB.
	BlockCacheSize int64
	// IndexCacheSize in bytes for table indexes and bloom filters (0 in badger means "all in RAM").
	IndexCacheSize int64
	// ValueLogFileSize in bytes of each value-log file (mmapped); small files keep the mapped set small.
	ValueLogFileSize int64
	// NumLevelZeroTables before compaction starts, and NumLevelZeroTablesStall before writes stall.
	NumLevelZeroTables      int
	NumLevelZeroTablesStall int
	// NumCompactors: badger requires 0 or at least 2.
	NumCompactors int
	// Logger receives badger's warnings and errors; nil discards them. Info and debug lines are dropped.
	Logger *slog.Logger
}

// DefaultConfig is the configuration for a device with 512 MiB to 1 GiB of RAM.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                     dir,
		MemTableSize:            8 << 20,
		NumMemtables:            2,
		BlockCacheSize:          4 << 20,
		IndexCacheSize:          2 << 20,
		ValueLogFileSize:        16 << 20,
		NumLevelZeroTables:      2,
		NumLevelZeroTablesStall: 4,
		NumCompactors:           2,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig(c.Dir)
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir is empty", ErrInvalid)
	}
	fill64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill64(&c.MemTableSize, d.MemTableSize)
	fill(&c.NumMemtables, d.NumMemtables)
	fill64(&c.BlockCacheSize, d.BlockCacheSize)
	fill64(&c.IndexCacheSize, d.IndexCacheSize)
	fill64(&c.ValueLogFileSize, d.ValueLogFileSize)
	fill(&c.NumLevelZeroTables, d.NumLevelZeroTables)
	fill(&c.NumLevelZeroTablesStall, d.NumLevelZeroTablesStall)
	fill(&c.NumCompactors, d.NumCompactors)
	switch {
	case c.MemTableSize < 1<<20:
		return fmt.Errorf("%w: MemTableSize %d < 1 MiB (badger refuses it with 64 KiB values)", ErrInvalid, c.MemTableSize)
	case c.NumCompactors == 1:
		return fmt.Errorf("%w: NumCompactors must not be 1", ErrInvalid)
	case c.NumMemtables < 1 || c.NumLevelZeroTables < 1:
		return fmt.Errorf("%w: NumMemtables and NumLevelZeroTables must be positive", ErrInvalid)
	case c.NumLevelZeroTablesStall <= c.NumLevelZeroTables:
		return fmt.Errorf("%w: NumLevelZeroTablesStall must exceed NumLevelZeroTables", ErrInvalid)
	case c.BlockCacheSize < 0 || c.IndexCacheSize < 0:
		return fmt.Errorf("%w: negative cache size", ErrInvalid)
	case c.ValueLogFileSize < 1<<20 || c.ValueLogFileSize >= 2<<30:
		return fmt.Errorf("%w: ValueLogFileSize must be in [1 MiB, 2 GiB)", ErrInvalid)
	}
	return nil
}

func (c Config) badgerOptions() badger.Options {
	return badger.DefaultOptions(c.Dir).
		WithMemTableSize(c.MemTableSize).
		WithNumMemtables(c.NumMemtables).
		WithBlockCacheSize(c.BlockCacheSize).
		WithIndexCacheSize(c.IndexCacheSize).
		WithValueLogFileSize(c.ValueLogFileSize).
		WithNumLevelZeroTables(c.NumLevelZeroTables).
		WithNumLevelZeroTablesStall(c.NumLevelZeroTablesStall).
		WithNumCompactors(c.NumCompactors).
		WithCompression(options.None).
		WithValueThreshold(MaxRecordLen).
		WithBaseTableSize(2 << 20).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{c.Logger})
}

// Store is the device's local database. Safe for concurrent use.
type Store struct {
	db     *badger.DB
	playMu sync.Mutex // serialises play sequence allocation (see AppendPlay)
}

// Open opens (or creates) the database in cfg.Dir. After a crash badger replays its write-ahead log; a database
// that cannot be opened is reported, never silently recreated: the caller decides whether to wipe it.
func Open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := badger.Open(cfg.badgerOptions())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Dir, err)
	}
	return &Store{db: db}, nil
}

// Close flushes and closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Check verifies the checksums of every table on disk (the boot-time database check). It reads the whole LSM tree:
// a few milliseconds for a device's catalog.
func (s *Store) Check() error {
	if err := s.db.VerifyChecksum(); err != nil {
		return fmt.Errorf("store: checksum: %w", err)
	}
	return nil
}

// Size reports the bytes on disk of the LSM tree and the value log.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// Key prefixes. One byte each; the rest of the key is documented per prefix.
const (
	pCatalog  = 'c' // c + record key -> rev (8 bytes BE) + record bytes
	pHistory  = 'h' // h + zone + 0x00 + asset -> unix nanoseconds (8 bytes BE)
	pPlay     = 'p' // p + seq (8 bytes BE) -> event bytes
	pMeta     = 'm' // m + name -> value
	metaRev   = "catalog-rev"
	metaSeq   = "play-seq"
	metaTime  = "trusted-time"
	metaEnrol = "enrollment"
)

func metaKey(name string) []byte { return append([]byte{pMeta}, name...) }

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func (s *Store) sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// get returns a copy of the value at key, or ErrNotFound.
func (s *Store) get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

func (s *Store) putDurable(key, value []byte) error {
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.sync()
}

func checkBlob(what string, v []byte) error {
	if len(v) == 0 || len(v) > MaxBlobLen {
		return fmt.Errorf("%w: %s of %d bytes (want 1..%d)", ErrInvalid, what, len(v), MaxBlobLen)
	}
	return nil
}

// SetTrustedTime durably replaces the trusted-time state (opaque to the store; the node encodes it).
// The caller owns v; the store copies it.
func (s *Store) SetTrustedTime(v []byte) error {
	if err := checkBlob("trusted time", v); err != nil {
		return err
	}
	return s.putDurable(metaKey(metaTime), v)
}

// TrustedTime returns a copy of the trusted-time state, or ErrNotFound on a fresh device.
func (s *Store) TrustedTime() ([]byte, error) { return s.get(metaKey(metaTime)) }

// SetEnrollment durably replaces the enrollment credentials (opaque; the node encodes them). The database directory
// is created 0700 because these are secrets.
func (s *Store) SetEnrollment(v []byte) error {
	if err := checkBlob("enrollment", v); err != nil {
		return err
	}
	return s.putDurable(metaKey(metaEnrol), v)
}

// Enrollment returns a copy of the enrollment credentials, or ErrNotFound before the first enrollment.
func (s *Store) Enrollment() ([]byte, error) { return s.get(metaKey(metaEnrol)) }

// ClearEnrollment forgets the credentials (a revoked device re-enrolling with a new token).
func (s *Store) ClearEnrollment() error {
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(metaKey(metaEnrol)) }); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.sync()
}

func decodeU64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("store: corrupt counter of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func checkID(what, id string) error {
	if id == "" || len(id) > MaxKeyLen {
		return fmt.Errorf("%w: %s of %d bytes (want 1..%d)", ErrInvalid, what, len(id), MaxKeyLen)
	}
	return nil
}

// clampInt keeps a caller's limit inside [1, max].
func clampInt(v, max int) int {
	if v <= 0 || v > max {
		return max
	}
	return v
}
