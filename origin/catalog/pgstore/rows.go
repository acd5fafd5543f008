package pgstore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lomuz/lomuz/origin/catalog"
)

// querier is what both a pool and a transaction offer; row readers take it so Store and Tx share them.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return catalog.NormTime(t)
}

// nullID maps an empty id to NULL.
func nullID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func fromNullID(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return []byte(b)
}

func hashOf(b []byte) (h catalog.Hash) {
	copy(h[:], b)
	return h
}

const storeCols = `id, tenant_id, name, time_zone, mesh_key, key_epoch, mesh_id, target_lufs, crossfade_ms, created_at, updated_at`

func scanStore(r pgx.Row) (catalog.Shop, error) {
	var s catalog.Shop
	var epoch int64
	err := r.Scan(&s.ID, &s.TenantID, &s.Name, &s.TimeZone, &s.MeshKey, &epoch, &s.MeshID, &s.Settings.TargetLUFS,
		&s.Settings.CrossfadeMS, &s.CreatedAt, &s.UpdatedAt)
	s.KeyEpoch = uint32(epoch)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, err
}

const zoneCols = `id, tenant_id, store_id, name, created_at`

func scanZone(r pgx.Row) (catalog.Zone, error) {
	var z catalog.Zone
	err := r.Scan(&z.ID, &z.TenantID, &z.StoreID, &z.Name, &z.CreatedAt)
	z.CreatedAt = z.CreatedAt.UTC()
	return z, err
}

const deviceCols = `id, tenant_id, store_id, zone_id, name, public_key, peer_id, credential_hash, enrolled_at, revoked_at,
	last_sync_at, app_version, cached_assets_count, cached_bytes, acked_revision, status`

// deviceColsD is deviceCols qualified for a query that aliases devices as d.
var deviceColsD = "d." + strings.ReplaceAll(strings.Join(strings.Fields(deviceCols), " "), ", ", ", d.")

func scanDevice(r pgx.Row) (catalog.Device, error) { return scanDeviceExtra(r) }

// scanDeviceExtra scans deviceCols, then the columns that follow into extra.
func scanDeviceExtra(r pgx.Row, extra ...any) (catalog.Device, error) {
	var d catalog.Device
	var cred, status []byte
	var revoked, lastSync *time.Time
	var acked int64
	err := r.Scan(append([]any{&d.ID, &d.TenantID, &d.StoreID, &d.ZoneID, &d.Name, &d.PublicKey, &d.PeerID, &cred,
		&d.EnrolledAt, &revoked, &lastSync, &d.Telemetry.AppVersion, &d.Telemetry.CachedAssetsCount,
		&d.Telemetry.CachedBytes, &acked, &status}, extra...)...)
	d.CredentialHash = hashOf(cred)
	d.EnrolledAt = d.EnrolledAt.UTC()
	d.RevokedAt = fromNullTime(revoked)
	d.Telemetry.LastSyncAt = fromNullTime(lastSync)
	d.Telemetry.AckedRevision = uint64(acked)
	if status != nil {
		d.Telemetry.Status = status
	}
	return d, err
}

const adminTokenCols = `id, tenant_id, name, role, coalesce(store_id::text, ''), hash, created_at, revoked_at`

func scanAdminToken(r pgx.Row) (catalog.AdminToken, error) {
	var t catalog.AdminToken
	var h []byte
	var revoked *time.Time
	err := r.Scan(&t.ID, &t.TenantID, &t.Name, &t.Role, &t.StoreID, &h, &t.CreatedAt, &revoked)
	t.Hash = hashOf(h)
	t.CreatedAt = t.CreatedAt.UTC()
	t.RevokedAt = fromNullTime(revoked)
	return t, err
}

const enrollCols = `hash, tenant_id, store_id, zone_id, created_at, expires_at, coalesce(used_by::text, ''), used_at`

func scanEnroll(r pgx.Row) (catalog.EnrollmentToken, error) {
	var t catalog.EnrollmentToken
	var h []byte
	var used *time.Time
	err := r.Scan(&h, &t.TenantID, &t.StoreID, &t.ZoneID, &t.CreatedAt, &t.ExpiresAt, &t.UsedBy, &used)
	t.Hash = hashOf(h)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	t.UsedAt = fromNullTime(used)
	return t, err
}

const assetCols = `id, tenant_id, kind, title, artist, isrc, sha256, md5, size, duration_ms, codec, loudness_lufs, cue_in_ms,
	cue_out_ms, valid_from, valid_until, emergency_eligible, state, master_key, rendition_sha256, rendition_size,
	fail_reason, created_at, updated_at`

func scanAsset(r pgx.Row) (catalog.Asset, error) {
	var a catalog.Asset
	var from, until *time.Time
	err := r.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Title, &a.Artist, &a.ISRC, &a.SHA256, &a.MD5, &a.Size, &a.DurationMS,
		&a.Codec, &a.LoudnessLUFS, &a.CueInMS, &a.CueOutMS, &from, &until, &a.EmergencyEligible, &a.State,
		&a.MasterKey, &a.RenditionSHA256, &a.RenditionSize, &a.FailReason, &a.CreatedAt, &a.UpdatedAt)
	a.ValidFrom, a.ValidUntil = fromNullTime(from), fromNullTime(until)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

const playlistCols = `id, tenant_id, name, asset_ids::text[], created_at, updated_at`

func scanPlaylist(r pgx.Row) (catalog.Playlist, error) {
	var p catalog.Playlist
	err := r.Scan(&p.ID, &p.TenantID, &p.Name, &p.AssetIDs, &p.CreatedAt, &p.UpdatedAt)
	if p.AssetIDs == nil {
		p.AssetIDs = []string{}
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

const scheduleCols = `id, tenant_id, coalesce(store_id::text, ''), coalesce(zone_id::text, ''), playlist_id, priority,
	date_from, date_to, weekdays, start_hm, end_hm, spot_rules, created_at, updated_at`

// spotRuleJSON is the stored form of a SpotRule (schedules.spot_rules).
type spotRuleJSON struct {
	PlaylistID    string   `json:"playlist_id"`
	EveryNTracks  int      `json:"every_n_tracks,omitempty"`
	EveryNMinutes int      `json:"every_n_minutes,omitempty"`
	At            []string `json:"at,omitempty"`
}

func encodeSpotRules(rs []catalog.SpotRule) []byte {
	out := make([]spotRuleJSON, len(rs))
	for i, r := range rs {
		out[i] = spotRuleJSON(r)
	}
	b, _ := json.Marshal(out) // plain structs of strings and ints: cannot fail
	return b
}

func scanSchedule(r pgx.Row) (catalog.Schedule, error) {
	var s catalog.Schedule
	var rules []byte
	err := r.Scan(&s.ID, &s.TenantID, &s.StoreID, &s.ZoneID, &s.PlaylistID, &s.Priority, &s.DateFrom, &s.DateTo,
		&s.Weekdays, &s.Start, &s.End, &rules, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return s, err
	}
	var rs []spotRuleJSON
	if err := json.Unmarshal(rules, &rs); err != nil {
		return s, err
	}
	for _, r := range rs {
		s.SpotRules = append(s.SpotRules, catalog.SpotRule(r))
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, nil
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
