package trustedtime

import (
	"fmt"
	"time"
)

// Problem names what is wrong with the device's clock, if anything.
type Problem uint8

const (
	// OK: the wall clock lies inside [Lo, Hi].
	OK Problem = iota
	// WallBehind: the wall clock is earlier than Lo (a reset RTC, a clock set back); it is not believed.
	WallBehind
	// WallAhead: the wall clock is later than Hi proven by a sync in this boot (set forward, or drifting fast).
	WallAhead
	// Unbounded: no sync in this boot and the wall clock is not usable, so nothing bounds true time from above;
	// assets with an end date pause until the next sync.
	Unbounded
	// Unknown: nothing bounds true time from below (first boot, no Epoch, never synced); assets with a start date
	// pause.
	Unknown
)

func (p Problem) String() string {
	switch p {
	case OK:
		return "ok"
	case WallBehind:
		return "wall-behind"
	case WallAhead:
		return "wall-ahead"
	case Unbounded:
		return "unbounded"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("problem(%d)", uint8(p))
}

// Status describes the clock for the status page and the log.
type Status struct {
	Problem Problem
	// Offset is the wall clock minus the bound it violates: negative when behind Lo, positive when ahead of Hi, zero
	// when OK.
	Offset time.Duration
	Lo, Hi time.Time
	Wall   time.Time
	Synced bool
}

// Status classifies the interval's clock problem.
func (iv Interval) Status() Status {
	st := Status{Lo: iv.Lo, Hi: iv.Hi, Wall: iv.Wall, Synced: iv.Synced}
	switch {
	case iv.Lo.IsZero():
		st.Problem = Unknown
	case iv.Wall.Before(iv.Lo):
		st.Problem, st.Offset = WallBehind, iv.Wall.Sub(iv.Lo)
	case iv.Hi.IsZero():
		st.Problem = Unbounded
	case iv.Wall.After(iv.Hi):
		st.Problem, st.Offset = WallAhead, iv.Wall.Sub(iv.Hi)
	}
	return st
}

// String is one line for the log, e.g. "wall clock behind trusted floor by 490560h0m0s".
func (s Status) String() string {
	switch s.Problem {
	case OK:
		return fmt.Sprintf("clock ok (trusted %s .. %s)", fmtT(s.Lo), fmtT(s.Hi))
	case WallBehind:
		return fmt.Sprintf("wall clock behind trusted floor by %s (wall %s, floor %s)", -s.Offset, fmtT(s.Wall), fmtT(s.Lo))
	case WallAhead:
		return fmt.Sprintf("wall clock ahead of trusted time by %s (wall %s, trusted up to %s)", s.Offset, fmtT(s.Wall), fmtT(s.Hi))
	case Unbounded:
		return fmt.Sprintf("no upper bound on time until the next sync (floor %s); dated assets paused", fmtT(s.Lo))
	case Unknown:
		return "time unknown until the first sync; dated assets paused"
	}
	return s.Problem.String()
}

func fmtT(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
