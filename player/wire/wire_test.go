package wire

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

func TestScheduleAndAsset(t *testing.T) {
	until := time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)
	a, err := Asset(api.Asset{ID: "a", Kind: api.KindSpot, DurationMS: 30500, CueInMS: 250, ValidUntil: &until})
	if err != nil || a.Kind != schedule.Spot || a.Duration != 30500*time.Millisecond || a.CueIn != 250*time.Millisecond ||
		!a.ValidUntil.Equal(until) || !a.ValidFrom.IsZero() {
		t.Fatalf("asset: %+v, %v", a, err)
	}
	if _, err := Asset(api.Asset{ID: "b", Kind: "podcast"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	s, err := Schedule(api.Schedule{ID: "s", Scope: api.ScopeZone, StoreID: "st", ZoneID: "z", PlaylistID: "p",
		Priority: 3, DateFrom: "2026-12-01", Weekdays: []int{0, 6}, Start: "22:00", End: "06:00",
		SpotRules: []api.SpotRule{{PlaylistID: "sp", EveryNTracks: 3, At: []string{"12:00", "18:30"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Zone != "z" || s.DateFrom.IsZero() || !s.DateTo.IsZero() || len(s.Weekdays) != 2 || s.Start != schedule.MustClock("22:00") ||
		s.End != schedule.MustClock("06:00") || len(s.Spots) != 1 || len(s.Spots[0].At) != 2 {
		t.Fatalf("schedule: %+v", s)
	}
	if _, err := Schedule(api.Schedule{Start: "25:00", End: "00:00"}); err == nil {
		t.Fatal("bad clock time accepted")
	}
}
