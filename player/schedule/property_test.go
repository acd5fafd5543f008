package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
	"pgregory.net/rapid"
)

// model is the dumb reference for the scheduled pick: a linear scan of the playlist in (last play, position) order.
type model struct {
	assets   map[string]Asset
	present  map[string]bool
	lastPlay map[string]int
	seq      int
}

func (m *model) eligible(id string, iv trustedtime.Interval) bool {
	a, ok := m.assets[id]
	if !ok || !m.present[a.SHA256] {
		return false
	}
	until := a.ValidUntil
	if !until.IsZero() {
		until = until.Add(-a.PlayLength())
	}
	return iv.Eligible(a.ValidFrom, until) // trustedtime's rule, independent of the selector's index
}

func (m *model) pick(order []string, iv trustedtime.Interval, avoid string) (string, bool) {
	cands := slices.Clone(order)
	slices.SortStableFunc(cands, func(a, b string) int { return m.lastPlay[a] - m.lastPlay[b] })
	first := ""
	for _, id := range cands {
		if !m.eligible(id, iv) {
			continue
		}
		if avoid != "" && m.assets[id].Artist == avoid {
			if first == "" {
				first = id
			}
			continue
		}
		return id, false
	}
	return first, first != ""
}

// Whatever the operations and the clock, the selector never chooses an asset outside its window or without its
// blob, and its scheduled pick is the model's.
func TestSelectionMatchesModel(t *testing.T) {
	base := utc("2026-05-05T12:00:00Z")
	rapid.Check(t, func(t *rapid.T) {
		s, err := NewSelector(Config{Store: StoreSettings{TimeZone: "Europe/Lisbon"}, Rand: rand.NewPCG(1, 2),
			ArtistLookahead: 1000})
		if err != nil {
			t.Fatal(err)
		}
		m := &model{assets: map[string]Asset{}, present: map[string]bool{}, lastPlay: map[string]int{}}
		n := rapid.IntRange(1, 12).Draw(t, "assets")
		var order []string
		genAsset := func(i int) Asset {
			a := Asset{ID: fmt.Sprintf("a%02d", i), Kind: Music, SHA256: fmt.Sprintf("h%d", rapid.IntRange(0, n).Draw(t, "sha")),
				Artist:            rapid.SampledFrom([]string{"", "X", "Y", "Z"}).Draw(t, "artist"),
				Duration:          time.Duration(rapid.IntRange(0, 300).Draw(t, "dur")) * time.Second,
				EmergencyEligible: rapid.Bool().Draw(t, "emerg")}
			if rapid.Bool().Draw(t, "hasFrom") {
				a.ValidFrom = base.Add(time.Duration(rapid.IntRange(-3600, 3600).Draw(t, "from")) * time.Second)
			}
			if rapid.Bool().Draw(t, "hasUntil") {
				a.ValidUntil = base.Add(time.Duration(rapid.IntRange(-3600, 7200).Draw(t, "until")) * time.Second)
				if !a.ValidFrom.IsZero() && a.ValidUntil.Before(a.ValidFrom) {
					a.ValidUntil = a.ValidFrom
				}
			}
			return a
		}
		for i := range n {
			a := genAsset(i)
			if err := s.UpsertAsset(a); err != nil {
				t.Fatal(err)
			}
			m.assets[a.ID] = a
			order = append(order, a.ID)
		}
		if err := s.UpsertPlaylist(Playlist{ID: "p", AssetIDs: order}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpsertSchedule(Schedule{ID: "s", PlaylistID: "p"}); err != nil {
			t.Fatal(err)
		}
		lastArtist := ""
		clock := base.Add(-30 * time.Minute)
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1: // toggle a blob
				sha := fmt.Sprintf("h%d", rapid.IntRange(0, n).Draw(t, "toggle"))
				m.present[sha] = !m.present[sha]
				s.SetPresent(sha, m.present[sha])
			case 2: // replace an asset
				i := rapid.IntRange(0, n-1).Draw(t, "replace")
				a := genAsset(i)
				if err := s.UpsertAsset(a); err != nil {
					t.Fatal(err)
				}
				m.assets[a.ID] = a
			default: // a track boundary; time mostly moves forward, sometimes back (a plan from earlier)
				clock = clock.Add(time.Duration(rapid.IntRange(-600, 1200).Draw(t, "advance")) * time.Second)
				lo := clock
				hi := lo.Add(time.Duration(rapid.IntRange(0, 900).Draw(t, "width")) * time.Second)
				iv := trustedtime.Interval{Lo: lo, Hi: hi, Wall: lo}
				if rapid.IntRange(0, 9).Draw(t, "unbounded") == 0 {
					iv.Hi = time.Time{}
				}
				c := s.Next(iv)
				if c.Level <= LevelEmergency && !m.eligible(c.Asset.ID, iv) {
					t.Fatalf("step %d: chose ineligible %v at [%v, %v]", step, c, iv.Lo, iv.Hi)
				}
				want, repeat := m.pick(order, iv, lastArtist)
				switch {
				case want == "" && c.Level == LevelScheduled:
					t.Fatalf("step %d: chose %v, model has nothing eligible", step, c)
				case want != "" && (c.Level != LevelScheduled || c.Asset.ID != want || (c.Reason == ReasonArtistRepeat) != repeat):
					t.Fatalf("step %d: chose %v, model %s (repeat %v)", step, c, want, repeat)
				case c.Level == LevelEmergency && !c.Asset.EmergencyEligible:
					t.Fatalf("step %d: emergency pick %v is not emergency-eligible", step, c)
				}
				if rapid.Bool().Draw(t, "play") {
					s.Played(c, iv.Now())
					if c.Level <= LevelEmergency {
						m.seq++
						m.lastPlay[c.Asset.ID] = m.seq
						lastArtist = c.Asset.Artist
					}
				}
			}
		}
	})
}
