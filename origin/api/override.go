package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// MaxMuteSpan is the longest mute one override may hold (as origin/catalog.MaxMuteSpan).
const MaxMuteSpan = 7 * 24 * time.Hour

// HLC is a hybrid logical clock stamp (crdt.HLC): unix milliseconds, then a counter within the millisecond.
type HLC struct {
	WallMS  int64  `json:"wall_ms"`
	Logical uint32 `json:"logical"`
}

// ZoneOverride is a zone's temporary volume and mute window. It is the admin view, and, without the Set* fields,
// the body of the record override/<zone id> that the zone's store receives (signed like every record): nodes
// write it into their gossip's per-zone register (crdt.Overrides) with writer "origin" and this HLC, so the later
// of it and a change made on site wins.
type ZoneOverride struct {
	ZoneID  string `json:"zone_id"`
	StoreID string `json:"store_id"`
	// VolumePct is the volume in percent of the zone's normal level, 0..100; the engine's gain is
	// 40*log10(pct/100) dB (50% = -12 dB; 0 = silent).
	VolumePct int `json:"volume_pct"`
	// MuteFrom and MuteUntil bound a mute window [from, until), to the millisecond; both absent for none.
	MuteFrom  *time.Time `json:"mute_from,omitempty"`
	MuteUntil *time.Time `json:"mute_until,omitempty"`
	// Cleared: the override was removed (volume 100, no mute).
	Cleared bool `json:"cleared,omitempty"`
	HLC     HLC  `json:"hlc"`
	// SetBy and SetByName name the admin token that made the change; SetAt is when (admin view only).
	SetBy     string     `json:"set_by,omitempty"`
	SetByName string     `json:"set_by_name,omitempty"`
	SetAt     *time.Time `json:"set_at,omitempty"`
}

// ZoneOverrideInput sets a zone's override (PUT /v1/zones/{id}/override).
type ZoneOverrideInput struct {
	// VolumePct is required: 0..100 (100 leaves the volume as it is).
	VolumePct *int `json:"volume_pct"`
	// MuteFrom and MuteUntil: both or neither; until after from and in the future, at most MaxMuteSpan apart.
	MuteFrom  *time.Time `json:"mute_from,omitempty"`
	MuteUntil *time.Time `json:"mute_until,omitempty"`
}

// Validate checks what does not depend on the time (origin checks that the mute has not ended).
func (in *ZoneOverrideInput) Validate() error {
	if in.VolumePct == nil {
		return BadField("volume_pct", "volume_pct is required (0 to 100)")
	}
	if *in.VolumePct < 0 || *in.VolumePct > 100 {
		return BadField("volume_pct", "volume_pct must be within 0 and 100, not %d", *in.VolumePct)
	}
	switch {
	case in.MuteFrom == nil && in.MuteUntil == nil:
		return nil
	case in.MuteFrom == nil:
		return BadField("mute_from", "a mute needs mute_from as well as mute_until")
	case in.MuteUntil == nil:
		return BadField("mute_until", "a mute needs mute_until as well as mute_from")
	case !in.MuteFrom.Before(*in.MuteUntil):
		return BadField("mute_until", "mute_until must be after mute_from")
	case in.MuteUntil.Sub(*in.MuteFrom) > MaxMuteSpan:
		return BadField("mute_until", "a mute lasts at most %s", MaxMuteSpan)
	}
	return nil
}

func overridePath(zoneID string) string { return "/v1/zones/" + url.PathEscape(zoneID) + "/override" }

// ZoneOverride returns a zone's current override (a *Problem with status 404 when none was ever set).
func (c *Client) ZoneOverride(ctx context.Context, zoneID string) (ZoneOverride, error) {
	var o ZoneOverride
	return o, c.Do(ctx, http.MethodGet, overridePath(zoneID), nil, &o)
}

// SetZoneOverride sets a zone's override.
func (c *Client) SetZoneOverride(ctx context.Context, zoneID string, in ZoneOverrideInput) (ZoneOverride, error) {
	var o ZoneOverride
	return o, c.Do(ctx, http.MethodPut, overridePath(zoneID), &in, &o)
}

// ClearZoneOverride puts a zone back to normal.
func (c *Client) ClearZoneOverride(ctx context.Context, zoneID string) (ZoneOverride, error) {
	var o ZoneOverride
	return o, c.Do(ctx, http.MethodDelete, overridePath(zoneID), nil, &o)
}

// ListZoneOverrides lists the current overrides of a store's zones.
func (c *Client) ListZoneOverrides(ctx context.Context, storeID string) ([]ZoneOverride, error) {
	var p Page[ZoneOverride]
	return p.Items, c.Do(ctx, http.MethodGet, "/v1/stores/"+url.PathEscape(storeID)+"/overrides", nil, &p)
}

// ZoneOverrideHistory lists every change of a zone's override, newest first (the audit trail).
func (c *Client) ZoneOverrideHistory(ctx context.Context, zoneID string) ([]ZoneOverride, error) {
	var p Page[ZoneOverride]
	return p.Items, c.Do(ctx, http.MethodGet, overridePath(zoneID)+"/history", nil, &p)
}
