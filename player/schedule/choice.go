package schedule

import (
	"fmt"
	"strconv"
	"time"
)

// Level is the fallback level of a play, recorded with every play and counted by the caller.
type Level uint8

const (
	LevelScheduled Level = iota // a track of the scheduled playlist
	LevelSpot                   // a spot inserted by a spot rule of the scheduled playlist's schedule
	LevelEmergency              // nothing scheduled was eligible: a random eligible emergency asset (log a warning)
	LevelBuiltin                // nothing eligible at all: the jingle compiled into the binary
	LevelSilence                // as LevelBuiltin, when Config.NoBuiltin says there is no jingle
)

func (l Level) String() string {
	switch l {
	case LevelScheduled:
		return "scheduled"
	case LevelSpot:
		return "spot"
	case LevelEmergency:
		return "emergency"
	case LevelBuiltin:
		return "builtin"
	case LevelSilence:
		return "silence"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Reason says why a choice was made, as a code so that Next does not format strings on the hot path.
type Reason uint8

const (
	ReasonLeastRecent      Reason = iota // the least recently played eligible asset of a different artist
	ReasonArtistRepeat                   // the same artist as the previous track: no other artist was eligible
	ReasonSpotEveryTracks                // a spot rule's every_n_tracks was due
	ReasonSpotEveryMinutes               // a spot rule's every_n_minutes was due
	ReasonSpotFixedTime                  // a spot rule's fixed time was due (Choice.Due)
	ReasonNoSchedule                     // no schedule is active now for this zone
	ReasonNothingEligible                // the scheduled playlist is unknown or has nothing eligible now
)

func (r Reason) String() string {
	switch r {
	case ReasonLeastRecent:
		return "least recently played"
	case ReasonArtistRepeat:
		return "same artist again: no other eligible"
	case ReasonSpotEveryTracks:
		return "spot every n tracks"
	case ReasonSpotEveryMinutes:
		return "spot every n minutes"
	case ReasonSpotFixedTime:
		return "spot at fixed time"
	case ReasonNoSchedule:
		return "no schedule active"
	case ReasonNothingEligible:
		return "nothing eligible in the scheduled playlist"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Choice is the answer of Next: what to play and why.
type Choice struct {
	Level  Level
	Reason Reason
	// Asset is a copy of the chosen asset; zero for LevelBuiltin and LevelSilence.
	Asset Asset
	// Schedule is the id of the schedule active at the instant, "" when none.
	Schedule string
	// Playlist is the playlist the asset was taken from: the scheduled one, or the spot rule's; "" otherwise.
	Playlist string
	// SpotRule is the index of the rule in the schedule's Spots for LevelSpot, else -1.
	SpotRule int
	// Due is the instant a fixed-time spot was due (ReasonSpotFixedTime), else zero.
	Due time.Time
	// SpotMissed: a spot rule was due but its playlist had nothing eligible, so a track was chosen instead; the rule
	// stays due.
	SpotMissed bool
}

// String is one line for the log.
func (c Choice) String() string {
	s := fmt.Sprintf("%s (%s)", c.Level, c.Reason)
	if c.Asset.ID != "" {
		s += " asset " + c.Asset.ID
	}
	if c.Schedule != "" {
		s += " schedule " + c.Schedule
	}
	if c.Playlist != "" {
		s += " playlist " + c.Playlist
	}
	if c.SpotMissed {
		s += " (spot due, none eligible)"
	}
	return s
}
