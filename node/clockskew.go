package node

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ClockSkew shifts the wall clock a node process reads, to diagnose and test how it behaves when the device's clock
// is wrong (reset to 1970, set a year ahead, drifting). It exists because LD_PRELOAD clock fakers such as
// libfaketime do not reach Go programs: the Go runtime reads the clock through the vDSO, not libc, with or without
// cgo (RELIABILITY.md has the check). Only the wall clock the Runner hands to the core is shifted, which is the one
// input through which a real device's wrong clock reaches trusted time, schedules and validity checks; the
// monotonic clock stays true, as a wrong RTC leaves it. The zero value leaves the clock alone.
//
// It implements pflag.Value; the text form follows libfaketime's: "@2026-01-02T15:04:05Z" (the wall clock reads that
// instant when the process starts), "+8760h" or "-30m" (an offset from true time), either optionally followed by
// " x10" or " x0.5" (the wall clock runs that many times as fast as true time from the start), or "x10" alone.
type ClockSkew struct {
	// At, when set, is what the wall clock reads at the process start; else Offset is added to the true time.
	At     time.Time
	Offset time.Duration
	// Rate is how fast the wall clock runs against true time, in (0, 1000]; 0 means 1.
	Rate float64
}

// maxClockOffset bounds an offset: a century either way covers every wrong clock worth diagnosing.
const maxClockOffset = 100 * 365 * 24 * time.Hour

// IsZero reports whether the skew leaves the clock alone.
func (k ClockSkew) IsZero() bool {
	return k.At.IsZero() && k.Offset == 0 && (k.Rate == 0 || k.Rate == 1)
}

// Wall is the skewed wall clock for a process that started at true time start, elapsed true time later.
func (k ClockSkew) Wall(start time.Time, elapsed time.Duration) time.Time {
	base := start.Add(k.Offset)
	if !k.At.IsZero() {
		base = k.At
	}
	if k.Rate == 0 || k.Rate == 1 {
		return base.Add(elapsed)
	}
	return base.Add(time.Duration(float64(elapsed) * k.Rate))
}

// String renders the skew in the form Set reads; empty for none.
func (k ClockSkew) String() string {
	var parts []string
	switch {
	case !k.At.IsZero():
		parts = append(parts, "@"+k.At.UTC().Format(time.RFC3339))
	case k.Offset > 0:
		parts = append(parts, "+"+k.Offset.String())
	case k.Offset < 0:
		parts = append(parts, k.Offset.String())
	}
	if k.Rate != 0 && k.Rate != 1 {
		parts = append(parts, "x"+strconv.FormatFloat(k.Rate, 'g', -1, 64))
	}
	return strings.Join(parts, " ")
}

// Type names the flag's value kind for --help.
func (*ClockSkew) Type() string { return "skew" }

// Set parses the text form (see ClockSkew); an empty string clears the skew.
func (k *ClockSkew) Set(s string) error {
	var out ClockSkew
	fields := strings.Fields(s)
	if len(fields) > 2 {
		return fmt.Errorf("clock skew %q: want [@RFC3339 | +DURATION | -DURATION] [xRATE]", s)
	}
	for i, f := range fields {
		switch {
		case strings.HasPrefix(f, "x") && (i == len(fields)-1):
			r, err := strconv.ParseFloat(f[1:], 64)
			if err != nil || !(r > 0 && r <= 1000) {
				return fmt.Errorf("clock skew %q: rate %q must be a number in (0, 1000]", s, f)
			}
			out.Rate = r
		case i == 0 && strings.HasPrefix(f, "@"):
			t, err := time.Parse(time.RFC3339, f[1:])
			if err != nil {
				return fmt.Errorf("clock skew %q: %w", s, err)
			}
			out.At = t
		case i == 0 && (strings.HasPrefix(f, "+") || strings.HasPrefix(f, "-")):
			d, err := time.ParseDuration(f)
			if err != nil {
				return fmt.Errorf("clock skew %q: %w", s, err)
			}
			if d > maxClockOffset || d < -maxClockOffset {
				return fmt.Errorf("clock skew %q: offset beyond %v", s, maxClockOffset)
			}
			out.Offset = d
		default:
			return fmt.Errorf("clock skew %q: want [@RFC3339 | +DURATION | -DURATION] [xRATE]", s)
		}
	}
	*k = out
	return nil
}
