package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cursors are opaque to callers; backends share these encodings so that the conformance suite's paging tests mean
// the same on each. A cursor that does not parse is ErrInvalid.

// RevCursor is the position after a record in (Rev, Key) order, for RecordsSince.
func RevCursor(rev uint64, key string) string { return strconv.FormatUint(rev, 10) + " " + key }

// ParseRevCursor parses a RevCursor; the empty cursor is the start (0, "").
func ParseRevCursor(c string) (uint64, string, error) {
	if c == "" {
		return 0, "", nil
	}
	r, key, ok := strings.Cut(c, " ")
	rev, err := strconv.ParseUint(r, 10, 64)
	if !ok || err != nil || key == "" || len(key) > 200 {
		return 0, "", fmt.Errorf("%w: records cursor %.80q", ErrInvalid, c)
	}
	return rev, key, nil
}

// ParseKeyCursor checks a LiveRecords cursor (the last key of the previous page).
func ParseKeyCursor(c string) (string, error) {
	if len(c) > 200 {
		return "", fmt.Errorf("%w: records cursor of %d bytes", ErrInvalid, len(c))
	}
	return c, nil
}

// PlayCursor is the position after a play event in (StartedAt, DeviceID, Seq) order.
func PlayCursor(e PlayEvent) string {
	return strconv.FormatInt(NormTime(e.StartedAt).UnixMicro(), 10) + " " + e.DeviceID + " " + strconv.FormatUint(e.Seq, 10)
}

// ParsePlayCursor parses a PlayCursor.
func ParsePlayCursor(c string) (time.Time, string, uint64, error) {
	f := strings.Split(c, " ")
	if len(f) == 3 && ValidID(f[1]) {
		us, err1 := strconv.ParseInt(f[0], 10, 64)
		seq, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			return time.UnixMicro(us).UTC(), f[1], seq, nil
		}
	}
	return time.Time{}, "", 0, fmt.Errorf("%w: play cursor %.80q", ErrInvalid, c)
}
