package schedtest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/lomuz/lomuz/player/schedule"
)

// Spec sizes a generated catalog.
type Spec struct {
	Assets        int    // total assets, music and spots
	Playlists     int    // total playlists; SpotPlaylists of them hold the spots
	SpotPlaylists int    // playlists of spots, used by the spot rules
	SpotsPer      int    // spots in each spot playlist
	ArtistsPer    int    // distinct artists per music playlist: small values make artist separation work hard
	Seed          uint64 // everything is drawn from it
}

// BenchSpec is the benchmark's catalog: 100,000 assets in 100 playlists.
func BenchSpec() Spec {
	return Spec{Assets: 100_000, Playlists: 100, SpotPlaylists: 10, SpotsPer: 100, ArtistsPer: 40, Seed: 1}
}

// Catalog is a generated store catalog for one zone.
type Catalog struct {
	Store     schedule.StoreSettings
	Zone      string
	Start     time.Time // the first instant of the workload
	Assets    []schedule.Asset
	Playlists []schedule.Playlist
	Schedules []schedule.Schedule
	Present   []string // sha256 of the blobs present in the cache
	// PlaylistOf maps an asset id to its playlist id (each asset is in exactly one playlist), for SQL tables that
	// keep the playlist on the asset row as the seed's schema does.
	PlaylistOf map[string]string
}

// Generate builds the catalog for spec. The same spec gives the same catalog.
//
// Music: windows on 10% (spread from a month before Start to a year after, so some have expired, some have not
// opened), 2% emergency-eligible, 2.5-5 minute tracks. Spots: windows on half (campaigns), 15-60 s. Blobs: 95%
// present. Schedules: a tenant-wide default, store day-parts for weekdays and weekends (one crossing midnight), a
// zone evening part, a date-ranged promotion, schedules of other zones and stores that must be ignored, and spot
// rules every 4 tracks, every 15 minutes and at every full hour.
func Generate(spec Spec) Catalog {
	r := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	loc, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		panic(err) // tzdata is embedded by package schedule
	}
	c := Catalog{
		Store:      schedule.StoreSettings{StoreID: "store-0001", TimeZone: "America/Sao_Paulo"},
		Zone:       "zone-01",
		Start:      time.Date(2026, 6, 1, 0, 0, 0, 0, loc).UTC(),
		PlaylistOf: make(map[string]string, spec.Assets),
	}
	year := 365 * 24 * time.Hour
	window := func(a *schedule.Asset) {
		from := c.Start.Add(-30*24*time.Hour + time.Duration(r.Int64N(int64(year))))
		a.ValidFrom = from
		a.ValidUntil = from.Add(time.Duration(1+r.IntN(60)) * 24 * time.Hour)
	}
	nSpots := spec.SpotPlaylists * spec.SpotsPer
	musicPl := spec.Playlists - spec.SpotPlaylists
	nMusic := spec.Assets - nSpots
	for p := range spec.Playlists {
		c.Playlists = append(c.Playlists, schedule.Playlist{ID: fmt.Sprintf("pl-%03d", p), Name: fmt.Sprintf("playlist %d", p)})
	}
	add := func(a schedule.Asset, pl int) {
		c.Assets = append(c.Assets, a)
		c.Playlists[pl].AssetIDs = append(c.Playlists[pl].AssetIDs, a.ID)
		c.PlaylistOf[a.ID] = c.Playlists[pl].ID
		if r.IntN(100) < 95 {
			c.Present = append(c.Present, a.SHA256)
		}
	}
	for i := range nMusic {
		pl := i % musicPl
		a := schedule.Asset{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Kind: schedule.Music,
			Title: fmt.Sprintf("track %d", i), Artist: fmt.Sprintf("artist %d-%d", pl, r.IntN(spec.ArtistsPer)),
			SHA256: fmt.Sprintf("%064x", uint64(i)+1), Size: 2_000_000, Codec: "vorbis", LoudnessLUFS: -14,
			Duration:          150*time.Second + time.Duration(r.IntN(150))*time.Second,
			EmergencyEligible: r.IntN(100) < 2,
		}
		if r.IntN(100) < 10 {
			window(&a)
		}
		add(a, pl)
	}
	for i := range nSpots {
		pl := musicPl + i/spec.SpotsPer
		a := schedule.Asset{
			ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), Kind: schedule.Spot, Title: fmt.Sprintf("spot %d", i),
			SHA256: fmt.Sprintf("%064x", uint64(nMusic+i)+1), Size: 300_000, Codec: "vorbis", LoudnessLUFS: -14,
			Duration: 15*time.Second + time.Duration(r.IntN(45))*time.Second,
		}
		if r.IntN(2) == 0 {
			window(&a)
		}
		add(a, pl)
	}
	spotPl := func(i int) string { return c.Playlists[musicPl+i%spec.SpotPlaylists].ID }
	var hourly []schedule.ClockTime
	for h := range 24 {
		hourly = append(hourly, schedule.ClockTime(h*60))
	}
	rules := func(i int) []schedule.SpotRule {
		return []schedule.SpotRule{
			{PlaylistID: spotPl(i), At: hourly},
			{PlaylistID: spotPl(i + 1), EveryNTracks: 4},
			{PlaylistID: spotPl(i + 2), EveryNMinutes: 15},
		}
	}
	music := func(i int) string { return c.Playlists[i%musicPl].ID }
	c.Schedules = append(c.Schedules, schedule.Schedule{ID: "sch-default", PlaylistID: music(0), Spots: rules(0)})
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	weekend := []time.Weekday{time.Saturday, time.Sunday}
	for i, part := range [][2]string{{"06:00", "10:00"}, {"10:00", "14:00"}, {"14:00", "18:00"}, {"18:00", "22:00"}, {"22:00", "06:00"}} {
		for j, days := range [][]time.Weekday{weekdays, weekend} {
			n := 1 + i*2 + j
			c.Schedules = append(c.Schedules, schedule.Schedule{
				ID: fmt.Sprintf("sch-store-%02d", n), Store: c.Store.StoreID, PlaylistID: music(n), Priority: 1,
				Weekdays: days, Start: schedule.MustClock(part[0]), End: schedule.MustClock(part[1]), Spots: rules(n),
			})
		}
	}
	c.Schedules = append(c.Schedules,
		schedule.Schedule{ID: "sch-zone-evening", Store: c.Store.StoreID, Zone: c.Zone, PlaylistID: music(20),
			Priority: 2, Start: schedule.MustClock("19:00"), End: schedule.MustClock("01:00"), Spots: rules(20)},
		schedule.Schedule{ID: "sch-promo", PlaylistID: music(21), Priority: 3,
			DateFrom: schedule.Date{Year: 2026, Month: 6, Day: 10}, DateTo: schedule.Date{Year: 2026, Month: 6, Day: 20},
			Start: schedule.MustClock("12:00"), End: schedule.MustClock("15:00"), Spots: rules(21)})
	for i := range 30 {
		sc := schedule.Schedule{ID: fmt.Sprintf("sch-other-%02d", i), Store: fmt.Sprintf("store-%04d", 2+i%5),
			PlaylistID: music(30 + i), Priority: 9}
		if i%2 == 0 {
			sc.Store, sc.Zone = c.Store.StoreID, fmt.Sprintf("zone-%02d", 2+i)
		}
		c.Schedules = append(c.Schedules, sc)
	}
	return c
}

// Load builds a selector for the catalog's zone.
func Load(c Catalog, cfg schedule.Config) (*schedule.Selector, error) {
	cfg.Store, cfg.Zone = c.Store, c.Zone
	s, err := schedule.NewSelector(cfg)
	if err != nil {
		return nil, err
	}
	for _, sha := range c.Present {
		s.SetPresent(sha, true)
	}
	for _, a := range c.Assets {
		if err := s.UpsertAsset(a); err != nil {
			return nil, err
		}
	}
	for _, p := range c.Playlists {
		if err := s.UpsertPlaylist(p); err != nil {
			return nil, err
		}
	}
	for _, sc := range c.Schedules {
		if err := s.UpsertSchedule(sc); err != nil {
			return nil, err
		}
	}
	return s, nil
}
