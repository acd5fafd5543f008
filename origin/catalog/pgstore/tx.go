package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Update runs fn in a transaction that first locks the tenant's row: writers of one tenant are serialized for the
// whole transaction, so reference checks made by the Tx methods cannot race, and revisions commit in order.
// Transient failures before COMMIT re-run fn; a failure during COMMIT returns ErrCommitUnknown.
func (s *Store) Update(ctx context.Context, tenantID string, fn func(catalog.Tx) error) error {
	if !catalog.ValidID(tenantID) {
		return fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	return s.retry(ctx, func(ctx context.Context) error {
		tx, err := s.w.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		var cur int64
		err = tx.QueryRow(ctx, `SELECT revision FROM tenants WHERE id = $1 FOR UPDATE`, tenantID).Scan(&cur)
		if err != nil {
			return notFound(err, "tenant "+tenantID)
		}
		t := &pgTx{ctx: ctx, tx: tx, tenant: tenantID, cur: uint64(cur), hashes: map[string]*crdt.StateHash{}, scopes: map[string]bool{}}
		defer func() { t.done = true }()
		if err := fn(t); err != nil {
			return err
		}
		if t.failed != nil {
			return t.failed
		}
		if err := t.flush(); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil && !pgconn.SafeToRetry(err) {
			// The COMMIT was sent: it may have taken effect. Re-running fn could then fail on its own writes
			// (ErrConflict) or take a second revision, so the caller gets to decide, with the outcome unknown.
			return fmt.Errorf("%w: %v", ErrCommitUnknown, err)
		} else if err != nil {
			return err
		}
		s.afterBulk(ctx, t.puts)
		return nil
	})
}

// afterBulk refreshes the planner's statistics of records and assets after a transaction that wrote at least
// Config.AnalyzeAfter of them, at most once per Config.AnalyzeEvery. Right after a bulk import the statistics
// still describe a small table, and the planner then sorts the whole catalog for each page of a full resync
// (1.8 s a page instead of 0.1 s at 100,000 records, measured), or takes a tenant's assets for a handful and
// folds every title for a library search instead of using its trigram index (0.4 s instead of 10 ms at 50,000
// assets, measured), until autovacuum analyzes them. Best effort: a failure only leaves that to autovacuum.
func (s *Store) afterBulk(ctx context.Context, puts int) {
	if puts < s.cfg.AnalyzeAfter {
		return
	}
	now := time.Now().UnixNano()
	last := s.lastAnalyze.Load()
	if now-last < int64(s.cfg.AnalyzeEvery) || !s.lastAnalyze.CompareAndSwap(last, now) {
		return
	}
	_, _ = s.w.Exec(ctx, `ANALYZE records, assets`)
}

// ErrCommitUnknown is returned by Update when the connection failed while COMMIT was in flight: the transaction
// may or may not have committed. It is not retried.
var ErrCommitUnknown = catalog.ErrOutcomeUnknown

// pgTx implements catalog.Tx over one pgx transaction.
type pgTx struct {
	ctx    context.Context
	tx     pgx.Tx
	tenant string
	cur    uint64 // the tenant's revision when the transaction began
	rev    uint64 // this transaction's revision once taken, else 0
	hashes map[string]*crdt.StateHash
	scopes map[string]bool // store scopes checked to exist in this transaction
	puts   int             // records and assets written
	// failed is the first database error: after it the transaction is aborted, so every later call fails too.
	failed error
	done   bool
}

var _ catalog.Tx = (*pgTx)(nil)

// check reports whether the transaction can still be used.
func (t *pgTx) check() error {
	if t.done {
		return errors.New("pgstore: Tx used after its Update returned")
	}
	return t.failed
}

// fail records a database error, which aborted the transaction in PostgreSQL, and returns it.
func (t *pgTx) fail(err error) error {
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

func (t *pgTx) exec(sql string, args ...any) (int64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	if err != nil {
		return 0, t.fail(err)
	}
	return tag.RowsAffected(), nil
}

// exists reports whether a query returns a row.
func (t *pgTx) exists(sql string, args ...any) (bool, error) {
	if err := t.check(); err != nil {
		return false, err
	}
	var one int
	err := t.tx.QueryRow(t.ctx, sql, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(err)
	}
	return true, nil
}

func txGet[T any](t *pgTx, scan func(pgx.Row) (T, error), what, sql, id string) (T, error) {
	var v T
	if err := t.check(); err != nil {
		return v, err
	}
	if !catalog.ValidID(id) {
		return v, fmt.Errorf("%w: %s %q", catalog.ErrNotFound, what, id)
	}
	v, err := scan(t.tx.QueryRow(t.ctx, sql, t.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, notFound(err, what+" "+id)
	}
	return v, t.fail(err)
}

func (t *pgTx) TenantID() string { return t.tenant }

func (t *pgTx) NextRevision() (uint64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	if t.rev == 0 {
		t.rev = t.cur + 1
	}
	return t.rev, nil
}

// hash returns the transaction's copy of a scope's state hash, reading it on first use.
func (t *pgTx) hash(scope string) (*crdt.StateHash, error) {
	if h, ok := t.hashes[scope]; ok {
		return h, nil
	}
	var b []byte
	err := t.tx.QueryRow(t.ctx, `SELECT hash FROM scope_hashes WHERE tenant_id = $1 AND scope = $2`, t.tenant, scope).Scan(&b)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, t.fail(err)
	}
	h := new(crdt.StateHash)
	copy(h[:], b)
	t.hashes[scope] = h
	return h, nil
}

func (t *pgTx) PutRecord(rec crdt.Record, scope string) error {
	if err := t.check(); err != nil {
		return err
	}
	if rec.Tenant != t.tenant || t.rev == 0 || rec.Rev != t.rev {
		return fmt.Errorf("%w: record %s has tenant %s rev %d, transaction tenant %s rev %d", catalog.ErrRevisionMismatch,
			rec.Key, rec.Tenant, rec.Rev, t.tenant, t.rev)
	}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", catalog.ErrInvalid, err)
	}
	if scope != catalog.TenantScope && !t.scopes[scope] {
		ok, err := t.exists(`SELECT 1 FROM stores WHERE tenant_id = $1 AND id = $2`, t.tenant, nullIDValid(scope))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: record scope %q is not a store of the tenant", catalog.ErrInvalid, scope)
		}
		t.scopes[scope] = true
	}
	h, err := t.hash(scope)
	if err != nil {
		return err
	}
	body := rec.Body
	if body == nil {
		body = []byte{}
	}
	sig := rec.Sig
	if sig == nil {
		sig = []byte{}
	}
	// One round trip: read the previous record of the key and upsert, unless the key lives in another scope
	// (then nothing is written and written is 0).
	var written int
	var oldScope *string
	var oldRev *int64
	var oldDeleted *bool
	err = t.tx.QueryRow(t.ctx, `WITH old AS (SELECT scope, rev, deleted FROM records WHERE tenant_id = $1 AND key = $2),
		up AS (INSERT INTO records (tenant_id, key, scope, rev, deleted, body, sig) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (tenant_id, key) DO UPDATE SET rev = EXCLUDED.rev, deleted = EXCLUDED.deleted, body = EXCLUDED.body,
			sig = EXCLUDED.sig WHERE records.scope = EXCLUDED.scope RETURNING 1)
		SELECT (SELECT count(*) FROM up), old.scope, old.rev, old.deleted FROM (SELECT 1) AS one LEFT JOIN old ON true`,
		t.tenant, rec.Key, scope, int64(rec.Rev), rec.Deleted, body, sig).Scan(&written, &oldScope, &oldRev, &oldDeleted)
	if err != nil {
		return t.fail(err)
	}
	if written == 0 {
		return fmt.Errorf("%w: record %s has scope %q, not %q", catalog.ErrConflict, rec.Key, fromNullID(oldScope), scope)
	}
	if oldRev != nil && !*oldDeleted {
		h.Remove(rec.Key, uint64(*oldRev))
	}
	if !rec.Deleted {
		h.Add(rec.Key, rec.Rev)
	}
	t.puts++
	return nil
}

// nullIDValid passes a scope that is not a UUID as NULL, which matches no store.
func nullIDValid(s string) any {
	if !catalog.ValidID(s) {
		return nil
	}
	return s
}

// flush writes the revision and the touched scope hashes before commit.
func (t *pgTx) flush() error {
	if t.rev != 0 {
		if _, err := t.exec(`UPDATE tenants SET revision = $2 WHERE id = $1`, t.tenant, int64(t.rev)); err != nil {
			return err
		}
	}
	scopes := make([]string, 0, len(t.hashes))
	for sc := range t.hashes {
		scopes = append(scopes, sc)
	}
	slices.Sort(scopes) // a fixed order of row locks
	for _, sc := range scopes {
		h := t.hashes[sc]
		if _, err := t.exec(`INSERT INTO scope_hashes (tenant_id, scope, hash) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, scope) DO UPDATE SET hash = EXCLUDED.hash`, t.tenant, sc, h[:]); err != nil {
			return err
		}
	}
	return nil
}

func (t *pgTx) GetStore(id string) (catalog.Shop, error) {
	return txGet(t, scanStore, "store", `SELECT `+storeCols+` FROM stores WHERE tenant_id = $1 AND id = $2`, id)
}

func (t *pgTx) GetZone(id string) (catalog.Zone, error) {
	return txGet(t, scanZone, "zone", `SELECT `+zoneCols+` FROM zones WHERE tenant_id = $1 AND id = $2`, id)
}

func (t *pgTx) GetDevice(id string) (catalog.Device, error) {
	return txGet(t, scanDevice, "device", `SELECT `+deviceCols+` FROM devices WHERE tenant_id = $1 AND id = $2`, id)
}

func (t *pgTx) ListDevices(f catalog.DeviceFilter) ([]catalog.Device, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if f.StoreID != "" && !catalog.ValidID(f.StoreID) || f.ZoneID != "" && !catalog.ValidID(f.ZoneID) {
		return nil, nil
	}
	ds, err := collect(t.ctx, t.tx, scanDevice, listDevicesSQL, t.tenant, nullID(f.StoreID), nullID(f.ZoneID))
	return ds, t.fail(err)
}

func (t *pgTx) GetAsset(id string) (catalog.Asset, error) {
	return txGet(t, scanAsset, "asset", `SELECT `+assetCols+` FROM assets WHERE tenant_id = $1 AND id = $2`, id)
}

func (t *pgTx) GetPlaylist(id string) (catalog.Playlist, error) {
	return txGet(t, scanPlaylist, "playlist", `SELECT `+playlistCols+` FROM playlists WHERE tenant_id = $1 AND id = $2`, id)
}

func (t *pgTx) GetSchedule(id string) (catalog.Schedule, error) {
	return txGet(t, scanSchedule, "schedule", `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = $1 AND id = $2`, id)
}

// deleteRow deletes one row of the tenant by id, after checking that nothing listed in inUse references it.
func (t *pgTx) deleteRow(table, what, id string, inUse ...string) error {
	if err := t.check(); err != nil {
		return err
	}
	if !catalog.ValidID(id) {
		return fmt.Errorf("%w: %s %q", catalog.ErrNotFound, what, id)
	}
	for _, q := range inUse {
		used, err := t.exists(q, t.tenant, id)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: %s %s is in use", catalog.ErrConflict, what, id)
		}
	}
	n, err := t.exec(`DELETE FROM `+table+` WHERE tenant_id = $1 AND id = $2`, t.tenant, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s %s", catalog.ErrNotFound, what, id)
	}
	return nil
}

// need checks that a referenced row exists in the tenant (ErrInvalid otherwise).
func (t *pgTx) need(table, what, id string) error {
	ok, err := t.exists(`SELECT 1 FROM `+table+` WHERE tenant_id = $1 AND id = $2`, t.tenant, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s %s does not exist", catalog.ErrInvalid, what, id)
	}
	return nil
}

func (t *pgTx) PutStore(s catalog.Shop) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	taken, err := t.exists(`SELECT 1 FROM stores WHERE mesh_id = $1 AND id <> $2`, s.MeshID, s.ID)
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("%w: mesh id %q is taken", catalog.ErrConflict, s.MeshID)
	}
	other, err := t.exists(`SELECT 1 FROM stores WHERE id = $1 AND tenant_id <> $2`, s.ID, t.tenant)
	if err != nil {
		return err
	}
	if other {
		return fmt.Errorf("%w: store id %s is taken", catalog.ErrConflict, s.ID)
	}
	_, err = t.exec(`INSERT INTO stores (`+storeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, mesh_key = EXCLUDED.mesh_key,
		key_epoch = EXCLUDED.key_epoch, mesh_id = EXCLUDED.mesh_id, target_lufs = EXCLUDED.target_lufs,
		crossfade_ms = EXCLUDED.crossfade_ms, updated_at = EXCLUDED.updated_at`,
		s.ID, t.tenant, s.Name, s.TimeZone, s.MeshKey, int64(s.KeyEpoch), s.MeshID, s.Settings.TargetLUFS,
		s.Settings.CrossfadeMS, catalog.NormTime(s.CreatedAt), catalog.NormTime(s.UpdatedAt))
	return err
}

func (t *pgTx) DeleteStore(id string) error {
	return t.deleteRow("stores", "store", id,
		`SELECT 1 FROM zones WHERE tenant_id = $1 AND store_id = $2 LIMIT 1`,
		`SELECT 1 FROM schedules WHERE tenant_id = $1 AND store_id = $2 LIMIT 1`,
		`SELECT 1 FROM admin_tokens WHERE tenant_id = $1 AND store_id = $2 LIMIT 1`)
}

func (t *pgTx) PutZone(z catalog.Zone) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := z.Validate(); err != nil {
		return err
	}
	if err := t.need("stores", "store", z.StoreID); err != nil {
		return err
	}
	moved, err := t.exists(`SELECT 1 FROM zones WHERE id = $1 AND (tenant_id <> $2 OR store_id <> $3)`, z.ID, t.tenant, z.StoreID)
	if err != nil {
		return err
	}
	if moved {
		return fmt.Errorf("%w: zone %s belongs to another store", catalog.ErrConflict, z.ID)
	}
	_, err = t.exec(`INSERT INTO zones (`+zoneCols+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`, z.ID, t.tenant, z.StoreID, z.Name, catalog.NormTime(z.CreatedAt))
	return err
}

func (t *pgTx) DeleteZone(id string) error {
	return t.deleteRow("zones", "zone", id,
		`SELECT 1 FROM devices WHERE tenant_id = $1 AND zone_id = $2 LIMIT 1`,
		`SELECT 1 FROM schedules WHERE tenant_id = $1 AND zone_id = $2 LIMIT 1`,
		`SELECT 1 FROM enrollment_tokens WHERE tenant_id = $1 AND zone_id = $2 LIMIT 1`)
}

// needZone checks that zone exists in store.
func (t *pgTx) needZone(storeID, zoneID string) error {
	ok, err := t.exists(`SELECT 1 FROM zones WHERE tenant_id = $1 AND store_id = $2 AND id = $3`, t.tenant, storeID, zoneID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: zone %s of store %s does not exist", catalog.ErrInvalid, zoneID, storeID)
	}
	return nil
}

func (t *pgTx) CreateDevice(d catalog.Device) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if err := t.needZone(d.StoreID, d.ZoneID); err != nil {
		return err
	}
	taken, err := t.exists(`SELECT 1 FROM devices WHERE id = $1 OR credential_hash = $2 OR (tenant_id = $3 AND peer_id = $4)`,
		d.ID, d.CredentialHash[:], t.tenant, d.PeerID)
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("%w: device id, credential or peer id is taken", catalog.ErrConflict)
	}
	tm := d.Telemetry
	_, err = t.exec(`INSERT INTO devices (`+deviceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		d.ID, t.tenant, d.StoreID, d.ZoneID, d.Name, d.PublicKey, d.PeerID, d.CredentialHash[:], catalog.NormTime(d.EnrolledAt),
		nullTime(d.RevokedAt), nullTime(tm.LastSyncAt), tm.AppVersion, tm.CachedAssetsCount, tm.CachedBytes,
		int64(tm.AckedRevision), nullJSON(tm.Status))
	return err
}

func (t *pgTx) RevokeDevice(id string, at time.Time) error {
	return t.revoke("devices", "device", id, at)
}

// revoke sets revoked_at on a row that is not revoked yet.
func (t *pgTx) revoke(table, what, id string, at time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	if !catalog.ValidID(id) {
		return fmt.Errorf("%w: %s %q", catalog.ErrNotFound, what, id)
	}
	if at.IsZero() {
		return fmt.Errorf("%w: revocation time is zero", catalog.ErrInvalid)
	}
	var revoked *time.Time
	err := t.tx.QueryRow(t.ctx, `SELECT revoked_at FROM `+table+` WHERE tenant_id = $1 AND id = $2`, t.tenant, id).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s %s", catalog.ErrNotFound, what, id)
	}
	if err != nil {
		return t.fail(err)
	}
	if revoked != nil {
		return fmt.Errorf("%w: %s %s", catalog.ErrRevoked, what, id)
	}
	_, err = t.exec(`UPDATE `+table+` SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2`, t.tenant, id, catalog.NormTime(at))
	return err
}

func (t *pgTx) PutAsset(a catalog.Asset) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	other, err := t.exists(`SELECT 1 FROM assets WHERE id = $1 AND tenant_id <> $2`, a.ID, t.tenant)
	if err != nil {
		return err
	}
	if other {
		return fmt.Errorf("%w: asset id %s is taken", catalog.ErrConflict, a.ID)
	}
	t.puts++
	_, err = t.exec(`INSERT INTO assets (`+assetCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
		$15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
		ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title, artist = EXCLUDED.artist,
		isrc = EXCLUDED.isrc, sha256 = EXCLUDED.sha256, md5 = EXCLUDED.md5, size = EXCLUDED.size,
		duration_ms = EXCLUDED.duration_ms, codec = EXCLUDED.codec, loudness_lufs = EXCLUDED.loudness_lufs,
		cue_in_ms = EXCLUDED.cue_in_ms, cue_out_ms = EXCLUDED.cue_out_ms, valid_from = EXCLUDED.valid_from,
		valid_until = EXCLUDED.valid_until, emergency_eligible = EXCLUDED.emergency_eligible, state = EXCLUDED.state,
		master_key = EXCLUDED.master_key, rendition_sha256 = EXCLUDED.rendition_sha256,
		rendition_size = EXCLUDED.rendition_size, fail_reason = EXCLUDED.fail_reason, updated_at = EXCLUDED.updated_at`,
		a.ID, t.tenant, a.Kind, a.Title, a.Artist, a.ISRC, a.SHA256, a.MD5, a.Size, a.DurationMS, a.Codec, a.LoudnessLUFS,
		a.CueInMS, a.CueOutMS, nullTime(a.ValidFrom), nullTime(a.ValidUntil), a.EmergencyEligible, a.State, a.MasterKey,
		a.RenditionSHA256, a.RenditionSize, a.FailReason, catalog.NormTime(a.CreatedAt), catalog.NormTime(a.UpdatedAt))
	return err
}

func (t *pgTx) DeleteAsset(id string) error {
	return t.deleteRow("assets", "asset", id,
		`SELECT 1 FROM playlists WHERE tenant_id = $1 AND $2::uuid = ANY (asset_ids) LIMIT 1`)
}

func (t *pgTx) PutPlaylist(p catalog.Playlist) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	distinct := slices.Clone(p.AssetIDs)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	var n int
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM assets WHERE tenant_id = $1 AND id = ANY ($2::uuid[])`,
		t.tenant, distinct).Scan(&n); err != nil {
		return t.fail(err)
	}
	if n != len(distinct) {
		return fmt.Errorf("%w: %d of the playlist's assets do not exist", catalog.ErrInvalid, len(distinct)-n)
	}
	other, err := t.exists(`SELECT 1 FROM playlists WHERE id = $1 AND tenant_id <> $2`, p.ID, t.tenant)
	if err != nil {
		return err
	}
	if other {
		return fmt.Errorf("%w: playlist id %s is taken", catalog.ErrConflict, p.ID)
	}
	ids := p.AssetIDs
	if ids == nil {
		ids = []string{}
	}
	_, err = t.exec(`INSERT INTO playlists (id, tenant_id, name, asset_ids, created_at, updated_at)
		VALUES ($1, $2, $3, $4::uuid[], $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, asset_ids = EXCLUDED.asset_ids, updated_at = EXCLUDED.updated_at`,
		p.ID, t.tenant, p.Name, ids, catalog.NormTime(p.CreatedAt), catalog.NormTime(p.UpdatedAt))
	return err
}

func (t *pgTx) DeletePlaylist(id string) error {
	return t.deleteRow("playlists", "playlist", id,
		`SELECT 1 FROM schedules WHERE tenant_id = $1 AND (playlist_id = $2 OR $2::uuid = ANY (spot_playlist_ids)) LIMIT 1`)
}

func (t *pgTx) PutSchedule(s catalog.Schedule) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	pls := s.PlaylistIDs()
	for _, id := range pls {
		if err := t.need("playlists", "playlist", id); err != nil {
			return err
		}
	}
	if s.StoreID != "" {
		if err := t.need("stores", "store", s.StoreID); err != nil {
			return err
		}
	}
	if s.ZoneID != "" {
		if err := t.needZone(s.StoreID, s.ZoneID); err != nil {
			return err
		}
	}
	other, err := t.exists(`SELECT 1 FROM schedules WHERE id = $1 AND tenant_id <> $2`, s.ID, t.tenant)
	if err != nil {
		return err
	}
	if other {
		return fmt.Errorf("%w: schedule id %s is taken", catalog.ErrConflict, s.ID)
	}
	wd := s.Weekdays
	if wd == nil {
		wd = []int{}
	}
	_, err = t.exec(`INSERT INTO schedules (id, tenant_id, store_id, zone_id, playlist_id, priority, date_from, date_to,
		weekdays, start_hm, end_hm, spot_rules, spot_playlist_ids, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::uuid[], $14, $15)
		ON CONFLICT (id) DO UPDATE SET store_id = EXCLUDED.store_id, zone_id = EXCLUDED.zone_id,
		playlist_id = EXCLUDED.playlist_id, priority = EXCLUDED.priority, date_from = EXCLUDED.date_from,
		date_to = EXCLUDED.date_to, weekdays = EXCLUDED.weekdays, start_hm = EXCLUDED.start_hm, end_hm = EXCLUDED.end_hm,
		spot_rules = EXCLUDED.spot_rules, spot_playlist_ids = EXCLUDED.spot_playlist_ids, updated_at = EXCLUDED.updated_at`,
		s.ID, t.tenant, nullID(s.StoreID), nullID(s.ZoneID), s.PlaylistID, s.Priority, s.DateFrom, s.DateTo, wd, s.Start,
		s.End, encodeSpotRules(s.SpotRules), pls[1:], catalog.NormTime(s.CreatedAt), catalog.NormTime(s.UpdatedAt))
	return err
}

func (t *pgTx) DeleteSchedule(id string) error {
	return t.deleteRow("schedules", "schedule", id)
}

func (t *pgTx) CreateAdminToken(a catalog.AdminToken) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if a.StoreID != "" {
		if err := t.need("stores", "store", a.StoreID); err != nil {
			return err
		}
	}
	taken, err := t.exists(`SELECT 1 FROM admin_tokens WHERE id = $1 OR hash = $2`, a.ID, a.Hash[:])
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("%w: admin token id or hash is taken", catalog.ErrConflict)
	}
	_, err = t.exec(`INSERT INTO admin_tokens (id, tenant_id, name, role, store_id, hash, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ID, t.tenant, a.Name, a.Role, nullID(a.StoreID), a.Hash[:],
		catalog.NormTime(a.CreatedAt), nullTime(a.RevokedAt))
	return err
}

func (t *pgTx) RevokeAdminToken(id string, at time.Time) error {
	return t.revoke("admin_tokens", "admin token", id, at)
}

func (t *pgTx) CreateEnrollmentToken(e catalog.EnrollmentToken) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if err := t.needZone(e.StoreID, e.ZoneID); err != nil {
		return err
	}
	taken, err := t.exists(`SELECT 1 FROM enrollment_tokens WHERE hash = $1`, e.Hash[:])
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("%w: enrollment token hash is taken", catalog.ErrConflict)
	}
	_, err = t.exec(`INSERT INTO enrollment_tokens (hash, tenant_id, store_id, zone_id, created_at, expires_at, used_by, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Hash[:], t.tenant, e.StoreID, e.ZoneID, catalog.NormTime(e.CreatedAt),
		catalog.NormTime(e.ExpiresAt), nullID(e.UsedBy), nullTime(e.UsedAt))
	return err
}

func (t *pgTx) RedeemEnrollmentToken(h catalog.Hash, deviceID string, now time.Time) (catalog.EnrollmentToken, error) {
	var e catalog.EnrollmentToken
	if err := t.check(); err != nil {
		return e, err
	}
	if !catalog.ValidID(deviceID) {
		return e, fmt.Errorf("%w: device id %q", catalog.ErrInvalid, deviceID)
	}
	e, err := scanEnroll(t.tx.QueryRow(t.ctx, `SELECT `+enrollCols+` FROM enrollment_tokens WHERE hash = $1 AND tenant_id = $2
		FOR UPDATE`, h[:], t.tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("%w: enrollment token", catalog.ErrNotFound)
	}
	if err != nil {
		return e, t.fail(err)
	}
	if e.UsedBy != "" {
		return e, fmt.Errorf("%w: by device %s", catalog.ErrTokenUsed, e.UsedBy)
	}
	if now.After(e.ExpiresAt) {
		return e, fmt.Errorf("%w: at %s", catalog.ErrExpired, e.ExpiresAt.Format(time.RFC3339))
	}
	e.UsedBy, e.UsedAt = deviceID, catalog.NormTime(now)
	_, err = t.exec(`UPDATE enrollment_tokens SET used_by = $2, used_at = $3 WHERE hash = $1`, h[:], deviceID, e.UsedAt)
	return e, err
}
