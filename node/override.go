package node

import (
	"encoding/json"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

// Zone overrides (ARCHITECTURE.md "Zone overrides"). Origin's record override/<zone> is written into the crdt's
// per-zone register with writer "origin" and origin's HLC, so the register's rule (later HLC, then writer) decides
// between it and any other write, and peers without an uplink learn it from gossip even before the record. The
// node applies the effective override of its own zone: the volume as the engine's output gain, and during a mute
// window (trusted time) nothing is chosen or started, the engine is muted and its silence is not dead air.

// originWriter is the writer of overrides a director or store manager set through origin.
const originWriter = "origin"

// Output is the engine's volume and mute, sent when it changes.
type Output struct {
	VolumePct int
	Muted     bool
}

// OverrideStatus is the zone's effective override as the node applies it.
type OverrideStatus struct {
	// VolumePct is the output volume in percent (100 without an override).
	VolumePct int
	// MutedByOverride: a mute window holds now; the silence is wanted and not counted as dead air.
	MutedByOverride bool
	// MuteFrom and MuteUntil bound the override's mute window (zero for none); Writer and HLC say which write
	// won ("origin" or a node id).
	MuteFrom, MuteUntil time.Time
	Writer              string
	HLC                 crdt.HLC
}

// overrideState remembers what was last sent to the engine.
type overrideState struct {
	sent    bool
	applied Output
}

// applyOverrideRecord writes origin's override of one of this store's zones into the crdt register.
func (c *Core) applyOverrideRecord(r crdt.Record) error {
	if r.Deleted {
		return nil // the zone was deleted: no node plays it any more
	}
	var w api.ZoneOverride
	if err := json.Unmarshal(r.Body, &w); err != nil {
		return err
	}
	if w.StoreID != c.cfg.Store {
		return nil // another store's, relayed by mistake
	}
	o := crdt.Override{Zone: w.ZoneID, HLC: crdt.HLC{WallMS: w.HLC.WallMS, Logical: w.HLC.Logical}, Writer: originWriter,
		Settings: crdt.ZoneSettings{VolumePct: 100}}
	if !w.Cleared {
		o.Settings.VolumePct = uint8(min(max(w.VolumePct, 0), 100))
		if w.MuteFrom != nil && w.MuteUntil != nil {
			o.Settings.MuteFromMS, o.Settings.MuteUntilMS = w.MuteFrom.UnixMilli(), w.MuteUntil.UnixMilli()
		}
	}
	won, err := c.state.ApplyOverride(o)
	if err != nil {
		return err
	}
	if won {
		c.markDirty()
		c.gossipDirty()
	}
	return nil
}

// effectiveOverride is the zone's override at trusted time nowMS.
func (c *Core) effectiveOverride(nowMS int64) OverrideStatus {
	st := OverrideStatus{VolumePct: 100}
	o, ok := c.state.Overrides().Get(c.cfg.Zone)
	if !ok {
		return st
	}
	s := o.Settings
	st.VolumePct, st.Writer, st.HLC = int(s.VolumePct), o.Writer, o.HLC
	if s.MuteUntilMS > s.MuteFromMS {
		st.MuteFrom, st.MuteUntil = time.UnixMilli(s.MuteFromMS).UTC(), time.UnixMilli(s.MuteUntilMS).UTC()
		st.MutedByOverride = s.MuteFromMS <= nowMS && nowMS < s.MuteUntilMS
	}
	return st
}

// muted reports whether the zone is muted by its override (as last applied).
func (c *Core) muted() bool { return c.ovr.applied.Muted }

// tickOverride applies the zone's effective override when it changed: the engine's output first, then, when a
// mute begins, a stop of what plays (no track is started, or recorded as played, while muted).
func (c *Core) tickOverride() {
	st := c.effectiveOverride(c.trustedMS())
	out := Output{VolumePct: st.VolumePct, Muted: st.MutedByOverride}
	if c.ovr.sent && out == c.ovr.applied {
		return
	}
	was, first := c.ovr.applied, !c.ovr.sent
	c.ovr.sent, c.ovr.applied = true, out
	c.out.Output = &out
	switch {
	case out.Muted && !was.Muted:
		c.logf(levelInfo, "zone muted by override", "until", st.MuteUntil, "writer", st.Writer)
		if c.play.current != nil || c.play.next != nil {
			c.play.token++
			c.out.Audio = append(c.out.Audio, PlayCommand{Kind: PlayStop, Token: c.play.token})
			c.play.next = nil // the current track ends with the engine's fade-out (AudioEnded)
		}
	case !out.Muted && was.Muted:
		c.logf(levelInfo, "override mute over")
	}
	if out.VolumePct != was.VolumePct && !(first && out.VolumePct == 100) {
		c.logf(levelInfo, "zone volume set by override", "volume_pct", out.VolumePct, "writer", st.Writer)
	}
}

// overrideDeadline is the next edge of the zone's mute window, as a monotonic instant.
func (c *Core) overrideDeadline() (time.Duration, bool) {
	st := c.effectiveOverride(0)
	if st.MuteUntil.IsZero() {
		return 0, false
	}
	now := c.trustedMS()
	for _, edge := range []int64{st.MuteFrom.UnixMilli(), st.MuteUntil.UnixMilli()} {
		if edge > now {
			return c.now.Mono + time.Duration(edge-now)*time.Millisecond, true
		}
	}
	return 0, false
}
