package node

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

// putOverride signs origin's override of the harness's zone, stamped at origin time at.
func (h *harness) putOverride(at time.Time, vol int, from, until time.Time) {
	o := api.ZoneOverride{ZoneID: h.c.cfg.Zone, StoreID: h.sig.store, VolumePct: vol,
		HLC: api.HLC{WallMS: at.UnixMilli()}}
	if !from.IsZero() {
		o.MuteFrom, o.MuteUntil = &from, &until
	}
	h.sig.put("override/"+o.ZoneID, o)
}

func (h *harness) syncNow() Ready {
	h.t.Helper()
	h.c.sched.syncNow(h.mono)
	return h.answer(h.tick())
}

// An override from origin reaches the engine: its volume at once, and during its mute window the engine is muted,
// what plays is stopped, nothing new is chosen or recorded, the silence is not dead air and the status says so;
// when the window ends, playback resumes.
func TestOverrideFromSyncMutesThenResumes(t *testing.T) {
	sig := newSigner(t)
	h := newHarness(t, sig, nil)
	r := h.tick()
	jingle := audioOf(t, r)
	h.step(AudioEvent{Kind: AudioStarted, Token: jingle.Token})
	muteFrom, muteUntil := epoch.Add(time.Minute), epoch.Add(5*time.Minute)
	h.putOverride(epoch, 40, muteFrom, muteUntil)
	h.answer(r)
	r = h.advance(time.Millisecond)
	if r.Output == nil || *r.Output != (Output{VolumePct: 40}) {
		t.Fatalf("after the sync the engine's output is %+v, want volume 40, not muted", r.Output)
	}
	if o, ok := h.c.State().Overrides().Get(h.c.cfg.Zone); !ok || o.Writer != originWriter || o.Settings.VolumePct != 40 {
		t.Fatalf("crdt register holds %+v, want origin's override", o)
	}
	if r.NextTick > h.mono+time.Minute {
		t.Fatalf("next tick %v is after the mute starts (%v)", r.NextTick, h.mono+time.Minute)
	}

	r = h.advance(time.Minute)
	if r.Output == nil || !r.Output.Muted {
		t.Fatalf("mute window open, output %+v", r.Output)
	}
	if r.Sync != nil {
		// The follow-up of the first sync, which changed the clock verdict; origin answers it.
		h.answer(Ready{Sync: r.Sync})
	}
	if len(r.Audio) != 1 || r.Audio[0].Kind != PlayStop {
		t.Fatalf("the mute must stop what plays: %+v", r.Audio)
	}
	if st := h.c.Status().Override; !st.MutedByOverride || !st.MuteUntil.Equal(muteUntil) || st.VolumePct != 40 {
		t.Fatalf("status %+v, want muted by override until %v", st, muteUntil)
	}
	r = h.step(AudioEvent{Kind: AudioEnded, Token: jingle.Token})
	if len(r.Audio) != 0 {
		t.Fatalf("a track was chosen while muted: %+v", r.Audio)
	}
	h.step(AudioEvent{Kind: AudioSilent, Silent: time.Minute})
	for range 3 {
		if r = h.advance(time.Minute); len(r.Audio) != 0 || len(r.PersistPlays) != 0 {
			t.Fatalf("muted, yet audio %+v plays %+v", r.Audio, r.PersistPlays)
		}
	}
	if h.c.counters.DeadAir != 0 {
		t.Fatalf("the mute counted as dead air %d times", h.c.counters.DeadAir)
	}
	// The device tells origin, with its next sync.
	h.c.sched.syncNow(h.mono)
	r = h.tick()
	if r.Sync == nil || r.Sync.Status == nil || !r.Sync.Status.MutedByOverride || r.Sync.Status.DeadAir != 0 {
		t.Fatalf("sync while muted reports %+v", r.Sync)
	}
	h.answer(r)

	r = h.advance(time.Minute) // 5 min: the window is over
	if r.Output == nil || r.Output.Muted || r.Output.VolumePct != 40 {
		t.Fatalf("after the mute, output %+v", r.Output)
	}
	if cmd := audioOf(t, r); cmd.Kind != PlayNow {
		t.Fatalf("after the mute playback must resume at once: %+v", cmd)
	}
	if h.c.Status().Override.MutedByOverride {
		t.Fatal("status still muted after the window")
	}
}

// A node without an uplink learns the override from a peer's gossip; the later HLC wins whoever wrote it, and
// origin's clear puts the zone back to normal.
func TestOverrideFromPeerGossipLaterHLCWins(t *testing.T) {
	sig := newSigner(t)
	a := newHarness(t, sig, nil)
	zone := a.c.cfg.Zone
	b := newHarness(t, sig, func(c *Config) { c.Zone = zone }) // another node of the zone (or a peer), no uplink
	b.tick()
	gossip := func(from, to *harness) Ready {
		t.Helper()
		d, err := crdt.EncodeDelta(from.c.State().DeltaFor(to.c.State().Summary()))
		if err != nil {
			t.Fatal(err)
		}
		to.step(GossipReceived{From: "gossip", Payload: d})
		return to.advance(time.Millisecond)
	}
	volumeOf := func(h *harness) int { return h.c.Status().Override.VolumePct }

	a.putOverride(epoch, 30, time.Time{}, time.Time{})
	a.answer(a.tick())
	if r := gossip(a, b); r.Output == nil || r.Output.VolumePct != 30 || volumeOf(b) != 30 {
		t.Fatalf("peer without uplink: output %+v, status volume %d; want 30 from gossip", r.Output, volumeOf(b))
	}

	// A change made on site later (a newer HLC) beats origin's.
	if _, err := a.c.State().SetOverride(zone, crdt.ZoneSettings{VolumePct: 70}, epoch.Add(time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	gossip(a, b)
	if volumeOf(b) != 70 || b.c.Status().Override.Writer != a.id {
		t.Fatalf("newer on-site write: volume %d by %q, want 70 by %s", volumeOf(b), b.c.Status().Override.Writer, a.id)
	}
	// Origin's record stamped before it loses, even though it arrives after.
	a.putOverride(epoch.Add(500*time.Millisecond), 10, time.Time{}, time.Time{})
	a.syncNow()
	gossip(a, b)
	if volumeOf(a) != 70 || volumeOf(b) != 70 {
		t.Fatalf("an older origin override won: volumes %d, %d; want 70", volumeOf(a), volumeOf(b))
	}
	// A clear stamped later wins: the zone is back to normal on both.
	o := api.ZoneOverride{ZoneID: zone, StoreID: sig.store, VolumePct: 100, Cleared: true,
		HLC: api.HLC{WallMS: epoch.Add(2 * time.Second).UnixMilli()}}
	sig.put("override/"+zone, o)
	a.syncNow()
	gossip(a, b)
	if volumeOf(a) != 100 || volumeOf(b) != 100 {
		t.Fatalf("after origin's clear: volumes %d, %d; want 100", volumeOf(a), volumeOf(b))
	}
	// Another store's override relayed by mistake is ignored.
	other := api.ZoneOverride{ZoneID: zone, StoreID: "another-store", VolumePct: 0,
		HLC: api.HLC{WallMS: epoch.Add(time.Hour).UnixMilli()}}
	sig.put("override/"+zone, other)
	a.syncNow()
	if volumeOf(a) != 100 {
		t.Fatalf("another store's override applied: volume %d", volumeOf(a))
	}
}
