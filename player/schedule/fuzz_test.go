package schedule

import "testing"

// Times of day and dates arrive from origin's records: any string must parse to a valid value or fail cleanly, and
// a parsed value must print back to the same text.
func FuzzParseClockAndDate(f *testing.F) {
	for _, s := range []string{"00:00", "23:59", "24:00", "7:30", "12:60", "2026-03-29", "2026-02-30", "", "99:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseClock(s); err == nil {
			if !c.valid() || c.String() != s {
				t.Fatalf("ParseClock(%q) = %v", s, c)
			}
		}
		if d, err := ParseDate(s); err == nil {
			if !d.valid() || d.String() != s {
				t.Fatalf("ParseDate(%q) = %v", s, d)
			}
		}
	})
}
