package schedule_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/schedule/schedtest"
	"github.com/lomuz/lomuz/player/trustedtime"
)

func load(tb testing.TB, spec schedtest.Spec) (schedtest.Catalog, *schedule.Selector) {
	tb.Helper()
	cat := schedtest.Generate(spec)
	cfg := schedule.DefaultConfig()
	cfg.Rand = rand.NewPCG(spec.Seed, 1)
	sel, err := schedtest.Load(cat, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return cat, sel
}

func step(c schedule.Choice) time.Duration {
	if c.Level >= schedule.LevelBuiltin {
		return 30 * time.Second
	}
	return max(c.Asset.PlayLength(), time.Second)
}

// BenchmarkNext measures one track boundary (Next and Played) with every rule on, over 100,000 assets in 100
// playlists, while virtual time advances by each track's length through day-parts, spots and opening and closing
// windows. It reports the latency distribution per call; scripts/bench.d/30-selection.sh compares it with SQLite.
func BenchmarkNext(b *testing.B) {
	cat, sel := load(b, schedtest.BenchSpec())
	t := cat.Start
	var lat []time.Duration
	var levels [5]int
	b.ReportAllocs()
	for b.Loop() {
		iv := trustedtime.Interval{Lo: t, Hi: t.Add(2 * time.Second), Wall: t, Synced: true}
		t0 := time.Now()
		c := sel.Next(iv)
		sel.Played(c, t)
		lat = append(lat, time.Since(t0))
		levels[c.Level]++
		t = t.Add(step(c))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(pct(0.999), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
	n := float64(len(lat))
	b.ReportMetric(100*float64(levels[schedule.LevelSpot])/n, "%spot")
	b.ReportMetric(100*float64(levels[schedule.LevelEmergency]+levels[schedule.LevelBuiltin])/n, "%fallback")
	b.ReportMetric(t.Sub(cat.Start).Hours()/24, "days")
}

// A generated store plays a simulated fortnight: every play is inside its window with its blob present, spots come
// at least every 4 tracks, and nothing falls back while scheduled content is eligible.
func TestGeneratedStoreFortnight(t *testing.T) {
	spec := schedtest.BenchSpec()
	spec.Assets, spec.Playlists, spec.SpotPlaylists, spec.SpotsPer = 5000, 30, 5, 40
	cat, sel := load(t, spec)
	present := map[string]bool{}
	for _, sha := range cat.Present {
		present[sha] = true
	}
	plan, err := sel.Plan(cat.Start, cat.Start.Add(14*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) < 5000 {
		t.Fatalf("only %d plays in a fortnight", len(plan))
	}
	sinceSpot, spots := 0, 0
	for i, e := range plan {
		c := e.Choice
		if c.Level >= schedule.LevelEmergency {
			t.Fatalf("play %d at %v fell back: %v", i, e.Start, c)
		}
		if !present[c.Asset.SHA256] || !schedule.Playable(&c.Asset, trustedtime.Exact(e.Start)) {
			t.Fatalf("play %d at %v: ineligible %+v", i, e.Start, c.Asset)
		}
		if c.Level == schedule.LevelSpot {
			sinceSpot = 0
			spots++
			continue
		}
		if sinceSpot++; sinceSpot > 4 {
			t.Fatalf("play %d at %v: %d tracks since the last spot", i, e.Start, sinceSpot)
		}
		if i > 0 && plan[i-1].Choice.Level == schedule.LevelScheduled && c.Asset.Artist == plan[i-1].Choice.Asset.Artist &&
			c.Reason != schedule.ReasonArtistRepeat {
			t.Fatalf("play %d: same artist back to back without saying so", i)
		}
	}
	if spots == 0 {
		t.Fatal("no spots")
	}
}
