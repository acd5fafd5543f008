package schedule

import (
	"math"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
)

// Outcome of checking a candidate's window against the interval.
const (
	ckEligible  = iota
	ckUncertain // the window admits part of [Lo, Hi] but not all of it: skip, it may come back as Hi tightens
	ckFuture    // ValidFrom after Lo: park until Lo reaches it
	ckExpired   // the play cannot end by ValidUntil even at Lo: park
)

func (r *rec) check(lo, hi int64) int {
	switch {
	case r.fromSec > lo:
		return ckFuture
	case r.untilSec < lo:
		return ckExpired
	case r.untilSec < hi:
		return ckUncertain
	}
	return ckEligible
}

// bounds reads the interval in whole seconds; an unknown bound is the widest value, which no dated asset satisfies.
func bounds(iv trustedtime.Interval) (lo, hi int64) {
	lo = secsOr(iv.Lo, math.MinInt64)
	hi = secsOr(iv.Hi, math.MaxInt64)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Playable reports whether a play of a starting at any instant of iv lies wholly inside its validity window, to the
// second. It is the rule Next applies, for callers that check again before playing (blob presence aside).
func Playable(a *Asset, iv trustedtime.Interval) bool {
	lo, hi := bounds(iv)
	r := rec{fromSec: secsOr(a.ValidFrom, math.MinInt64), untilSec: math.MaxInt64}
	if !a.ValidUntil.IsZero() {
		r.untilSec = a.ValidUntil.Add(-a.PlayLength()).Unix()
	}
	return r.check(lo, hi) == ckEligible
}

// Next chooses what the zone plays at the next track boundary, given the trusted interval at that boundary. It does
// not change the play history: call Played when the choice starts playing. It may reorganise internal indexes (assets
// whose window has not opened or has passed are set aside), which is why it is not safe for concurrent use.
func (s *Selector) Next(iv trustedtime.Interval) Choice {
	lo, hi := bounds(iv)
	s.visits = 0
	s.advance(lo)
	now := iv.Now()
	lt := toLocal(now, s.loc)
	sc := s.resolve(lt)
	if sc == nil {
		return s.fallback(lo, hi, ReasonNoSchedule, "")
	}
	missed := false
	if ri, reason, due := s.dueSpot(sc, now, lt); ri >= 0 {
		pid := sc.s.Spots[ri].PlaylistID
		if pi, ok := s.plByID[pid]; ok {
			if sl, _ := s.pick(pi, lo, hi, "", 0); sl >= 0 {
				return Choice{Level: LevelSpot, Reason: reason, Asset: s.recs[sl].a, Schedule: sc.s.ID,
					Playlist: pid, SpotRule: ri, Due: due}
			}
		}
		missed = true
	}
	if pi, ok := s.plByID[sc.s.PlaylistID]; ok {
		if sl, repeat := s.pick(pi, lo, hi, s.h.lastArtist, s.cfg.ArtistLookahead); sl >= 0 {
			c := Choice{Level: LevelScheduled, Reason: ReasonLeastRecent, Asset: s.recs[sl].a, Schedule: sc.s.ID,
				Playlist: sc.s.PlaylistID, SpotRule: -1, SpotMissed: missed}
			if repeat {
				c.Reason = ReasonArtistRepeat
			}
			return c
		}
	}
	c := s.fallback(lo, hi, ReasonNothingEligible, sc.s.ID)
	c.SpotMissed = missed
	return c
}

// pick walks playlist pi in least-recently-played order and returns the first eligible asset whose artist is not
// avoid (avoid "" avoids nothing). When only avoid's assets are eligible among the first lookahead of them, it
// returns the first of them and repeat. Assets found outside their window for good are parked after the walk.
func (s *Selector) pick(pi int32, lo, hi int64, avoid string, lookahead int) (sl int32, repeat bool) {
	pl := s.pls[pi]
	s.w.reset(&pl.heap)
	s.park = s.park[:0]
	sl, first, skipped := -1, int32(-1), 0
	for {
		m := s.w.next()
		if m < 0 {
			break
		}
		s.visits++
		c := pl.members[m]
		r := &s.recs[c]
		switch r.check(lo, hi) {
		case ckFuture, ckExpired:
			s.park = append(s.park, c)
			continue
		case ckUncertain:
			continue
		}
		if avoid != "" && r.a.Artist == avoid {
			if first < 0 {
				first = c
			}
			if skipped++; skipped >= lookahead {
				break
			}
			continue
		}
		sl = c
		break
	}
	for _, c := range s.park {
		if s.recs[c].check(lo, hi) == ckFuture {
			s.parkAs(c, stFuture, lo)
		} else {
			s.parkAs(c, stExpired, lo)
		}
	}
	if sl < 0 && first >= 0 {
		return first, true
	}
	return sl, false
}

// dstSlack widens the wall-clock prefilter of fixed times by the largest zone offset change (2 h, with margin), so
// that a fixed time is found across a DST change; the exact test is on instants.
const dstSlack = 3 * 60

func (s *Selector) dueSpot(sc *compiled, now time.Time, lt local) (rule int, reason Reason, due time.Time) {
	win := s.cfg.FixedWindow
	winMin := int(win / time.Minute)
	for i := range sc.s.Spots {
		for _, at := range sc.s.Spots[i].At {
			for back := 0; back <= 1; back++ {
				delta := lt.minute + back*24*60 - int(at)
				if delta < -dstSlack || delta > winMin+dstSlack {
					continue
				}
				d := s.instant(lt.day-int64(back), int(at))
				if now.Before(d) || now.Sub(d) >= win || s.fixedDone(sc.s.ID, i, d) {
					continue
				}
				return i, ReasonSpotFixedTime, d
			}
		}
	}
	for i := range sc.s.Spots {
		r := &sc.s.Spots[i]
		if r.EveryNTracks > 0 && s.h.tracksSinceSpot >= r.EveryNTracks {
			return i, ReasonSpotEveryTracks, time.Time{}
		}
		if r.EveryNMinutes > 0 && !s.h.lastSpotAt.IsZero() &&
			now.Sub(s.h.lastSpotAt) >= time.Duration(r.EveryNMinutes)*time.Minute {
			return i, ReasonSpotEveryMinutes, time.Time{}
		}
	}
	return -1, 0, time.Time{}
}

// instant memoizes instantOf: the same few fixed times are looked up at every boundary of a day, and a zone lookup
// costs far more than a map hit. The memo is dropped when it grows past a few days' worth.
func (s *Selector) instant(day int64, minute int) time.Time {
	k := day*24*60 + int64(minute)
	if t, ok := s.instants[k]; ok {
		return t
	}
	if s.instants == nil || len(s.instants) >= 8192 {
		s.instants = make(map[int64]time.Time, 64)
	}
	t := instantOf(day, minute, s.loc)
	s.instants[k] = t
	return t
}

func (s *Selector) fixedDone(sched string, rule int, due time.Time) bool {
	for _, f := range s.h.fixedDone {
		if f.Rule == rule && f.Due.Equal(due) && f.Schedule == sched {
			return true
		}
	}
	return false
}

func (s *Selector) fallback(lo, hi int64, why Reason, sched string) Choice {
	if sl := s.emergency(lo, hi); sl >= 0 {
		return Choice{Level: LevelEmergency, Reason: why, Asset: s.recs[sl].a, Schedule: sched, SpotRule: -1}
	}
	lvl := LevelBuiltin
	if s.cfg.NoBuiltin {
		lvl = LevelSilence
	}
	return Choice{Level: lvl, Reason: why, Schedule: sched, SpotRule: -1}
}

// emergency draws uniformly among eligible emergency assets with their blob present: random draws first (cheap when
// most are eligible), then a count and a draw among the eligible (each stage is uniform, so the whole is).
func (s *Selector) emergency(lo, hi int64) int32 {
	n := len(s.emerg)
	if n == 0 {
		return -1
	}
	ok := func(sl int32) bool {
		r := &s.recs[sl]
		return r.state != stAbsent && r.check(lo, hi) == ckEligible
	}
	for range s.cfg.EmergencyTries {
		if sl := s.emerg[s.rnd.IntN(n)]; ok(sl) {
			return sl
		}
	}
	s.visits += n
	count := 0
	for _, sl := range s.emerg {
		if ok(sl) {
			count++
		}
	}
	if count == 0 {
		return -1
	}
	k := s.rnd.IntN(count)
	for _, sl := range s.emerg {
		if ok(sl) {
			if k == 0 {
				return sl
			}
			k--
		}
	}
	return -1
}

// fixedKeep is how long a done fixed-time spot is remembered: longer than any day plus the window, so that a
// fixed time is never played twice, even on a day with a repeated hour.
const fixedKeep = 50 * time.Hour

// Played records that choice c started playing at instant at (the schedule "now" of that boundary). Builtin and
// silence change nothing. An asset removed since Next is ignored.
func (s *Selector) Played(c Choice, at time.Time) {
	if c.Level == LevelBuiltin || c.Level == LevelSilence {
		return
	}
	if sl, ok := s.byID[c.Asset.ID]; ok {
		s.rankSeq++
		r := &s.recs[sl]
		r.rank, r.lastAt = s.rankSeq, at
		if r.state == stActive {
			for _, rf := range s.memberOf[r.a.ID] {
				s.pls[rf.pl].heap.update(rf.m, r.rank)
			}
		}
	}
	if c.Level == LevelSpot {
		s.h.tracksSinceSpot = 0
		s.h.lastSpotAt = at
		if c.Reason == ReasonSpotFixedTime {
			s.h.fixedDone = append(s.h.fixedDone, FixedMark{Schedule: c.Schedule, Rule: c.SpotRule, Due: c.Due})
		}
	} else {
		s.h.tracksSinceSpot++
		s.h.lastArtist = c.Asset.Artist
		if s.h.lastSpotAt.IsZero() {
			// The minutes rule counts from the first play, not from the epoch.
			s.h.lastSpotAt = at
		}
	}
	if len(s.h.fixedDone) > 0 && at.Sub(s.h.fixedDone[0].Due) > fixedKeep {
		keep := s.h.fixedDone[:0]
		for _, f := range s.h.fixedDone {
			if at.Sub(f.Due) <= fixedKeep {
				keep = append(keep, f)
			}
		}
		s.h.fixedDone = keep
	}
}
