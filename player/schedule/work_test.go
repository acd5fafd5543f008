package schedule

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
)

// Selection must not scan the catalog: over a store of 20,000 assets with windows opening and expiring and 5% of
// blobs missing, no call looks at more candidates than the artist lookahead plus the assets that leave their
// window during that call, and on average a handful.
func TestNextDoesNotScan(t *testing.T) {
	s := newSel(t, "America/Sao_Paulo")
	r := rand.New(rand.NewPCG(3, 3))
	start := utc("2026-06-01T03:00:00Z")
	const playlists, per = 20, 1000
	for p := range playlists {
		ids := make([]string, per)
		for i := range per {
			a := music(string(rune('A'+p))+"-"+strconv.Itoa(i), "artist-"+strconv.Itoa(r.IntN(30)))
			if r.IntN(10) == 0 {
				a.ValidFrom = start.Add(time.Duration(r.IntN(30*24)) * time.Hour)
				a.ValidUntil = a.ValidFrom.Add(time.Duration(1+r.IntN(72)) * time.Hour)
			}
			if err := s.UpsertAsset(a); err != nil {
				t.Fatal(err)
			}
			if r.IntN(20) != 0 {
				s.SetPresent(a.SHA256, true)
			}
			ids[i] = a.ID
		}
		if err := s.UpsertPlaylist(Playlist{ID: "p" + strconv.Itoa(p), AssetIDs: ids}); err != nil {
			t.Fatal(err)
		}
	}
	for h := range 24 {
		sched(t, s, Schedule{ID: "s" + strconv.Itoa(h), PlaylistID: "p" + strconv.Itoa(h%playlists), Start: ClockTime(h * 60),
			End: ClockTime((h + 1) % 24 * 60)})
	}
	at, total, worst, calls := start, 0, 0, 0
	for at.Before(start.Add(30 * 24 * time.Hour)) {
		c := s.Next(trustedtime.Exact(at))
		s.Played(c, at)
		if c.Level != LevelScheduled && c.Level != LevelSpot {
			t.Fatalf("fell back at %v: %v", at, c)
		}
		total += s.visits
		worst = max(worst, s.visits)
		calls++
		at = at.Add(c.Asset.PlayLength())
	}
	// Every asset in a day-part's playlist expires at most once, so a call may see a burst of them; 64 is the
	// artist lookahead.
	if mean := float64(total) / float64(calls); mean > 4 || worst > 64+per/10 {
		t.Fatalf("%d calls: %.1f candidates per call on average, %d at worst", calls, mean, worst)
	}
	t.Logf("%d calls: %.2f candidates per call on average, %d at worst", calls, float64(total)/float64(calls), worst)
}
