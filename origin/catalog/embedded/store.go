package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/lomuz/lomuz/origin/catalog"
)

var _ catalog.Store = (*Store)(nil)

// Store is the embedded catalog on badger. It is safe for concurrent use.
type Store struct {
	cfg Config
	db  *badger.DB
	seq *badger.Sequence // sync log order

	// mu guards closed: operations hold it shared, Close exclusively, so Close waits for them and badger is
	// never used after it is closed.
	mu     sync.RWMutex
	closed bool

	// tenantMu serializes the Update transactions of one tenant (see Update).
	locksMu  sync.Mutex
	tenantMu map[string]*sync.Mutex
}

// Open opens or creates the catalog in cfg.Dir.
func Open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithSyncWrites(!cfg.NoSyncWrites).
		WithMemTableSize(cfg.MemTableSize).
		WithNumMemtables(cfg.NumMemtables).
		WithBlockCacheSize(cfg.BlockCacheSize).
		WithIndexCacheSize(cfg.IndexCacheSize).
		WithValueLogFileSize(cfg.ValueLogFileSize).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(6).
		WithNumCompactors(cfg.NumCompactors).
		WithCompression(options.None).
		WithBaseTableSize(4 << 20).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{cfg.Logger})
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", cfg.Dir, err)
	}
	// Sync log ids are leased 256 at a time; a restart skips the rest of a lease, which keeps them increasing.
	seq, err := db.GetSequence([]byte("seq/synclog"), 256)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: sequence: %w", err)
	}
	return &Store{cfg: cfg, db: db, seq: seq, tenantMu: map[string]*sync.Mutex{}}, nil
}

// Close releases the database; it waits for running calls. Later calls return catalog.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.seq.Release()
	return errors.Join(err, s.db.Close())
}

// enter marks a call in progress; it returns the function that ends it. A done context ends the call before it
// starts; once started, a call is local and short, so it is not interrupted.
func (s *Store) enter(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, catalog.ErrClosed
	}
	return s.mu.RUnlock, nil
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(*badger.Txn) error) error {
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return s.db.View(fn)
}

// update runs fn in a read-write transaction, re-running it when the commit loses an optimistic-concurrency
// race with another writer of the same keys.
func (s *Store) update(ctx context.Context, fn func(*badger.Txn) error) error {
	leave, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for i := 0; ; i++ {
		err := s.db.Update(fn)
		if errors.Is(err, badger.ErrConflict) && i < s.cfg.MaxRetries {
			continue
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			return fmt.Errorf("%w: transaction too large for the embedded catalog; split it", catalog.ErrInvalid)
		}
		return err
	}
}

// lockTenant serializes Update transactions of one tenant.
func (s *Store) lockTenant(tenant string) func() {
	s.locksMu.Lock()
	m, ok := s.tenantMu[tenant]
	if !ok {
		m = new(sync.Mutex)
		s.tenantMu[tenant] = m
	}
	s.locksMu.Unlock()
	m.Lock()
	return m.Unlock
}

// Keys. Tenant ids are 36-byte UUIDs, so "<prefix>/<tenant>/" prefixes never overlap between tenants.
//
//	t/<tenant>                    Tenant (JSON)
//	rev/<tenant>                  revision, 8 bytes big-endian
//	h/<tenant>/<scope>            state hash of a scope, 32 bytes
//	e/<tenant>/<kind>/<id>        a domain row (JSON); kinds below
//	id/<kind>/<id>                owning tenant of an id, so one id never exists in two tenants
//	x/cred/<hash>, x/admin/<hash> "<tenant>/<id>" of a device credential or admin token
//	x/mesh/<mesh id>              "<tenant>/<store id>"
//	x/peer/<tenant>/<peer id>     device id
//	enr/<hash>                    EnrollmentToken (JSON); e/<tenant>/enr/<hex hash> indexes them by tenant
//	r/<tenant>/<key>              the latest record of a key: see encodeRecord
//	rl/<tenant>/<rev>/<key>       change log: scope of the record written at rev (8 bytes big-endian)
//	p/<tenant>/<device>/<seq>     PlayEvent (JSON), seq 8 bytes big-endian
//	pt/<tenant>/<start>/<device>/<seq>  time index of play events (start: unix µs, sign bit flipped)
//	s/<tenant>/<device>/<^id>     SyncLog (JSON), newest first
//	e/<tenant>/ovr/<zone>         a zone's current ZoneOverride (override.go)
//	oh/<tenant>/<zone>/<^hlc>     ZoneOverride history, newest first
const (
	kindStore    = "store"
	kindZone     = "zone"
	kindDevice   = "device"
	kindAsset    = "asset"
	kindPlaylist = "playlist"
	kindSchedule = "schedule"
	kindAdmin    = "admin"
	kindEnroll   = "enr"
)

func key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	return b
}

func entityKey(tenant, kind, id string) []byte { return key("e", tenant, kind, id) }
func entityPrefix(tenant, kind string) []byte  { return key("e", tenant, kind, "") }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// getRaw returns a copy of the value under k, or nil and false.
func getRaw(txn *badger.Txn, k []byte) ([]byte, bool, error) {
	it, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := it.ValueCopy(nil)
	return v, err == nil, err
}

func has(txn *badger.Txn, k []byte) (bool, error) {
	_, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// getJSON decodes the value under k into v; false if there is none.
func getJSON(txn *badger.Txn, k []byte, v any) (bool, error) {
	b, ok, err := getRaw(txn, k)
	if !ok || err != nil {
		return false, err
	}
	return true, decodeValue(b, v)
}

func putJSON(txn *badger.Txn, k []byte, v any) error {
	b, err := encodeValue(v)
	if err != nil {
		return err
	}
	return txn.Set(k, b)
}

// scan calls fn with each key and value under prefix, in key order, starting at start (or the prefix) and
// skipping a key equal to skip; fn returns false to stop.
func scan(txn *badger.Txn, prefix, start, skip []byte, fn func(k, v []byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	if start == nil {
		start = prefix
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		k := item.KeyCopy(nil)
		if skip != nil && bytes.Equal(k, skip) {
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// scanJSON decodes every row under prefix into T and calls fn; fn returns false to stop.
func scanJSON[T any](txn *badger.Txn, prefix []byte, fn func(T) (bool, error)) error {
	return scan(txn, prefix, nil, nil, func(_, v []byte) (bool, error) {
		var t T
		if err := decodeValue(v, &t); err != nil {
			return false, err
		}
		return fn(t)
	})
}

// listJSON collects every row under prefix that keep accepts (nil keeps all).
func listJSON[T any](txn *badger.Txn, prefix []byte, keep func(T) bool) ([]T, error) {
	var out []T
	err := scanJSON(txn, prefix, func(t T) (bool, error) {
		if keep == nil || keep(t) {
			out = append(out, t)
		}
		return true, nil
	})
	return out, err
}

// anyJSON reports whether some row under prefix satisfies pred.
func anyJSON[T any](txn *badger.Txn, prefix []byte, pred func(T) bool) (bool, error) {
	found := false
	err := scanJSON(txn, prefix, func(t T) (bool, error) {
		found = pred(t)
		return !found, nil
	})
	return found, err
}

func notFound(what, id string) error { return fmt.Errorf("%w: %s %s", catalog.ErrNotFound, what, id) }
