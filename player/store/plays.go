package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Play is one proof-of-play event in the outbox: its sequence number (1, 2, ... per device, never reused) and its
// encoded bytes (opaque here; the node encodes them).
type Play struct {
	Seq  uint64
	Data []byte
}

// MaxPendingBatch bounds one PendingPlays answer (and so one upload).
const MaxPendingBatch = 10_000

func playKey(seq uint64) []byte { return append([]byte{pPlay}, u64(seq)...) }

// AppendPlay assigns the next sequence number to ev and persists it; when it returns nil the event is on disk
// (synced) and survives kill -9 and power loss. The caller owns ev; the store copies it.
func (s *Store) AppendPlay(ev []byte) (uint64, error) {
	if len(ev) == 0 || len(ev) > MaxPlayLen {
		return 0, fmt.Errorf("%w: play event of %d bytes (want 1..%d)", ErrInvalid, len(ev), MaxPlayLen)
	}
	s.playMu.Lock()
	defer s.playMu.Unlock()
	var seq uint64
	err := s.db.Update(func(txn *badger.Txn) error {
		last, err := s.lastSeq(txn)
		if err != nil {
			return err
		}
		seq = last + 1
		if err := txn.Set(playKey(seq), bytes.Clone(ev)); err != nil {
			return err
		}
		return txn.Set(metaKey(metaSeq), u64(seq))
	})
	if err != nil {
		return 0, fmt.Errorf("store: append play: %w", err)
	}
	if err := s.sync(); err != nil {
		return 0, err
	}
	return seq, nil
}

func (s *Store) lastSeq(txn *badger.Txn) (uint64, error) {
	it, err := txn.Get(metaKey(metaSeq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	err = it.Value(func(v []byte) error {
		n, err = decodeU64(v)
		return err
	})
	return n, err
}

// LastPlaySeq is the highest sequence number ever assigned (0 before the first play).
func (s *Store) LastPlaySeq() (uint64, error) {
	var n uint64
	err := s.db.View(func(txn *badger.Txn) (err error) {
		n, err = s.lastSeq(txn)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return n, nil
}

// PendingPlays returns up to limit events with Seq > after, in sequence order (limit <= 0 or above
// MaxPendingBatch means MaxPendingBatch). The slices are the caller's.
func (s *Store) PendingPlays(after uint64, limit int) ([]Play, error) {
	limit = clampInt(limit, MaxPendingBatch)
	var out []Play
	err := s.db.View(func(txn *badger.Txn) error {
		p := []byte{pPlay}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(playKey(after + 1)); it.ValidForPrefix(p) && len(out) < limit; it.Next() {
			item := it.Item()
			if len(item.Key()) != 9 {
				return fmt.Errorf("corrupt play key %x", item.Key())
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, Play{Seq: binary.BigEndian.Uint64(item.Key()[1:]), Data: v})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending plays: %w", err)
	}
	return out, nil
}

// AckPlays prunes every event with Seq <= through (origin acknowledged them), durably. Acking what is already gone
// is not an error.
func (s *Store) AckPlays(through uint64) error {
	for {
		batch, err := s.PendingPlays(0, 1000)
		if err != nil {
			return err
		}
		n := 0
		err = s.db.Update(func(txn *badger.Txn) error {
			for _, p := range batch {
				if p.Seq > through {
					break
				}
				if err := txn.Delete(playKey(p.Seq)); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: ack plays: %w", err)
		}
		if n < len(batch) || n == 0 {
			return s.sync()
		}
	}
}
