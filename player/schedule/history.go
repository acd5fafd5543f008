package schedule

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
)

// History is the play history of one zone that selection needs, as a value the caller persists and hands back
// after a restart. It is small: one mark per asset ever played, a few counters, and the fixed-time spots done in the
// last two days.
type History struct {
	// Plays holds one mark per played asset, least recently played first: the order is what selection uses, the
	// instants are for display.
	Plays []PlayMark
	// LastArtist is the artist of the last non-spot track, for artist separation.
	LastArtist string
	// TracksSinceSpot counts non-spot tracks since the last spot, for every_n_tracks.
	TracksSinceSpot int
	// LastSpotAt is when the last spot started (or the first track, before any spot), for every_n_minutes.
	LastSpotAt time.Time
	// FixedDone lists the fixed-time spots already played, so that each plays once.
	FixedDone []FixedMark
}

// PlayMark is the last play of one asset.
type PlayMark struct {
	Asset string
	At    time.Time
	rank  uint64
}

// FixedMark is one fixed-time spot played: the schedule, the rule's index and the instant it was due.
type FixedMark struct {
	Schedule string
	Rule     int
	Due      time.Time
}

// Bounds on a persisted History, checked by SetHistory so that a corrupt file cannot make a selector allocate
// without limit.
const (
	MaxHistoryPlays = 4 << 20
	MaxFixedMarks   = 1 << 16
)

// History returns a copy of the zone's play history. It costs O(n log n) in played assets: persist it on a timer or
// at shutdown, not on every play.
func (s *Selector) History() History {
	h := History{
		LastArtist:      s.h.lastArtist,
		TracksSinceSpot: s.h.tracksSinceSpot,
		LastSpotAt:      s.h.lastSpotAt,
		FixedDone:       slices.Clone(s.h.fixedDone),
	}
	for i := range s.recs {
		if r := &s.recs[i]; r.live && r.rank > 0 {
			h.Plays = append(h.Plays, PlayMark{Asset: r.a.ID, At: r.lastAt, rank: r.rank})
		}
	}
	for _, pm := range s.pending {
		h.Plays = append(h.Plays, pm)
	}
	slices.SortFunc(h.Plays, func(a, b PlayMark) int { return cmpRank(a.rank, b.rank) })
	for i := range h.Plays {
		h.Plays[i].rank = 0
	}
	return h
}

func cmpRank(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SetHistory replaces the zone's play history, e.g. with what was persisted before a restart. Marks of assets not
// known yet are kept until they arrive. A malformed history is rejected and changes nothing.
func (s *Selector) SetHistory(h History) error {
	switch {
	case len(h.Plays) > MaxHistoryPlays:
		return fmt.Errorf("schedule: history of %d plays, at most %d", len(h.Plays), MaxHistoryPlays)
	case len(h.FixedDone) > MaxFixedMarks:
		return fmt.Errorf("schedule: history of %d fixed-time spots, at most %d", len(h.FixedDone), MaxFixedMarks)
	case h.TracksSinceSpot < 0:
		return errors.New("schedule: history with negative track count")
	}
	for _, pm := range h.Plays {
		if pm.Asset == "" {
			return errors.New("schedule: history mark without asset id")
		}
	}
	for i := range s.recs {
		s.recs[i].rank, s.recs[i].lastAt = 0, time.Time{}
	}
	clear(s.pending)
	s.rankSeq = 0
	for _, pm := range h.Plays {
		s.rankSeq++
		if sl, ok := s.byID[pm.Asset]; ok {
			s.recs[sl].rank, s.recs[sl].lastAt = s.rankSeq, pm.At
		} else {
			s.pending[pm.Asset] = PlayMark{Asset: pm.Asset, At: pm.At, rank: s.rankSeq}
		}
	}
	for _, pl := range s.pls {
		if pl == nil {
			continue
		}
		for i := range pl.heap.items {
			e := &pl.heap.items[i]
			e.rank = s.recs[pl.members[e.m]].rank
		}
		for i := len(pl.heap.items)/2 - 1; i >= 0; i-- {
			pl.heap.down(i)
		}
	}
	s.h = zoneHistory{lastArtist: h.LastArtist, tracksSinceSpot: h.TracksSinceSpot, lastSpotAt: h.LastSpotAt,
		fixedDone: slices.Clone(h.FixedDone)}
	return nil
}

// Clone returns an independent copy of the selector, sharing nothing mutable with it. Its random source is a new
// generator seeded with Config.PlanSeed, not a copy of Config.Rand (a Source cannot be copied).
func (s *Selector) Clone() *Selector {
	c := *s
	c.rnd = rand.New(rand.NewPCG(s.cfg.PlanSeed, 0))
	c.recs = slices.Clone(s.recs)
	c.free = slices.Clone(s.free)
	c.byID = maps.Clone(s.byID)
	c.bySHA = make(map[string][]int32, len(s.bySHA))
	for k, v := range s.bySHA {
		c.bySHA[k] = slices.Clone(v)
	}
	c.present = maps.Clone(s.present)
	c.memberOf = make(map[string][]ref, len(s.memberOf))
	for k, v := range s.memberOf {
		c.memberOf[k] = slices.Clone(v)
	}
	c.pls = make([]*plist, len(s.pls))
	for i, pl := range s.pls {
		if pl != nil {
			c.pls[i] = &plist{p: pl.p, members: slices.Clone(pl.members), heap: pl.heap.clone()}
		}
	}
	c.plFree = slices.Clone(s.plFree)
	c.plByID = maps.Clone(s.plByID)
	c.scheds = slices.Clone(s.scheds)
	c.allSched = maps.Clone(s.allSched)
	c.emerg = slices.Clone(s.emerg)
	c.future = slices.Clone(s.future)
	c.expired = slices.Clone(s.expired)
	c.pending = maps.Clone(s.pending)
	c.h.fixedDone = slices.Clone(s.h.fixedDone)
	c.w = walker{}
	c.park = nil
	c.instants = nil
	return &c
}

// PlanEntry is one play of a Plan.
type PlanEntry struct {
	Start  time.Time
	Length time.Duration
	Choice Choice
}

// ErrPlanTruncated is returned with a Plan that reached Config.MaxPlanEntries before its end.
var ErrPlanTruncated = errors.New("schedule: plan truncated at MaxPlanEntries")

// Plan answers "what will this zone play from `from` to `to`": it runs Next and Played on a copy of the selector
// under an exact clock, each play lasting its asset's PlayLength (at least MinPlayLength; the built-in jingle and
// silence last BuiltinLength and SilenceLength). The selector itself is not changed. Emergency picks draw from
// PlanSeed, so they show what kind of play happens, not which emergency asset the device will draw.
func (s *Selector) Plan(from, to time.Time) ([]PlanEntry, error) {
	c := s.Clone()
	var out []PlanEntry
	for t := from; t.Before(to); {
		if len(out) >= s.cfg.MaxPlanEntries {
			return out, ErrPlanTruncated
		}
		ch := c.Next(trustedtime.Exact(t))
		var l time.Duration
		switch ch.Level {
		case LevelBuiltin:
			l = s.cfg.BuiltinLength
		case LevelSilence:
			l = s.cfg.SilenceLength
		default:
			l = max(ch.Asset.PlayLength(), s.cfg.MinPlayLength)
		}
		out = append(out, PlanEntry{Start: t, Length: l, Choice: ch})
		c.Played(ch, t)
		t = t.Add(l)
	}
	return out, nil
}

// CoveredUntil is how long the zone keeps playing scheduled content (tracks and spots) from `from` with what the
// selector holds now: the start of the first play of Plan that falls back to emergency, builtin or silence, or
// from+horizon when none does within it. The node shows it in its status ("covered until"). Cost: one Plan.
func (s *Selector) CoveredUntil(from time.Time, horizon time.Duration) (time.Time, error) {
	plan, err := s.Plan(from, from.Add(horizon))
	for _, e := range plan {
		if e.Choice.Level >= LevelEmergency {
			return e.Start, nil
		}
	}
	if err != nil {
		return time.Time{}, err
	}
	return from.Add(horizon), nil
}

// Counts describes what the selector holds, for the status page.
type Counts struct {
	Assets    int // known assets
	Absent    int // of which the blob is not present
	Waiting   int // present, set aside until their window opens (as of the last Next)
	Expired   int // present, set aside for good: their window has passed (as of the last Next)
	Playlists int
	Schedules int // in this zone's scope
	Emergency int // emergency-eligible assets
}

// Counts counts what the selector holds; O(assets).
func (s *Selector) Counts() Counts {
	c := Counts{Assets: len(s.byID), Playlists: len(s.plByID), Schedules: len(s.scheds), Emergency: len(s.emerg)}
	for i := range s.recs {
		if r := &s.recs[i]; r.live {
			switch r.state {
			case stAbsent:
				c.Absent++
			case stFuture:
				c.Waiting++
			case stExpired:
				c.Expired++
			}
		}
	}
	return c
}
