package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

// Bounds of a zone override.
const (
	// MaxMuteSpan is the longest mute one override may hold: a store event lasts hours, a mute for weeks is a
	// mistake (and would silence a zone long after anyone remembers why).
	MaxMuteSpan = 7 * 24 * time.Hour
	// MaxOverrideHistory is the most audit entries one ListZoneOverrideHistory call returns.
	MaxOverrideHistory = 1000
)

// ZoneOverride is a temporary change to one zone's playback made by a director or by the manager of the zone's
// store: a volume and an optional mute window (a store event, an announcement on the public-address system). The
// current override of each zone is delivered to its store's devices as the signed record override/<zone>, and the
// store's nodes carry it in their gossip (crdt.Overrides), so a node without an uplink learns it from a peer.
type ZoneOverride struct {
	TenantID string
	StoreID  string
	ZoneID   string
	// VolumePct is the zone's volume in percent of its normal level, 0..100 (100: unchanged). The audio engine
	// turns it into a gain (ARCHITECTURE.md "Audio engine").
	VolumePct int
	// MuteFrom and MuteUntil bound a mute window [from, until); both zero for none. Stored at millisecond
	// precision (what devices compare against their trusted time).
	MuteFrom, MuteUntil time.Time
	// Cleared: the override was removed and the zone is back to normal (VolumePct 100, no mute). A cleared
	// override is kept, with a newer HLC, so every node learns that the last override no longer holds.
	Cleared bool
	// HLC orders overrides of the zone against each other and against those written on site by a node: the
	// later one wins (crdt.Override). Origin stamps it from its clock, strictly after the zone's previous one.
	HLC crdt.HLC
	// SetBy and SetByName are the admin token that made the change and its name, for the audit trail.
	SetBy     string
	SetByName string
	SetAt     time.Time
}

// Settings returns what a node applies: the neutral settings for a cleared override.
func (o ZoneOverride) Settings() crdt.ZoneSettings {
	if o.Cleared {
		return crdt.ZoneSettings{VolumePct: 100}
	}
	s := crdt.ZoneSettings{VolumePct: uint8(o.VolumePct)}
	if !o.MuteFrom.IsZero() {
		s.MuteFromMS, s.MuteUntilMS = o.MuteFrom.UnixMilli(), o.MuteUntil.UnixMilli()
	}
	return s
}

// NormOverride is how every backend stores an override: mute bounds in UTC at millisecond precision, SetAt as
// NormTime. Values read back equal NormOverride of what was written.
func NormOverride(o ZoneOverride) ZoneOverride {
	ms := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC().Truncate(time.Millisecond)
	}
	o.MuteFrom, o.MuteUntil, o.SetAt = ms(o.MuteFrom), ms(o.MuteUntil), NormTime(o.SetAt)
	return o
}

// Validate checks an override's fields (not that its zone exists or belongs to StoreID: the backends do).
func (o ZoneOverride) Validate() error {
	if err := checkID("override store", o.StoreID); err != nil {
		return err
	}
	if err := checkID("override zone", o.ZoneID); err != nil {
		return err
	}
	if err := checkOptID("override set_by", o.SetBy); err != nil {
		return err
	}
	if err := checkText("override set_by_name", o.SetByName, MaxNameLen, false); err != nil {
		return err
	}
	if o.VolumePct < 0 || o.VolumePct > 100 {
		return invalidf("volume %d%% is outside 0..100", o.VolumePct)
	}
	if o.MuteFrom.IsZero() != o.MuteUntil.IsZero() {
		return invalidf("a mute needs both its start and its end")
	}
	if !o.MuteFrom.IsZero() {
		if !o.MuteFrom.Before(o.MuteUntil) {
			return invalidf("mute ends (%s) before it starts (%s)", o.MuteUntil.UTC().Format(time.RFC3339),
				o.MuteFrom.UTC().Format(time.RFC3339))
		}
		if o.MuteUntil.Sub(o.MuteFrom) > MaxMuteSpan {
			return invalidf("mute of %s is longer than %s", o.MuteUntil.Sub(o.MuteFrom), MaxMuteSpan)
		}
	}
	if o.Cleared && (o.VolumePct != 100 || !o.MuteFrom.IsZero()) {
		return invalidf("a cleared override has volume 100 and no mute")
	}
	if o.HLC.WallMS <= 0 {
		return invalidf("override has no HLC")
	}
	if o.SetAt.IsZero() {
		return invalidf("override has no time")
	}
	return nil
}

// CheckOverrideOrder is what both backends check before PutZoneOverride stores o: cur and curErr are the zone's
// current override as read in the transaction (ErrNotFound: none), and o must be stamped after it (ErrConflict).
func CheckOverrideOrder(cur ZoneOverride, curErr error, o ZoneOverride) error {
	switch {
	case errors.Is(curErr, ErrNotFound):
		return nil
	case curErr != nil:
		return curErr
	case !cur.HLC.Less(o.HLC):
		return fmt.Errorf("%w: override of zone %s is not after the current one", ErrConflict, o.ZoneID)
	}
	return nil
}
