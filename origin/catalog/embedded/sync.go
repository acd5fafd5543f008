package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

func checkTenantStore(tenantID, storeID string) error {
	if !catalog.ValidID(tenantID) {
		return notFound("tenant", tenantID)
	}
	if storeID != "" && !catalog.ValidID(storeID) {
		return fmt.Errorf("%w: store id %q", catalog.ErrInvalid, storeID)
	}
	return nil
}

// revision reads the tenant's revision in txn.
func revision(txn *badger.Txn, tenantID string) (uint64, error) {
	b, ok, err := getRaw(txn, key("rev", tenantID))
	if err != nil {
		return 0, err
	}
	if !ok || len(b) != 8 {
		return 0, notFound("tenant", tenantID)
	}
	return binary.BigEndian.Uint64(b), nil
}

func (s *Store) Revision(ctx context.Context, tenantID string) (uint64, error) {
	if !catalog.ValidID(tenantID) {
		return 0, notFound("tenant", tenantID)
	}
	var rev uint64
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		rev, err = revision(txn, tenantID)
		return err
	})
	return rev, err
}

// SyncState reads three keys in one snapshot; there are no replicas, so atLeast is always met by the snapshot.
func (s *Store) SyncState(ctx context.Context, tenantID, storeID string, _ uint64) (catalog.SyncState, error) {
	var st catalog.SyncState
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return st, err
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		rev, err := revision(txn, tenantID)
		if err != nil {
			return err
		}
		var a, b crdt.StateHash
		if err := readHash(txn, key("h", tenantID, ""), &a); err != nil {
			return err
		}
		if storeID != "" {
			if err := readHash(txn, key("h", tenantID, storeID), &b); err != nil {
				return err
			}
		}
		st = catalog.SyncState{Revision: rev, Hash: catalog.SumHashes(a, b)}
		return nil
	})
	return st, err
}

func (s *Store) DeviceSyncState(ctx context.Context, h catalog.Hash, _ uint64) (catalog.Device, catalog.SyncState, error) {
	var d catalog.Device
	var st catalog.SyncState
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		if d, err = byIndex[catalog.Device](txn, "cred", kindDevice, h); err != nil {
			return err
		}
		if st.Revision, err = revision(txn, d.TenantID); err != nil {
			return err
		}
		var a, b crdt.StateHash
		if err := readHash(txn, key("h", d.TenantID, ""), &a); err != nil {
			return err
		}
		if err := readHash(txn, key("h", d.TenantID, d.StoreID), &b); err != nil {
			return err
		}
		st.Hash = catalog.SumHashes(a, b)
		return nil
	})
	d = fixDevice(d)
	if err != nil {
		return d, catalog.SyncState{}, err
	}
	if !d.RevokedAt.IsZero() {
		return d, catalog.SyncState{}, fmt.Errorf("%w: device %s", catalog.ErrRevoked, d.ID)
	}
	return d, st, nil
}

func readHash(txn *badger.Txn, k []byte, h *crdt.StateHash) error {
	it, err := txn.Get(k)
	if err == badger.ErrKeyNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	return it.Value(func(v []byte) error {
		copy(h[:], v)
		return nil
	})
}

func inScope(scope, storeID string) bool { return scope == catalog.TenantScope || scope == storeID }

func (s *Store) RecordsSince(ctx context.Context, tenantID, storeID string, since uint64, cursor string, limit int) (catalog.RecordPage, error) {
	var p catalog.RecordPage
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return p, err
	}
	crev, ckey, err := catalog.ParseRevCursor(cursor)
	if err != nil {
		return p, err
	}
	if since >= math.MaxInt64 {
		return p, fmt.Errorf("%w: revision %d", catalog.ErrInvalid, since)
	}
	limit = catalog.ClampLimit(limit)
	prefix := key("rl", tenantID, "")
	start := append(bytes.Clone(prefix), u64(since+1)...)
	var skip []byte
	if cursor != "" && crev > since {
		start = logKey(tenantID, crev, ckey)
		skip = start
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
		rev, err := revision(txn, tenantID)
		if err != nil {
			return err
		}
		p.Revision = rev
		return scan(txn, prefix, start, skip, func(k, scope []byte) (bool, error) {
			if !inScope(string(scope), storeID) {
				return true, nil
			}
			if len(p.Records) == limit {
				last := p.Records[limit-1]
				p.Next = catalog.RevCursor(last.Rev, last.Key)
				return false, nil
			}
			rk := string(k[len(prefix)+9:])
			raw, ok, err := getRaw(txn, key("r", tenantID, rk))
			if err != nil || !ok {
				return false, fmt.Errorf("embedded: change log names missing record %s: %v", rk, err)
			}
			r, _, err := decodeRecord(tenantID, rk, raw)
			if err != nil {
				return false, err
			}
			p.Records = append(p.Records, r)
			return true, nil
		})
	})
	return p, err
}

func (s *Store) LiveRecords(ctx context.Context, tenantID, storeID string, _ uint64, cursor string, limit int) (catalog.RecordPage, error) {
	var p catalog.RecordPage
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return p, err
	}
	after, err := catalog.ParseKeyCursor(cursor)
	if err != nil {
		return p, err
	}
	limit = catalog.ClampLimit(limit)
	prefix := key("r", tenantID, "")
	var start []byte
	if after != "" {
		start = key("r", tenantID, after)
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
		rev, err := revision(txn, tenantID)
		if err != nil {
			return err
		}
		p.Revision = rev
		return scan(txn, prefix, start, start, func(k, v []byte) (bool, error) {
			r, scope, err := decodeRecord(tenantID, string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			if r.Deleted || !inScope(scope, storeID) {
				return true, nil
			}
			if len(p.Records) == limit {
				p.Next = p.Records[limit-1].Key
				return false, nil
			}
			p.Records = append(p.Records, r)
			return true, nil
		})
	})
	return p, err
}

func (s *Store) GetRecord(ctx context.Context, tenantID, k string) (crdt.Record, string, error) {
	var r crdt.Record
	var scope string
	if !catalog.ValidID(tenantID) {
		return r, "", notFound("tenant", tenantID)
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		raw, ok, err := getRaw(txn, key("r", tenantID, k))
		if err != nil {
			return err
		}
		if !ok {
			return notFound("record", k)
		}
		r, scope, err = decodeRecord(tenantID, k, raw)
		return err
	})
	return r, scope, err
}

func syncLogPrefix(tenant, device string) []byte { return key("s", tenant, device, "") }

// syncChunkBytes bounds the estimated size of one RecordSyncs transaction, well inside badger's limit (15% of
// MemTableSize, 2.4 MiB by default): a batch of 1,024 reports with full-size status and inventory is ~12 MiB.
const syncChunkBytes = 1 << 20

// RecordSyncs checks every report and device first, then writes the batch in transactions of at most
// syncChunkBytes: a refused batch writes nothing; a storage failure midway may leave earlier chunks written.
func (s *Store) RecordSyncs(ctx context.Context, reports []catalog.SyncReport) error {
	if len(reports) == 0 {
		return nil
	}
	if len(reports) > catalog.MaxSyncBatch {
		return fmt.Errorf("%w: %d sync reports, more than %d", catalog.ErrInvalid, len(reports), catalog.MaxSyncBatch)
	}
	for i, r := range reports {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("sync report %d: %w", i, err)
		}
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		for i, r := range reports {
			ok, err := has(txn, entityKey(r.Log.TenantID, kindDevice, r.Log.DeviceID))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: sync report %d names device %s, not in tenant %s", catalog.ErrNotFound, i,
					r.Log.DeviceID, r.Log.TenantID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(reports); {
		end, size := start, 0
		for end < len(reports) && (end == start || size < syncChunkBytes) {
			r := reports[end]
			size += 1024 + len(r.Log.Inventory) + len(r.Telemetry.Status)
			end++
		}
		if err := s.recordSyncs(ctx, reports[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// recordSyncs writes reports in one transaction.
func (s *Store) recordSyncs(ctx context.Context, reports []catalog.SyncReport) error {
	ids := make([]uint64, len(reports))
	for i := range ids {
		id, err := s.seq.Next()
		if err != nil {
			return err
		}
		ids[i] = id
	}
	return s.update(ctx, func(txn *badger.Txn) error {
		devices := map[string]*catalog.Device{}
		for i, r := range reports {
			l := r.Log
			dk := string(entityKey(l.TenantID, kindDevice, l.DeviceID))
			d, ok := devices[dk]
			if !ok {
				d = new(catalog.Device)
				found, err := getJSON(txn, []byte(dk), d)
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("%w: sync report %d names device %s, not in tenant %s", catalog.ErrNotFound, i, l.DeviceID, l.TenantID)
				}
				devices[dk] = d
			}
			l.At = catalog.NormTime(l.At)
			if err := putJSON(txn, append(syncLogPrefix(l.TenantID, l.DeviceID), u64(math.MaxUint64-ids[i])...), l); err != nil {
				return err
			}
			tm := r.Telemetry
			tm.LastSyncAt = catalog.NormTime(tm.LastSyncAt)
			if tm.LastSyncAt.IsZero() {
				tm.LastSyncAt = l.At
			}
			if d.Telemetry.LastSyncAt.IsZero() || !tm.LastSyncAt.Before(d.Telemetry.LastSyncAt) {
				d.Telemetry = tm
			}
		}
		for dk, d := range devices {
			if err := putJSON(txn, []byte(dk), d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) ListSyncLogs(ctx context.Context, tenantID, deviceID string, o catalog.ListOptions) (catalog.SyncLogPage, error) {
	var p catalog.SyncLogPage
	if !catalog.ValidID(tenantID) || !catalog.ValidID(deviceID) {
		return p, nil
	}
	prefix := syncLogPrefix(tenantID, deviceID)
	var start []byte
	if o.Cursor != "" {
		b, err := hex.DecodeString(o.Cursor)
		if err != nil || len(b) != 8 {
			return p, fmt.Errorf("%w: sync log cursor %.80q", catalog.ErrInvalid, o.Cursor)
		}
		start = append(bytes.Clone(prefix), b...)
	}
	limit := catalog.ClampLimit(o.Limit)
	var lastKey []byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scan(txn, prefix, start, start, func(k, v []byte) (bool, error) {
			if len(p.Logs) == limit {
				p.Next = hex.EncodeToString(lastKey[len(prefix):])
				return false, nil
			}
			var l catalog.SyncLog
			if err := decodeValue(v, &l); err != nil {
				return false, err
			}
			l.Inventory = fixRaw(l.Inventory)
			p.Logs, lastKey = append(p.Logs, l), k
			return true, nil
		})
	})
	return p, err
}

// timeKey orders instants as unsigned big-endian: unix microseconds with the sign bit flipped.
func timeKey(e catalog.PlayEvent) []byte {
	return u64(uint64(catalog.NormTime(e.StartedAt).UnixMicro()) ^ 1<<63)
}

func playKey(tenant, device string, seq uint64) []byte {
	return append(key("p", tenant, device, ""), u64(seq)...)
}

func playTimeKey(e catalog.PlayEvent) []byte {
	k := append(key("pt", e.TenantID, ""), timeKey(e)...)
	k = append(k, '/')
	k = append(k, e.DeviceID...)
	return append(k, u64(e.Seq)...)
}

func (s *Store) AddPlayEvents(ctx context.Context, tenantID string, events []catalog.PlayEvent) (int, error) {
	if !catalog.ValidID(tenantID) {
		return 0, notFound("tenant", tenantID)
	}
	for i, e := range events {
		if e.TenantID != "" && e.TenantID != tenantID {
			return 0, fmt.Errorf("%w: play event %d belongs to tenant %s", catalog.ErrInvalid, i, e.TenantID)
		}
		if err := e.Validate(); err != nil {
			return 0, fmt.Errorf("play event %d: %w", i, err)
		}
	}
	if len(events) > catalog.MaxPlayBatch {
		return 0, fmt.Errorf("%w: %d play events, more than %d", catalog.ErrInvalid, len(events), catalog.MaxPlayBatch)
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		known := map[string]bool{}
		for _, e := range events {
			if known[e.DeviceID] {
				continue
			}
			ok, err := has(txn, entityKey(tenantID, kindDevice, e.DeviceID))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: play event of device %s, not in the tenant", catalog.ErrNotFound, e.DeviceID)
			}
			known[e.DeviceID] = true
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Devices are never deleted, so the check above holds; events go in transactions of playChunk, well inside
	// badger's limit. Storing is idempotent, so a retry after a failure midway is safe.
	const playChunk = 1000
	total := 0
	for start := 0; start < len(events); start += playChunk {
		n, err := s.addPlays(ctx, tenantID, events[start:min(start+playChunk, len(events))])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// addPlays stores events of known devices in one transaction and returns how many were new.
func (s *Store) addPlays(ctx context.Context, tenantID string, events []catalog.PlayEvent) (int, error) {
	var added int
	err := s.update(ctx, func(txn *badger.Txn) error {
		added = 0
		for _, e := range events {
			pk := playKey(tenantID, e.DeviceID, e.Seq)
			dup, err := has(txn, pk)
			if err != nil {
				return err
			}
			if dup {
				continue
			}
			e.TenantID = tenantID
			e.StartedAt, e.ReceivedAt = catalog.NormTime(e.StartedAt), catalog.NormTime(e.ReceivedAt)
			if err := putJSON(txn, pk, e); err != nil {
				return err
			}
			if err := txn.Set(playTimeKey(e), nil); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	return added, err
}

func (s *Store) QueryPlayEvents(ctx context.Context, tenantID string, q catalog.PlayQuery) (catalog.PlayPage, error) {
	var p catalog.PlayPage
	if !catalog.ValidID(tenantID) {
		return p, nil
	}
	for _, id := range []string{q.StoreID, q.ZoneID, q.DeviceID, q.AssetID} {
		if id != "" && !catalog.ValidID(id) {
			return p, fmt.Errorf("%w: filter id %q", catalog.ErrInvalid, id)
		}
	}
	prefix := key("pt", tenantID, "")
	var start, skip []byte
	if !q.From.IsZero() {
		start = append(bytes.Clone(prefix), timeKey(catalog.PlayEvent{StartedAt: q.From})...)
	}
	if q.Cursor != "" {
		at, dev, seq, err := catalog.ParsePlayCursor(q.Cursor)
		if err != nil {
			return p, err
		}
		c := playTimeKey(catalog.PlayEvent{TenantID: tenantID, StartedAt: at, DeviceID: dev, Seq: seq})
		if start == nil || bytes.Compare(c, start) > 0 {
			start, skip = c, c
		}
	}
	var end []byte
	if !q.To.IsZero() {
		end = append(bytes.Clone(prefix), timeKey(catalog.PlayEvent{StartedAt: q.To})...)
	}
	limit := catalog.ClampLimit(q.Limit)
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scan(txn, prefix, start, skip, func(k, _ []byte) (bool, error) {
			if end != nil && bytes.Compare(k, end) >= 0 {
				return false, nil
			}
			rest := k[len(prefix)+9:] // after "<time>/"
			dev, seq := string(rest[:36]), binary.BigEndian.Uint64(rest[36:])
			var e catalog.PlayEvent
			if _, err := getJSON(txn, playKey(tenantID, dev, seq), &e); err != nil {
				return false, err
			}
			if q.StoreID != "" && e.StoreID != q.StoreID || q.ZoneID != "" && e.ZoneID != q.ZoneID ||
				q.DeviceID != "" && e.DeviceID != q.DeviceID || q.AssetID != "" && e.AssetID != q.AssetID {
				return true, nil
			}
			if len(p.Events) == limit {
				p.Next = catalog.PlayCursor(p.Events[limit-1])
				return false, nil
			}
			p.Events = append(p.Events, e)
			return true, nil
		})
	})
	return p, err
}
