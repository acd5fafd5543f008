package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind is what an asset is for.
type Kind uint8

const (
	Music  Kind = iota + 1 // a track of a music playlist
	Spot                   // an ad or announcement, inserted by spot rules
	Jingle                 // a station identifier; played like music when it is in a playlist
)

func (k Kind) String() string {
	switch k {
	case Music:
		return "music"
	case Spot:
		return "spot"
	case Jingle:
		return "jingle"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind reads the wire name of a kind.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "music":
		return Music, nil
	case "spot":
		return Spot, nil
	case "jingle":
		return Jingle, nil
	}
	return 0, fmt.Errorf("schedule: unknown asset kind %q", s)
}

// Asset is one playable item of the catalog, as the selector needs it.
type Asset struct {
	ID           string // UUID text; unique key
	Kind         Kind
	Title        string
	Artist       string // empty: never subject to artist separation
	ISRC         string
	SHA256       string // hex; the blob's content address, matched against the presence set
	MD5          string
	Size         int64
	Duration     time.Duration // length of the decoded file
	Codec        string
	LoudnessLUFS float64       // integrated loudness
	CueIn        time.Duration // playback starts here; 0 = start of file
	CueOut       time.Duration // playback ends here; 0 = end of file
	// ValidFrom and ValidUntil bound when the asset may be heard, inclusive, to the second; zero is open. The whole
	// play must fit: an asset starting less than PlayLength before ValidUntil is not eligible.
	ValidFrom, ValidUntil time.Time
	EmergencyEligible     bool
}

// PlayLength is how long one play of the asset lasts: from CueIn to CueOut (or the end of the file).
func (a *Asset) PlayLength() time.Duration {
	end := a.Duration
	if a.CueOut > 0 && a.CueOut < end {
		end = a.CueOut
	}
	if a.CueIn >= end {
		return 0
	}
	return end - a.CueIn
}

func (a *Asset) validate() error {
	switch {
	case a.ID == "":
		return errors.New("schedule: asset without id")
	case a.Kind < Music || a.Kind > Jingle:
		return fmt.Errorf("schedule: asset %s: bad kind %d", a.ID, a.Kind)
	case a.Duration < 0 || a.CueIn < 0 || a.CueOut < 0:
		return fmt.Errorf("schedule: asset %s: negative duration or cue", a.ID)
	case !a.ValidFrom.IsZero() && !a.ValidUntil.IsZero() && a.ValidUntil.Before(a.ValidFrom):
		return fmt.Errorf("schedule: asset %s: valid_until %s before valid_from %s", a.ID,
			a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
	return nil
}

// Playlist is an ordered list of asset ids. The order breaks ties between assets never played (or played at the
// same rank): earlier first. An id listed twice counts once, at its first position.
type Playlist struct {
	ID       string
	Name     string
	AssetIDs []string
}

// MaxPlaylistLen bounds one playlist, so that a hostile record cannot make the selector allocate without limit.
const MaxPlaylistLen = 1 << 20

// ClockTime is a store-local wall-clock time of day in minutes after midnight, 0..1439 ("HH:MM" on the wire).
type ClockTime int16

// ParseClock reads "HH:MM" (00:00 .. 23:59).
func ParseClock(s string) (ClockTime, error) {
	digit := func(i int) int {
		if s[i] < '0' || s[i] > '9' {
			return -100 // makes the value out of range
		}
		return int(s[i] - '0')
	}
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("schedule: time of day %q is not HH:MM", s)
	}
	// Digits only: strconv.Atoi would take "+0" or "-0".
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("schedule: time of day %q is not HH:MM", s)
	}
	return ClockTime(h*60 + m), nil
}

// MustClock is ParseClock for constants in code and tests; it panics on a malformed literal.
func MustClock(s string) ClockTime {
	c, err := ParseClock(s)
	if err != nil {
		panic(err)
	}
	return c
}

func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", c/60, c%60) }

func (c ClockTime) valid() bool { return c >= 0 && c < 24*60 }

// Date is a store-local calendar date; the zero Date is open (no bound).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "YYYY-MM-DD"; "" is the open Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("schedule: date %q is not YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// IsZero reports whether d is the open Date.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

func (d Date) valid() bool {
	if d.IsZero() {
		return true
	}
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return d.Year >= 1 && d.Year <= 9999 && t.Year() == d.Year && t.Month() == d.Month && t.Day() == d.Day
}

// SpotRule inserts a spot from PlaylistID when one of its triggers is due. Triggers may be combined.
type SpotRule struct {
	PlaylistID    string
	EveryNTracks  int         // after N scheduled tracks since the last spot; 0 = off
	EveryNMinutes int         // N minutes or more since the last spot; 0 = off
	At            []ClockTime // at the first track boundary at or after each time, within Config.FixedWindow
}

// Schedule says which playlist plays when. See ARCHITECTURE.md "Schedules and selection" for resolution.
type Schedule struct {
	ID string
	// Scope: both empty = tenant-wide; Store set = that store; Store and Zone set = that zone.
	Store, Zone string
	PlaylistID  string
	Priority    int // higher wins
	// DateFrom and DateTo bound the store-local dates on which the day-part starts, inclusive; zero is open.
	DateFrom, DateTo Date
	// Weekdays on which the day-part starts; empty = every day.
	Weekdays []time.Weekday
	// Start and End of the day-part, store-local wall clock. Start == End: all day. End < Start: the day-part crosses
	// midnight and belongs to the day it starts.
	Start, End ClockTime
	Spots      []SpotRule
}

// Limits on a schedule, so that a hostile record cannot make resolution slow.
const (
	MaxSpotRules = 32
	MaxAtTimes   = 24 * 60
)

func (s *Schedule) validate() error {
	switch {
	case s.ID == "":
		return errors.New("schedule: schedule without id")
	case s.PlaylistID == "":
		return fmt.Errorf("schedule: schedule %s without playlist", s.ID)
	case s.Zone != "" && s.Store == "":
		return fmt.Errorf("schedule: schedule %s: zone scope without store", s.ID)
	case !s.Start.valid() || !s.End.valid():
		return fmt.Errorf("schedule: schedule %s: day-part %d-%d outside 00:00-23:59", s.ID, s.Start, s.End)
	case !s.DateFrom.valid() || !s.DateTo.valid():
		return fmt.Errorf("schedule: schedule %s: bad date range", s.ID)
	case !s.DateFrom.IsZero() && !s.DateTo.IsZero() && dayNumber(s.DateTo) < dayNumber(s.DateFrom):
		return fmt.Errorf("schedule: schedule %s: date_to %s before date_from %s", s.ID, s.DateTo, s.DateFrom)
	case len(s.Spots) > MaxSpotRules:
		return fmt.Errorf("schedule: schedule %s: %d spot rules, at most %d", s.ID, len(s.Spots), MaxSpotRules)
	}
	for _, w := range s.Weekdays {
		if w < time.Sunday || w > time.Saturday {
			return fmt.Errorf("schedule: schedule %s: weekday %d", s.ID, w)
		}
	}
	for i, r := range s.Spots {
		switch {
		case r.PlaylistID == "":
			return fmt.Errorf("schedule: schedule %s: spot rule %d without playlist", s.ID, i)
		case r.EveryNTracks < 0 || r.EveryNMinutes < 0:
			return fmt.Errorf("schedule: schedule %s: spot rule %d: negative interval", s.ID, i)
		case r.EveryNTracks == 0 && r.EveryNMinutes == 0 && len(r.At) == 0:
			return fmt.Errorf("schedule: schedule %s: spot rule %d has no trigger", s.ID, i)
		case len(r.At) > MaxAtTimes:
			return fmt.Errorf("schedule: schedule %s: spot rule %d: too many fixed times", s.ID, i)
		}
		for _, at := range r.At {
			if !at.valid() {
				return fmt.Errorf("schedule: schedule %s: spot rule %d: time %d outside the day", s.ID, i, at)
			}
		}
	}
	return nil
}

// StoreSettings are the store facts that selection depends on.
type StoreSettings struct {
	StoreID  string
	TimeZone string // IANA name, e.g. "America/Sao_Paulo"; day-parts and fixed times are read on its wall clock
}
