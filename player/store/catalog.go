package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Record is one catalog record as the store keeps it: its key (e.g. "asset/<uuid>"), the tenant revision that wrote
// it, and its encoded bytes (opaque here; the node encodes and has verified them).
type Record struct {
	Key  string
	Rev  uint64
	Data []byte
}

// ApplyCatalog moves the catalog to revision rev: it writes upserts, removes the records named in deletes and records
// rev, all in one transaction, then syncs. Invalid input changes nothing (a rejected manifest keeps the previous
// state). A delta larger than one transaction (~1.2 MiB with the default config) is applied in several, behind a
// revision of 0 until it is complete (see applyLarge). The caller owns the slices; the store copies them.
func (s *Store) ApplyCatalog(rev uint64, upserts []Record, deletes []string) error {
	for _, r := range upserts {
		if err := checkID("record key", r.Key); err != nil {
			return err
		}
		if len(r.Data) > MaxRecordLen {
			return fmt.Errorf("%w: record %q of %d bytes (max %d)", ErrInvalid, r.Key, len(r.Data), MaxRecordLen)
		}
	}
	for _, k := range deletes {
		if err := checkID("deleted key", k); err != nil {
			return err
		}
	}
	// One transaction keeps the delta atomic; badger returns ErrTxnTooBig (and commits nothing) when it outgrows a
	// memtable batch, and applyLarge takes over.
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, r := range upserts {
			v := make([]byte, 8+len(r.Data))
			binary.BigEndian.PutUint64(v, r.Rev)
			copy(v[8:], r.Data)
			if err := txn.Set(catalogKey(r.Key), v); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if err := txn.Delete(catalogKey(k)); err != nil {
				return err
			}
		}
		return txn.Set(metaKey(metaRev), u64(rev))
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return s.applyLarge(rev, upserts, deletes)
	}
	if err != nil {
		return fmt.Errorf("store: apply catalog: %w", err)
	}
	return s.sync()
}

// applyLarge applies a delta too big for one transaction (a full resync of a large catalog) in several. It first
// records revision 0 durably and writes the real revision last: a crash part way leaves revision 0, so the next sync
// asks origin for everything, which heals the mix of old and new records.
func (s *Store) applyLarge(rev uint64, upserts []Record, deletes []string) error {
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey(metaRev), u64(0)) }); err != nil {
		return fmt.Errorf("store: apply catalog: %w", err)
	}
	if err := s.sync(); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range upserts {
		v := make([]byte, 8+len(r.Data))
		binary.BigEndian.PutUint64(v, r.Rev)
		copy(v[8:], r.Data)
		if err := wb.Set(catalogKey(r.Key), v); err != nil {
			return fmt.Errorf("store: apply catalog: %w", err)
		}
	}
	for _, k := range deletes {
		if err := wb.Delete(catalogKey(k)); err != nil {
			return fmt.Errorf("store: apply catalog: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store: apply catalog: %w", err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey(metaRev), u64(rev)) }); err != nil {
		return fmt.Errorf("store: apply catalog: %w", err)
	}
	return s.sync()
}

func catalogKey(k string) []byte { return append([]byte{pCatalog}, k...) }

// CatalogRevision is the revision of the last ApplyCatalog, 0 on a fresh device.
func (s *Store) CatalogRevision() (uint64, error) {
	v, err := s.get(metaKey(metaRev))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeU64(v)
}

func decodeRecord(key, v []byte) (Record, error) {
	if len(v) < 8 {
		return Record{}, fmt.Errorf("store: corrupt record %q", key)
	}
	return Record{Key: string(key[1:]), Rev: binary.BigEndian.Uint64(v), Data: bytes.Clone(v[8:])}, nil
}

// CatalogRecord returns the record at key, or ErrNotFound.
func (s *Store) CatalogRecord(key string) (Record, error) {
	v, err := s.get(catalogKey(key))
	if err != nil {
		return Record{}, err
	}
	return decodeRecord(catalogKey(key), v)
}

// CatalogRecords calls fn for every record whose key starts with prefix ("" for all), in key order. The Record
// passed to fn is the caller's to keep. An error from fn stops the scan and is returned.
func (s *Store) CatalogRecords(prefix string, fn func(Record) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		p := catalogKey(prefix)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			r, err := decodeRecord(item.Key(), v)
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func historyPrefix(zone string) []byte {
	k := append([]byte{pHistory}, zone...)
	return append(k, 0)
}

// SetPlayed records that asset started in zone at t. Not synced: losing the last entries to a power cut only makes
// selection slightly less fair, and the proof of play (AppendPlay) is the durable record.
func (s *Store) SetPlayed(zone, asset string, t time.Time) error {
	if err := checkID("zone", zone); err != nil {
		return err
	}
	if err := checkID("asset", asset); err != nil {
		return err
	}
	k := append(historyPrefix(zone), asset...)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, u64(uint64(t.UnixNano()))) }); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// LastPlayed returns, for zone, when each asset last started. Assets never played are absent.
func (s *Store) LastPlayed(zone string) (map[string]time.Time, error) {
	if err := checkID("zone", zone); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	p := historyPrefix(zone)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				n, err := decodeU64(v)
				if err != nil {
					return err
				}
				out[string(item.Key()[len(p):])] = time.Unix(0, int64(n)).UTC()
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}
