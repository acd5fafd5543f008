package audio

import (
	"fmt"
	"time"
)

// EventKind names what happened on the output.
type EventKind int

const (
	// EventTrackStarted: the track's first frame reached the output (at the start of its fade-in).
	EventTrackStarted EventKind = iota + 1
	// EventTrackEnded: the track's last frame reached the output; Reason says why it ended.
	EventTrackEnded
	// EventDecodeFailed: the track could not be opened or decoded (Err). A track that fails before it starts gets
	// only this event; one that fails while playing gets this event and then EventTrackEnded with EndFailed.
	EventDecodeFailed
	// EventOutputSilent: the output has been silent for Duration (first after EngineConfig.SilenceAfter, then
	// again at every further multiple of it while the silence lasts).
	EventOutputSilent
	// EventOutputRestored: sound came back after an EventOutputSilent; Duration is how long the silence lasted.
	EventOutputRestored
	// EventPosition: the current track has played Position; sent every EngineConfig.PositionEvery and dropped
	// rather than waited for when the Events channel is full.
	EventPosition
)

func (k EventKind) String() string {
	switch k {
	case EventTrackStarted:
		return "track-started"
	case EventTrackEnded:
		return "track-ended"
	case EventDecodeFailed:
		return "decode-failed"
	case EventOutputSilent:
		return "output-silent"
	case EventOutputRestored:
		return "output-restored"
	case EventPosition:
		return "position"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// EndReason says why a track ended.
type EndReason int

const (
	// EndFinished: the track played to its end or cue-out (possibly crossfading into the next one).
	EndFinished EndReason = iota + 1
	// EndReplaced: Play cut it short with a crossfade into another track.
	EndReplaced
	// EndStopped: Stop faded it out, or the engine was shut down while it played.
	EndStopped
	// EndFailed: decoding failed while it played; an EventDecodeFailed precedes the EventTrackEnded.
	EndFailed
)

func (r EndReason) String() string {
	switch r {
	case EndFinished:
		return "finished"
	case EndReplaced:
		return "replaced"
	case EndStopped:
		return "stopped"
	case EndFailed:
		return "failed"
	}
	return fmt.Sprintf("EndReason(%d)", int(r))
}

// Event is one report from the engine. Events arrive in output order.
type Event struct {
	Kind EventKind
	// TrackID is the track the event is about; empty for the output events (silent, restored).
	TrackID string
	// At is the output time of the event: frames rendered since Serve started, as a duration at the sink's rate.
	// It is the engine's clock: on an unpaced sink it runs ahead of the wall clock.
	At time.Duration
	// Position is how much of the track has been output (TrackEnded, Position), from its cue-in.
	Position time.Duration
	// Duration is the length of the silence (OutputSilent, OutputRestored).
	Duration time.Duration
	// GainDB is the normalising gain applied to the track (TrackStarted).
	GainDB float64
	// Reason is why the track ended (TrackEnded).
	Reason EndReason
	// Err is the decode error (DecodeFailed).
	Err error
}

func (e Event) String() string {
	s := fmt.Sprintf("%v %s at=%v", e.Kind, e.TrackID, e.At)
	switch e.Kind {
	case EventTrackEnded:
		s += fmt.Sprintf(" pos=%v reason=%v", e.Position, e.Reason)
	case EventPosition:
		s += fmt.Sprintf(" pos=%v", e.Position)
	case EventOutputSilent, EventOutputRestored:
		s += fmt.Sprintf(" silent=%v", e.Duration)
	case EventDecodeFailed:
		s += fmt.Sprintf(" err=%v", e.Err)
	case EventTrackStarted:
		s += fmt.Sprintf(" gain=%.1fdB", e.GainDB)
	}
	return s
}
