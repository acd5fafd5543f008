package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

func checkTenantStore(tenantID, storeID string) error {
	if !catalog.ValidID(tenantID) {
		return fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	if storeID != "" && !catalog.ValidID(storeID) {
		return fmt.Errorf("%w: store id %q", catalog.ErrInvalid, storeID)
	}
	return nil
}

func (s *Store) Revision(ctx context.Context, tenantID string) (uint64, error) {
	if !catalog.ValidID(tenantID) {
		return 0, fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	var rev int64
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.w.QueryRow(ctx, `SELECT revision FROM tenants WHERE id = $1`, tenantID).Scan(&rev)
	})
	return uint64(rev), notFound(err, "tenant "+tenantID)
}

// onFresh runs read on a replica, and again on the writer if the replica's revision for the tenant (what read
// returns) is below atLeast: a replica that lags never sends a device backwards.
func (s *Store) onFresh(ctx context.Context, atLeast uint64, read func(context.Context, *pgxpool.Pool) (uint64, error)) error {
	p := s.reader()
	return s.retry(ctx, func(ctx context.Context) error {
		rev, err := read(ctx, p)
		if err == nil && rev < atLeast && p != s.w {
			p = s.w
			_, err = read(ctx, p)
		}
		if err != nil && p != s.w && transient(err) {
			p = s.w // a replica that went away: the retry goes to the writer
		}
		return err
	})
}

const syncStateSQL = `SELECT t.revision,
	(SELECT hash FROM scope_hashes WHERE tenant_id = $1 AND scope = ''),
	(SELECT hash FROM scope_hashes WHERE tenant_id = $1 AND scope = $2 AND $2 <> '')
	FROM tenants t WHERE t.id = $1`

func (s *Store) SyncState(ctx context.Context, tenantID, storeID string, atLeast uint64) (catalog.SyncState, error) {
	var st catalog.SyncState
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return st, err
	}
	err := s.onFresh(ctx, atLeast, func(ctx context.Context, p *pgxpool.Pool) (uint64, error) {
		var rev int64
		var th, sh []byte
		if err := p.QueryRow(ctx, syncStateSQL, tenantID, storeID).Scan(&rev, &th, &sh); err != nil {
			return 0, err
		}
		var a, b crdt.StateHash
		copy(a[:], th)
		copy(b[:], sh)
		st = catalog.SyncState{Revision: uint64(rev), Hash: catalog.SumHashes(a, b)}
		return st.Revision, nil
	})
	return st, notFound(err, "tenant "+tenantID)
}

var deviceSyncSQL = `SELECT ` + deviceColsD + `, t.revision,
	(SELECT hash FROM scope_hashes WHERE tenant_id = d.tenant_id AND scope = ''),
	(SELECT hash FROM scope_hashes WHERE tenant_id = d.tenant_id AND scope = d.store_id::text)
	FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE d.credential_hash = $1`

func (s *Store) DeviceSyncState(ctx context.Context, h catalog.Hash, atLeast uint64) (catalog.Device, catalog.SyncState, error) {
	var d catalog.Device
	var st catalog.SyncState
	read := func(ctx context.Context, p *pgxpool.Pool) (uint64, error) {
		var rev int64
		var th, sh []byte
		var err error
		d, err = scanDeviceExtra(p.QueryRow(ctx, deviceSyncSQL, h[:]), &rev, &th, &sh)
		if err != nil {
			return 0, err
		}
		var a, b crdt.StateHash
		copy(a[:], th)
		copy(b[:], sh)
		st = catalog.SyncState{Revision: uint64(rev), Hash: catalog.SumHashes(a, b)}
		return st.Revision, nil
	}
	err := s.onFresh(ctx, atLeast, read)
	if errors.Is(err, pgx.ErrNoRows) && len(s.replicas) > 0 {
		// A device enrolled a moment ago may not have reached the replica yet.
		err = s.retry(ctx, func(ctx context.Context) error {
			_, err := read(ctx, s.w)
			return err
		})
	}
	if err != nil {
		return d, catalog.SyncState{}, notFound(err, "device credential")
	}
	if !d.RevokedAt.IsZero() {
		return d, catalog.SyncState{}, fmt.Errorf("%w: device %s", catalog.ErrRevoked, d.ID)
	}
	return d, st, nil
}

// readRecords runs a records query built as "WITH t AS (tenant revision) SELECT t.revision, r.* FROM t LEFT JOIN
// LATERAL (...) r", so the page and the revision come from one snapshot.
func readRecords(ctx context.Context, q querier, tenantID, sql string, args ...any) (catalog.RecordPage, error) {
	var p catalog.RecordPage
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	seen := false
	for rows.Next() {
		seen = true
		var rev int64
		var key *string
		var rrev *int64
		var deleted *bool
		var body, sig []byte
		if err := rows.Scan(&rev, &key, &rrev, &deleted, &body, &sig); err != nil {
			return p, err
		}
		p.Revision = uint64(rev)
		if key == nil {
			continue
		}
		rec := crdt.Record{Key: *key, Tenant: tenantID, Rev: uint64(*rrev), Deleted: *deleted, Body: body, Sig: sig}
		if len(rec.Body) == 0 {
			rec.Body = nil
		}
		p.Records = append(p.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	if !seen {
		return p, pgx.ErrNoRows
	}
	return p, nil
}

const recordsSinceSQL = `WITH t AS (SELECT revision FROM tenants WHERE id = $1)
	SELECT t.revision, r.key, r.rev, r.deleted, r.body, r.sig FROM t LEFT JOIN LATERAL (
		SELECT key, rev, deleted, body, sig FROM records
		WHERE tenant_id = $1 AND (rev, key) > ($2, $3) AND scope IN ('', $4)
		ORDER BY rev, key LIMIT $5) r ON true`

func (s *Store) RecordsSince(ctx context.Context, tenantID, storeID string, since uint64, cursor string, limit int) (catalog.RecordPage, error) {
	var p catalog.RecordPage
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return p, err
	}
	crev, ckey, err := catalog.ParseRevCursor(cursor)
	if err != nil {
		return p, err
	}
	limit = catalog.ClampLimit(limit)
	// One row comparison, so the index scan starts at the right place: keys are never empty, so "rev > since" is
	// "(rev, key) > (since+1, '')", and a cursor inside a later revision starts after its key.
	if since >= math.MaxInt64 {
		return p, fmt.Errorf("%w: revision %d", catalog.ErrInvalid, since)
	}
	start, after := since+1, ""
	if crev >= start {
		start, after = crev, ckey
	}
	if start > math.MaxInt64 {
		return p, fmt.Errorf("%w: revision %d", catalog.ErrInvalid, start)
	}
	err = s.onFresh(ctx, since, func(ctx context.Context, q *pgxpool.Pool) (uint64, error) {
		var err error
		p, err = readRecords(ctx, q, tenantID, recordsSinceSQL, tenantID, int64(start), after, storeID, limit+1)
		return p.Revision, err
	})
	if err != nil {
		return p, notFound(err, "tenant "+tenantID)
	}
	if len(p.Records) > limit {
		p.Records = p.Records[:limit]
		last := p.Records[limit-1]
		p.Next = catalog.RevCursor(last.Rev, last.Key)
	}
	return p, nil
}

const liveRecordsSQL = `WITH t AS (SELECT revision FROM tenants WHERE id = $1)
	SELECT t.revision, r.key, r.rev, r.deleted, r.body, r.sig FROM t LEFT JOIN LATERAL (
		SELECT key, rev, deleted, body, sig FROM records
		WHERE tenant_id = $1 AND NOT deleted AND key > $2 AND scope IN ('', $3)
		ORDER BY key LIMIT $4) r ON true`

func (s *Store) LiveRecords(ctx context.Context, tenantID, storeID string, atLeast uint64, cursor string, limit int) (catalog.RecordPage, error) {
	var p catalog.RecordPage
	if err := checkTenantStore(tenantID, storeID); err != nil {
		return p, err
	}
	after, err := catalog.ParseKeyCursor(cursor)
	if err != nil {
		return p, err
	}
	limit = catalog.ClampLimit(limit)
	err = s.onFresh(ctx, atLeast, func(ctx context.Context, q *pgxpool.Pool) (uint64, error) {
		var err error
		p, err = readRecords(ctx, q, tenantID, liveRecordsSQL, tenantID, after, storeID, limit+1)
		return p.Revision, err
	})
	if err != nil {
		return p, notFound(err, "tenant "+tenantID)
	}
	if len(p.Records) > limit {
		p.Records = p.Records[:limit]
		p.Next = p.Records[limit-1].Key
	}
	return p, nil
}

func (s *Store) GetRecord(ctx context.Context, tenantID, key string) (crdt.Record, string, error) {
	rec := crdt.Record{Key: key, Tenant: tenantID}
	var scope string
	if !catalog.ValidID(tenantID) {
		return rec, "", fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		var rev int64
		err := s.w.QueryRow(ctx, `SELECT scope, rev, deleted, body, sig FROM records WHERE tenant_id = $1 AND key = $2`,
			tenantID, key).Scan(&scope, &rev, &rec.Deleted, &rec.Body, &rec.Sig)
		rec.Rev = uint64(rev)
		return err
	})
	if len(rec.Body) == 0 {
		rec.Body = nil
	}
	return rec, scope, notFound(err, "record "+key)
}

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
	n := len(reports)
	var (
		tenants, devices, stores = make([]string, n), make([]string, n), make([]string, n)
		ats                      = make([]time.Time, n)
		froms, tos               = make([]int64, n), make([]int64, n)
		fulls, matched           = make([]bool, n), make([]bool, n)
		ups, dels, dls           = make([]int32, n), make([]int32, n), make([]int32, n)
		invs                     = make([][]byte, n)
		latest                   = map[[2]string]int{} // (tenant, device) -> index of its newest report
	)
	for i, r := range reports {
		l := r.Log
		tenants[i], devices[i], stores[i], ats[i] = l.TenantID, l.DeviceID, l.StoreID, catalog.NormTime(l.At)
		froms[i], tos[i], fulls[i], matched[i] = int64(l.FromRevision), int64(l.ToRevision), l.Full, l.StateHashMatched
		ups[i], dels[i], dls[i], invs[i] = int32(l.Upserts), int32(l.Deletes), int32(l.Downloads), l.Inventory
		k := [2]string{l.TenantID, l.DeviceID}
		if j, ok := latest[k]; !ok || !ats[i].Before(ats[j]) {
			latest[k] = i
		}
	}
	var (
		ut, ud, uv []string
		uat        []time.Time
		un         []int32
		ub, ua     []int64
		us         [][]byte
	)
	for _, i := range latest {
		tm := reports[i].Telemetry
		at := catalog.NormTime(tm.LastSyncAt)
		if at.IsZero() {
			at = ats[i]
		}
		ut, ud, uv, uat = append(ut, tenants[i]), append(ud, devices[i]), append(uv, tm.AppVersion), append(uat, at)
		un, ub, ua = append(un, int32(tm.CachedAssetsCount)), append(ub, tm.CachedBytes), append(ua, int64(tm.AckedRevision))
		us = append(us, tm.Status)
	}
	return s.retry(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.w, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO sync_logs (tenant_id, device_id, store_id, at, from_rev, to_rev, full_resync,
				upserts, deletes, downloads, hash_matched, inventory)
				SELECT t, d, nullif(s, '')::uuid, a, f, o, fu, u, de, dl, m, i FROM unnest($1::uuid[], $2::uuid[], $3::text[],
				$4::timestamptz[], $5::bigint[], $6::bigint[], $7::bool[], $8::int[], $9::int[], $10::int[], $11::bool[],
				$12::bytea[]) AS x(t, d, s, a, f, o, fu, u, de, dl, m, i)`,
				tenants, devices, stores, ats, froms, tos, fulls, ups, dels, dls, matched, invs)
			if pgCode(err) == "23503" {
				return fmt.Errorf("%w: a sync report names a device that is not in its tenant", catalog.ErrNotFound)
			}
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE devices d SET last_sync_at = x.a, app_version = x.v, cached_assets_count = x.n,
				cached_bytes = x.b, acked_revision = x.r, status = x.s
				FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::int[], $6::bigint[], $7::bigint[],
				$8::bytea[]) AS x(t, id, a, v, n, b, r, s)
				WHERE d.tenant_id = x.t AND d.id = x.id AND (d.last_sync_at IS NULL OR d.last_sync_at <= x.a)`,
				ut, ud, uat, uv, un, ub, ua, us)
			return err
		})
	})
}

func (s *Store) ListSyncLogs(ctx context.Context, tenantID, deviceID string, o catalog.ListOptions) (catalog.SyncLogPage, error) {
	var p catalog.SyncLogPage
	if !catalog.ValidID(tenantID) || !catalog.ValidID(deviceID) {
		return p, nil
	}
	var before *int64
	if o.Cursor != "" {
		id, err := strconv.ParseInt(o.Cursor, 10, 64)
		if err != nil {
			return p, fmt.Errorf("%w: sync log cursor %.80q", catalog.ErrInvalid, o.Cursor)
		}
		before = &id
	}
	limit := catalog.ClampLimit(o.Limit)
	var ids []int64
	err := s.retry(ctx, func(ctx context.Context) error {
		p.Logs, ids = nil, nil
		rows, err := s.w.Query(ctx, `SELECT id, tenant_id, device_id, coalesce(store_id::text, ''), at, from_rev, to_rev,
			full_resync, upserts, deletes, downloads, hash_matched, inventory FROM sync_logs
			WHERE tenant_id = $1 AND device_id = $2 AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4`,
			tenantID, deviceID, before, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l catalog.SyncLog
			var id, from, to int64
			var inv []byte
			if err := rows.Scan(&id, &l.TenantID, &l.DeviceID, &l.StoreID, &l.At, &from, &to, &l.Full, &l.Upserts,
				&l.Deletes, &l.Downloads, &l.StateHashMatched, &inv); err != nil {
				return err
			}
			l.At, l.FromRevision, l.ToRevision = l.At.UTC(), uint64(from), uint64(to)
			if inv != nil {
				l.Inventory = inv
			}
			p.Logs, ids = append(p.Logs, l), append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return p, err
	}
	if len(p.Logs) > limit {
		p.Logs = p.Logs[:limit]
		p.Next = strconv.FormatInt(ids[limit-1], 10)
	}
	return p, nil
}

func (s *Store) AddPlayEvents(ctx context.Context, tenantID string, events []catalog.PlayEvent) (int, error) {
	if !catalog.ValidID(tenantID) {
		return 0, fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	n := len(events)
	if n == 0 {
		return 0, nil
	}
	if n > catalog.MaxPlayBatch {
		return 0, fmt.Errorf("%w: %d play events, more than %d", catalog.ErrInvalid, n, catalog.MaxPlayBatch)
	}
	var (
		devs, assets, stores, zones, fbs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs, durs                       = make([]int64, n), make([]int64, n)
		starts, recvs                    = make([]time.Time, n), make([]time.Time, n)
	)
	for i, e := range events {
		if e.TenantID != "" && e.TenantID != tenantID {
			return 0, fmt.Errorf("%w: play event %d belongs to tenant %s", catalog.ErrInvalid, i, e.TenantID)
		}
		if err := e.Validate(); err != nil {
			return 0, fmt.Errorf("play event %d: %w", i, err)
		}
		devs[i], assets[i], stores[i], zones[i], fbs[i] = e.DeviceID, e.AssetID, e.StoreID, e.ZoneID, e.Fallback
		seqs[i], durs[i], starts[i], recvs[i] = int64(e.Seq), e.DurationMS, catalog.NormTime(e.StartedAt), catalog.NormTime(e.ReceivedAt)
	}
	var added int64
	err := s.retry(ctx, func(ctx context.Context) error {
		tag, err := s.w.Exec(ctx, `INSERT INTO play_events (tenant_id, device_id, seq, asset_id, store_id, zone_id, started_at,
			duration_ms, fallback, received_at)
			SELECT $1, d, q, nullif(a, '')::uuid, nullif(s, '')::uuid, nullif(z, '')::uuid, st, du, f, r
			FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::bigint[],
			$9::text[], $10::timestamptz[]) AS x(d, q, a, s, z, st, du, f, r)
			ON CONFLICT (tenant_id, device_id, seq) DO NOTHING`,
			tenantID, devs, seqs, assets, stores, zones, starts, durs, fbs, recvs)
		if pgCode(err) == "23503" {
			return fmt.Errorf("%w: a play event names a device that is not in the tenant", catalog.ErrNotFound)
		}
		added = tag.RowsAffected()
		return err
	})
	return int(added), err
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
	var cAt, cDev, cSeq any
	if q.Cursor != "" {
		at, dev, seq, err := catalog.ParsePlayCursor(q.Cursor)
		if err != nil {
			return p, err
		}
		cAt, cDev, cSeq = at, dev, int64(seq)
	}
	limit := catalog.ClampLimit(q.Limit)
	err := s.retry(ctx, func(ctx context.Context) error {
		p.Events = nil
		rows, err := s.w.Query(ctx, `SELECT device_id, seq, coalesce(asset_id::text, ''), coalesce(store_id::text, ''),
			coalesce(zone_id::text, ''), started_at, duration_ms, fallback, received_at FROM play_events
			WHERE tenant_id = $1 AND ($2::uuid IS NULL OR store_id = $2) AND ($3::uuid IS NULL OR zone_id = $3)
			AND ($4::uuid IS NULL OR device_id = $4) AND ($5::uuid IS NULL OR asset_id = $5)
			AND ($6::timestamptz IS NULL OR started_at >= $6) AND ($7::timestamptz IS NULL OR started_at < $7)
			AND ($8::timestamptz IS NULL OR (started_at, device_id, seq) > ($8, $9::uuid, $10::bigint))
			ORDER BY started_at, device_id, seq LIMIT $11`,
			tenantID, nullID(q.StoreID), nullID(q.ZoneID), nullID(q.DeviceID), nullID(q.AssetID), nullTime(q.From),
			nullTime(q.To), cAt, cDev, cSeq, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e := catalog.PlayEvent{TenantID: tenantID}
			var seq int64
			if err := rows.Scan(&e.DeviceID, &seq, &e.AssetID, &e.StoreID, &e.ZoneID, &e.StartedAt, &e.DurationMS,
				&e.Fallback, &e.ReceivedAt); err != nil {
				return err
			}
			e.Seq, e.StartedAt, e.ReceivedAt = uint64(seq), e.StartedAt.UTC(), e.ReceivedAt.UTC()
			p.Events = append(p.Events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return p, err
	}
	if len(p.Events) > limit {
		p.Events = p.Events[:limit]
		p.Next = catalog.PlayCursor(p.Events[limit-1])
	}
	return p, nil
}
