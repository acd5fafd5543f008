package cache

import (
	"strings"
	"testing"
)

// FuzzJournalLine: any line (a torn write, garbage) parses without panicking, and only into sane records.
func FuzzJournalLine(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	f.Add("I " + sha + " 10 1700000000000000000 3")
	f.Add("U " + sha + " 9")
	f.Add("D " + sha)
	f.Add("I " + sha + " -1 5 5")
	f.Add("I " + sha[:40])
	f.Fuzz(func(t *testing.T, line string) {
		recs := map[string]*blob{sha: {size: 1, mtime: 1, use: 1}}
		parseJournalLine(line, recs)
		for k, b := range recs {
			if !ValidSHA256(k) || b.size < 0 || b.mtime < 0 {
				t.Fatalf("line %q made record %s %+v", line, k, b)
			}
		}
	})
}
