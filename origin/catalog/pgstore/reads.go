package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lomuz/lomuz/origin/catalog"
)

// get reads one row of the writer by (tenant, id) through scan; an id that is not a UUID is simply not found.
func get[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), what, sql, tenantID, id string) (T, error) {
	var v T
	if !catalog.ValidID(tenantID) || !catalog.ValidID(id) {
		return v, fmt.Errorf("%w: %s %q", catalog.ErrNotFound, what, id)
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		v, err = scan(s.w.QueryRow(ctx, sql, tenantID, id))
		return err
	})
	return v, notFound(err, what+" "+id)
}

// list reads every row of a query on the writer through scan.
func list[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	var out []T
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = collect(ctx, s.w, scan, sql, args...)
		return err
	})
	return out, err
}

func (s *Store) CreateTenant(ctx context.Context, t catalog.Tenant) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		return fmt.Errorf("%w: tenant has no creation time", catalog.ErrInvalid)
	}
	return s.retry(ctx, func(ctx context.Context) error {
		_, err := s.w.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`,
			t.ID, t.Name, catalog.NormTime(t.CreatedAt))
		if pgCode(err) == "23505" {
			return fmt.Errorf("%w: tenant %s exists", catalog.ErrConflict, t.ID)
		}
		return err
	})
}

func (s *Store) GetTenant(ctx context.Context, tenantID string) (catalog.Tenant, error) {
	var t catalog.Tenant
	if !catalog.ValidID(tenantID) {
		return t, fmt.Errorf("%w: tenant %q", catalog.ErrNotFound, tenantID)
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.w.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE id = $1`, tenantID).
			Scan(&t.ID, &t.Name, &t.CreatedAt)
	})
	t.CreatedAt = t.CreatedAt.UTC()
	return t, notFound(err, "tenant "+tenantID)
}

func (s *Store) AdminTokenByHash(ctx context.Context, h catalog.Hash) (catalog.AdminToken, error) {
	var t catalog.AdminToken
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		t, err = scanAdminToken(s.w.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE hash = $1`, h[:]))
		return err
	})
	if err != nil {
		return t, notFound(err, "admin token")
	}
	if !t.RevokedAt.IsZero() {
		return t, fmt.Errorf("%w: admin token %s", catalog.ErrRevoked, t.ID)
	}
	return t, nil
}

func (s *Store) ListAdminTokens(ctx context.Context, tenantID string) ([]catalog.AdminToken, error) {
	if !catalog.ValidID(tenantID) {
		return nil, nil
	}
	return list(ctx, s, scanAdminToken, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

func (s *Store) GetStore(ctx context.Context, tenantID, storeID string) (catalog.Shop, error) {
	return get(ctx, s, scanStore, "store", `SELECT `+storeCols+` FROM stores WHERE tenant_id = $1 AND id = $2`, tenantID, storeID)
}

func (s *Store) ListStores(ctx context.Context, tenantID string) ([]catalog.Shop, error) {
	if !catalog.ValidID(tenantID) {
		return nil, nil
	}
	return list(ctx, s, scanStore, `SELECT `+storeCols+` FROM stores WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

func (s *Store) GetZone(ctx context.Context, tenantID, zoneID string) (catalog.Zone, error) {
	return get(ctx, s, scanZone, "zone", `SELECT `+zoneCols+` FROM zones WHERE tenant_id = $1 AND id = $2`, tenantID, zoneID)
}

func (s *Store) ListZones(ctx context.Context, tenantID, storeID string) ([]catalog.Zone, error) {
	if !catalog.ValidID(tenantID) || storeID != "" && !catalog.ValidID(storeID) {
		return nil, nil
	}
	return list(ctx, s, scanZone, `SELECT `+zoneCols+` FROM zones WHERE tenant_id = $1
		AND ($2::uuid IS NULL OR store_id = $2) ORDER BY id`, tenantID, nullID(storeID))
}

func (s *Store) GetDevice(ctx context.Context, tenantID, deviceID string) (catalog.Device, error) {
	return get(ctx, s, scanDevice, "device", `SELECT `+deviceCols+` FROM devices WHERE tenant_id = $1 AND id = $2`, tenantID, deviceID)
}

const listDevicesSQL = `SELECT ` + deviceCols + ` FROM devices WHERE tenant_id = $1
	AND ($2::uuid IS NULL OR store_id = $2) AND ($3::uuid IS NULL OR zone_id = $3) ORDER BY id`

func (s *Store) ListDevices(ctx context.Context, tenantID string, f catalog.DeviceFilter) ([]catalog.Device, error) {
	if !catalog.ValidID(tenantID) || f.StoreID != "" && !catalog.ValidID(f.StoreID) || f.ZoneID != "" && !catalog.ValidID(f.ZoneID) {
		return nil, nil
	}
	return list(ctx, s, scanDevice, listDevicesSQL, tenantID, nullID(f.StoreID), nullID(f.ZoneID))
}

const deviceByCredSQL = `SELECT ` + deviceCols + ` FROM devices WHERE credential_hash = $1`

// DeviceByCredential reads a replica first (the hot path), and the writer when the replica does not know the
// credential yet (a device enrolled a moment ago). A revocation reaches replicas after their lag.
func (s *Store) DeviceByCredential(ctx context.Context, h catalog.Hash) (catalog.Device, error) {
	var d catalog.Device
	read := func(ctx context.Context, q *pgxpool.Pool) error {
		var err error
		d, err = scanDevice(q.QueryRow(ctx, deviceByCredSQL, h[:]))
		return err
	}
	// One try on a replica; anything but a hit (unknown there, or the replica failing) goes to the writer, with
	// retries, so a replica that is down costs one failed attempt rather than the caller's whole deadline.
	err := errNoReplica
	if len(s.replicas) > 0 && !s.closed.Load() {
		err = read(ctx, s.reader())
	}
	if err != nil {
		err = s.retry(ctx, func(ctx context.Context) error { return read(ctx, s.w) })
	}
	if err != nil {
		return d, notFound(err, "device credential")
	}
	if !d.RevokedAt.IsZero() {
		return d, fmt.Errorf("%w: device %s", catalog.ErrRevoked, d.ID)
	}
	return d, nil
}

var errNoReplica = errors.New("pgstore: no replica")

func (s *Store) EnrollmentTokenByHash(ctx context.Context, h catalog.Hash) (catalog.EnrollmentToken, error) {
	var t catalog.EnrollmentToken
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		t, err = scanEnroll(s.w.QueryRow(ctx, `SELECT `+enrollCols+` FROM enrollment_tokens WHERE hash = $1`, h[:]))
		return err
	})
	return t, notFound(err, "enrollment token")
}

func (s *Store) ListEnrollmentTokens(ctx context.Context, tenantID, storeID string) ([]catalog.EnrollmentToken, error) {
	if !catalog.ValidID(tenantID) || storeID != "" && !catalog.ValidID(storeID) {
		return nil, nil
	}
	return list(ctx, s, scanEnroll, `SELECT `+enrollCols+` FROM enrollment_tokens WHERE tenant_id = $1
		AND ($2::uuid IS NULL OR store_id = $2) ORDER BY expires_at, hash`, tenantID, nullID(storeID))
}

func (s *Store) GetAsset(ctx context.Context, tenantID, assetID string) (catalog.Asset, error) {
	return get(ctx, s, scanAsset, "asset", `SELECT `+assetCols+` FROM assets WHERE tenant_id = $1 AND id = $2`, tenantID, assetID)
}

func (s *Store) ListAssets(ctx context.Context, tenantID string, o catalog.ListOptions) (catalog.AssetPage, error) {
	var p catalog.AssetPage
	if !catalog.ValidID(tenantID) {
		return p, nil
	}
	if o.Cursor != "" && !catalog.ValidID(o.Cursor) {
		return p, fmt.Errorf("%w: cursor %q", catalog.ErrInvalid, o.Cursor)
	}
	if err := catalog.CheckQuery(o.Query); err != nil {
		return p, err
	}
	limit := catalog.ClampLimit(o.Limit)
	where := `tenant_id = $1 AND ($2::uuid IS NULL OR id > $2)`
	if o.Emergency {
		where += ` AND emergency_eligible`
	}
	sql, args := `SELECT `+assetCols+` FROM assets WHERE `+where+` ORDER BY id LIMIT $3`,
		[]any{tenantID, nullID(o.Cursor), limit + 1}
	if o.Query != "" {
		// The expression is the one the trigram index of migration 00005 is built on. The statement is sent with
		// its values inlined (pgx quotes them; the simple protocol): only with the pattern known when planning does
		// PostgreSQL see how few rows match and use the index; a cached generic plan, its pattern unknown, walks
		// the primary key in id order folding every title (~1 s at 50,000 assets, against ~10 ms).
		sql = `SELECT ` + assetCols + ` FROM assets WHERE ` + where + `
			AND lomuz_fold(title || ' ' || artist || ' ' || isrc) LIKE '%' || lomuz_fold($4) || '%' ESCAPE '\'
			ORDER BY id LIMIT $3`
		args = append([]any{pgx.QueryExecModeSimpleProtocol}, append(args, likeEscape(o.Query))...)
	}
	as, err := list(ctx, s, scanAsset, sql, args...)
	if err != nil {
		return p, err
	}
	if len(as) > limit {
		as = as[:limit]
		p.Next = as[limit-1].ID
	}
	p.Assets = as
	return p, nil
}

func (s *Store) GetAssets(ctx context.Context, tenantID string, ids []string) ([]catalog.Asset, error) {
	if err := catalog.CheckAssetIDs(ids); err != nil {
		return nil, err
	}
	if !catalog.ValidID(tenantID) || len(ids) == 0 {
		return nil, nil
	}
	return list(ctx, s, scanAsset, `SELECT `+assetCols+` FROM assets WHERE tenant_id = $1 AND id = ANY($2::uuid[])
		ORDER BY id`, tenantID, ids)
}

// likeEscape quotes LIKE's wildcards, so a search for "100%" looks for the text.
func likeEscape(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}

func (s *Store) GetPlaylist(ctx context.Context, tenantID, playlistID string) (catalog.Playlist, error) {
	return get(ctx, s, scanPlaylist, "playlist", `SELECT `+playlistCols+` FROM playlists WHERE tenant_id = $1 AND id = $2`, tenantID, playlistID)
}

func (s *Store) ListPlaylists(ctx context.Context, tenantID string) ([]catalog.Playlist, error) {
	if !catalog.ValidID(tenantID) {
		return nil, nil
	}
	return list(ctx, s, scanPlaylist, `SELECT `+playlistCols+` FROM playlists WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

func (s *Store) GetSchedule(ctx context.Context, tenantID, scheduleID string) (catalog.Schedule, error) {
	return get(ctx, s, scanSchedule, "schedule", `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = $1 AND id = $2`, tenantID, scheduleID)
}

func (s *Store) ListSchedules(ctx context.Context, tenantID string, f catalog.ScheduleFilter) ([]catalog.Schedule, error) {
	if !catalog.ValidID(tenantID) || f.StoreID != "" && !catalog.ValidID(f.StoreID) {
		return nil, nil
	}
	return list(ctx, s, scanSchedule, `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = $1
		AND ($2::uuid IS NULL OR store_id IS NULL OR store_id = $2) ORDER BY id`, tenantID, nullID(f.StoreID))
}
