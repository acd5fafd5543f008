package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lomuz/lomuz/origin/catalog"
)

// Zone overrides: the current one per zone in zone_overrides (gone with its zone), every change in
// zone_override_log (kept).

const overrideCols = `tenant_id, store_id, zone_id, volume_pct, mute_from, mute_until, cleared, hlc_wall_ms, hlc_logical,
	set_by, set_by_name, set_at`

func scanOverride(r pgx.Row) (catalog.ZoneOverride, error) {
	var o catalog.ZoneOverride
	var from, until *time.Time
	var setBy *string
	var logical int64
	err := r.Scan(&o.TenantID, &o.StoreID, &o.ZoneID, &o.VolumePct, &from, &until, &o.Cleared, &o.HLC.WallMS, &logical,
		&setBy, &o.SetByName, &o.SetAt)
	o.HLC.Logical = uint32(logical)
	o.MuteFrom, o.MuteUntil, o.SetBy, o.SetAt = fromNullTime(from), fromNullTime(until), fromNullID(setBy), o.SetAt.UTC()
	return o, err
}

func (s *Store) GetZoneOverride(ctx context.Context, tenantID, zoneID string) (catalog.ZoneOverride, error) {
	return get(ctx, s, scanOverride, "zone override",
		`SELECT `+overrideCols+` FROM zone_overrides WHERE tenant_id = $1 AND zone_id = $2`, tenantID, zoneID)
}

func (s *Store) ListZoneOverrides(ctx context.Context, tenantID, storeID string) ([]catalog.ZoneOverride, error) {
	if !catalog.ValidID(tenantID) || storeID != "" && !catalog.ValidID(storeID) {
		return nil, nil
	}
	return list(ctx, s, scanOverride, `SELECT `+overrideCols+` FROM zone_overrides
		WHERE tenant_id = $1 AND ($2::uuid IS NULL OR store_id = $2) ORDER BY zone_id`, tenantID, nullID(storeID))
}

func (s *Store) ZoneOverrideHistory(ctx context.Context, tenantID, zoneID string, limit int) ([]catalog.ZoneOverride, error) {
	if !catalog.ValidID(tenantID) || !catalog.ValidID(zoneID) {
		return nil, nil
	}
	if limit <= 0 || limit > catalog.MaxOverrideHistory {
		limit = catalog.MaxOverrideHistory
	}
	return list(ctx, s, scanOverride, `SELECT `+overrideCols+` FROM zone_override_log
		WHERE tenant_id = $1 AND zone_id = $2 ORDER BY hlc_wall_ms DESC, hlc_logical DESC LIMIT $3`,
		tenantID, zoneID, limit)
}

func (t *pgTx) GetZoneOverride(zoneID string) (catalog.ZoneOverride, error) {
	return txGet(t, scanOverride, "zone override",
		`SELECT `+overrideCols+` FROM zone_overrides WHERE tenant_id = $1 AND zone_id = $2`, zoneID)
}

func (t *pgTx) PutZoneOverride(o catalog.ZoneOverride) error {
	if err := t.check(); err != nil {
		return err
	}
	o.TenantID = t.tenant
	o = catalog.NormOverride(o)
	if err := o.Validate(); err != nil {
		return err
	}
	if err := t.needZone(o.StoreID, o.ZoneID); err != nil {
		return err
	}
	cur, err := t.GetZoneOverride(o.ZoneID)
	if err := catalog.CheckOverrideOrder(cur, err, o); err != nil {
		return err
	}
	args := []any{t.tenant, o.StoreID, o.ZoneID, o.VolumePct, nullTime(o.MuteFrom), nullTime(o.MuteUntil), o.Cleared,
		o.HLC.WallMS, int64(o.HLC.Logical), nullID(o.SetBy), o.SetByName, o.SetAt}
	if _, err := t.exec(`INSERT INTO zone_overrides (`+overrideCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (zone_id) DO UPDATE SET volume_pct = $4, mute_from = $5, mute_until = $6, cleared = $7,
		hlc_wall_ms = $8, hlc_logical = $9, set_by = $10, set_by_name = $11, set_at = $12`, args...); err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO zone_override_log (`+overrideCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, args...)
	return err
}
