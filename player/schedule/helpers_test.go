package schedule

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
)

func newSel(t testing.TB, tz string, mut ...func(*Config)) *Selector {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Store = StoreSettings{StoreID: "store-1", TimeZone: tz}
	cfg.Zone = "zone-1"
	cfg.Rand = rand.NewPCG(7, 7)
	for _, f := range mut {
		f(&cfg)
	}
	s, err := NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asset builds a present-blob music asset of 3 minutes.
func music(id, artist string) Asset {
	return Asset{ID: id, Kind: Music, Artist: artist, SHA256: "sha-" + id, Duration: 3 * time.Minute}
}

func spot(id string) Asset {
	return Asset{ID: id, Kind: Spot, SHA256: "sha-" + id, Duration: 30 * time.Second}
}

// load upserts assets (all present) and a playlist holding them in order.
func load(t testing.TB, s *Selector, plID string, assets ...Asset) {
	t.Helper()
	ids := make([]string, len(assets))
	for i, a := range assets {
		if err := s.UpsertAsset(a); err != nil {
			t.Fatal(err)
		}
		s.SetPresent(a.SHA256, true)
		ids[i] = a.ID
	}
	if err := s.UpsertPlaylist(Playlist{ID: plID, AssetIDs: ids}); err != nil {
		t.Fatal(err)
	}
}

func sched(t testing.TB, s *Selector, sc Schedule) {
	t.Helper()
	if err := s.UpsertSchedule(sc); err != nil {
		t.Fatal(err)
	}
}

// play runs Next and Played at t and returns the choice.
func play(s *Selector, t time.Time) Choice {
	c := s.Next(trustedtime.Exact(t))
	s.Played(c, t)
	return c
}

func ids(cs []Choice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		switch c.Level {
		case LevelBuiltin, LevelSilence:
			out[i] = c.Level.String()
		default:
			out[i] = c.Asset.ID
		}
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
