// Package wire reads origin's wire types (origin/api) into selection's domain types (player/schedule). It is the one
// place where the two meet: the node decodes the catalog records it receives with it, and origin's panel decodes
// its own catalog for the "what will this zone play" preview with it, so both choose from the same data.
//
// It must not: do I/O, or decide anything about playback.
package wire

import (
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

// Asset converts an asset record body.
func Asset(w api.Asset) (schedule.Asset, error) {
	k, err := schedule.ParseKind(w.Kind)
	if err != nil {
		return schedule.Asset{}, err
	}
	a := schedule.Asset{
		ID: w.ID, Kind: k, Title: w.Title, Artist: w.Artist, ISRC: w.ISRC,
		SHA256: w.SHA256, MD5: w.MD5, Size: w.Size, Codec: w.Codec, LoudnessLUFS: w.LoudnessLUFS,
		Duration: ms(w.DurationMS), CueIn: ms(w.CueInMS), CueOut: ms(w.CueOutMS),
		EmergencyEligible: w.EmergencyEligible,
	}
	if w.ValidFrom != nil {
		a.ValidFrom = *w.ValidFrom
	}
	if w.ValidUntil != nil {
		a.ValidUntil = *w.ValidUntil
	}
	return a, nil
}

// Playlist converts a playlist record body.
func Playlist(w api.Playlist) schedule.Playlist {
	return schedule.Playlist{ID: w.ID, Name: w.Name, AssetIDs: w.AssetIDs}
}

// Schedule converts a schedule record body. Empty dates are open ends.
func Schedule(w api.Schedule) (schedule.Schedule, error) {
	s := schedule.Schedule{ID: w.ID, Store: w.StoreID, Zone: w.ZoneID, PlaylistID: w.PlaylistID, Priority: w.Priority}
	var err error
	if w.DateFrom != "" {
		if s.DateFrom, err = schedule.ParseDate(w.DateFrom); err != nil {
			return s, err
		}
	}
	if w.DateTo != "" {
		if s.DateTo, err = schedule.ParseDate(w.DateTo); err != nil {
			return s, err
		}
	}
	for _, d := range w.Weekdays {
		s.Weekdays = append(s.Weekdays, time.Weekday(d))
	}
	if s.Start, err = schedule.ParseClock(w.Start); err != nil {
		return s, err
	}
	if s.End, err = schedule.ParseClock(w.End); err != nil {
		return s, err
	}
	for _, sr := range w.SpotRules {
		rule := schedule.SpotRule{PlaylistID: sr.PlaylistID, EveryNTracks: sr.EveryNTracks, EveryNMinutes: sr.EveryNMinutes}
		for _, at := range sr.At {
			ct, err := schedule.ParseClock(at)
			if err != nil {
				return s, err
			}
			rule.At = append(rule.At, ct)
		}
		s.Spots = append(s.Spots, rule)
	}
	return s, nil
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
