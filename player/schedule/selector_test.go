package schedule

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/trustedtime"
)

var noon = utc("2026-05-05T12:00:00Z") // a Tuesday

func TestLeastRecentlyPlayedWithPositionTieBreak(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"), music("c", "C"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	var got []Choice
	for i := range 7 {
		got = append(got, play(s, noon.Add(time.Duration(i)*3*time.Minute)))
	}
	if want := []string{"a", "b", "c", "a", "b", "c", "a"}; !slices.Equal(ids(got), want) {
		t.Fatalf("order %v, want %v", ids(got), want)
	}
	for _, c := range got {
		if c.Level != LevelScheduled || c.Reason != ReasonLeastRecent || c.Schedule != "s" || c.Playlist != "p" {
			t.Fatalf("choice %v", c)
		}
	}
	// A new asset, never played, goes first even though it is last in the playlist.
	if err := s.UpsertAsset(music("d", "D")); err != nil {
		t.Fatal(err)
	}
	s.SetPresent("sha-d", true)
	if err := s.UpsertPlaylist(Playlist{ID: "p", AssetIDs: []string{"a", "b", "c", "d", "a"}}); err != nil {
		t.Fatal(err)
	}
	if c := play(s, noon.Add(time.Hour)); c.Asset.ID != "d" {
		t.Fatalf("got %s, want the never-played d", c.Asset.ID)
	}
}

func TestArtistSeparation(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("x1", "X"), music("x2", "X"), music("y1", "Y"), music("n1", ""), music("n2", ""))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	var got []Choice
	for i := range 5 {
		got = append(got, play(s, noon.Add(time.Duration(i)*time.Minute)))
	}
	// x1, then not X (y1), then x2, then the two without an artist, which never conflict.
	if want := []string{"x1", "y1", "x2", "n1", "n2"}; !slices.Equal(ids(got), want) {
		t.Fatalf("order %v, want %v", ids(got), want)
	}

	// Only one artist eligible: it repeats, and says so.
	s2 := newSel(t, "UTC")
	load(t, s2, "p", music("x1", "X"), music("x2", "X"), music("y1", "Y"))
	sched(t, s2, Schedule{ID: "s", PlaylistID: "p"})
	s2.SetPresent("sha-y1", false)
	a, b := play(s2, noon), play(s2, noon.Add(time.Minute))
	if a.Asset.ID != "x1" || b.Asset.ID != "x2" || b.Reason != ReasonArtistRepeat {
		t.Fatalf("got %v then %v, want x1 then x2 as an artist repeat", a, b)
	}
}

func TestBlobPresence(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	s.SetPresent("sha-a", false)
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "b" {
		t.Fatalf("got %v, want b: a's blob is absent", c)
	}
	s.SetPresent("sha-b", false)
	if c := s.Next(trustedtime.Exact(noon)); c.Level != LevelBuiltin || c.Reason != ReasonNothingEligible {
		t.Fatalf("got %v, want builtin", c)
	}
	s.SetPresent("sha-a", true)
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "a" {
		t.Fatalf("got %v, want a back", c)
	}
	// Presence known before the asset: a blob verified at boot, catalog loaded after.
	s.SetPresent("sha-z", true)
	if err := s.UpsertAsset(music("z", "Z")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertPlaylist(Playlist{ID: "p", AssetIDs: []string{"z", "a"}}); err != nil {
		t.Fatal(err)
	}
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "z" {
		t.Fatalf("got %v, want z", c)
	}
}

func TestValidityBoundariesToTheSecond(t *testing.T) {
	from := utc("2026-05-05T12:00:00Z")
	until := utc("2026-05-05T13:00:00Z")
	a := music("w", "W")
	a.Duration = time.Minute
	a.ValidFrom, a.ValidUntil = from, until
	lastStart := until.Add(-time.Minute) // the play must end by valid_until
	cases := []struct {
		name string
		iv   trustedtime.Interval
		want bool
	}{
		{"a nanosecond before valid_from", trustedtime.Exact(from.Add(-time.Nanosecond)), false},
		{"at valid_from", trustedtime.Exact(from), true},
		{"last start that ends at valid_until", trustedtime.Exact(lastStart), true},
		{"within that second", trustedtime.Exact(lastStart.Add(999 * time.Millisecond)), true},
		{"one second later: it would end after valid_until", trustedtime.Exact(lastStart.Add(time.Second)), false},
		{"at valid_until", trustedtime.Exact(until), false},
		{"uncertain interval across valid_from", trustedtime.Interval{Lo: from.Add(-time.Second), Hi: from.Add(time.Second), Wall: from}, false},
		{"uncertain interval across the last start", trustedtime.Interval{Lo: lastStart.Add(-time.Second), Hi: lastStart.Add(time.Second), Wall: lastStart}, false},
		{"no upper bound", trustedtime.Interval{Lo: from.Add(time.Minute), Wall: from}, false},
	}
	for _, tc := range cases {
		s := newSel(t, "UTC")
		load(t, s, "p", a)
		sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
		c := s.Next(tc.iv)
		if got := c.Asset.ID == "w"; got != tc.want {
			t.Errorf("%s: chose %v, want eligible=%v", tc.name, c, tc.want)
		}
		if got := Playable(&a, tc.iv); got != tc.want {
			t.Errorf("%s: Playable = %v", tc.name, got)
		}
	}
}

// A window opens and closes while the selector runs: parked assets come back when Lo reaches ValidFrom, expired ones
// never do, and a plan from an earlier instant sees them again.
func TestWindowsOpenAndExpire(t *testing.T) {
	s := newSel(t, "UTC")
	a, b := music("a", "A"), music("b", "B")
	b.ValidFrom = noon.Add(10 * time.Minute)
	b.ValidUntil = noon.Add(20 * time.Minute)
	load(t, s, "p", b, a)
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	got := map[string]string{}
	for m := 0; m < 30; m += 3 {
		at := noon.Add(time.Duration(m) * time.Minute)
		got[at.Format("15:04")] = s.Next(trustedtime.Exact(at)).Asset.ID
	}
	want := map[string]string{"12:00": "a", "12:03": "a", "12:06": "a", "12:09": "a", "12:12": "b", "12:15": "b",
		"12:18": "a", "12:21": "a", "12:24": "a", "12:27": "a"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("at %s chose %q, want %q", k, got[k], v)
		}
	}
	plan, err := s.Plan(noon.Add(11*time.Minute), noon.Add(12*time.Minute))
	if err != nil || len(plan) != 1 || plan[0].Choice.Asset.ID != "b" {
		t.Fatalf("plan from an earlier instant: %v %v", plan, err)
	}
}

func TestTrustedTimeWithWrongWallClock(t *testing.T) {
	floor := utc("2026-05-05T12:00:00Z")
	undated, dated, started := music("undated", "U"), music("dated", "D"), music("started", "S")
	dated.ValidUntil = floor.AddDate(0, 1, 0)
	started.ValidFrom = floor.AddDate(0, -1, 0)
	newZone := func(t *testing.T) *Selector {
		s := newSel(t, "Europe/Lisbon")
		load(t, s, "day", dated, started, undated)
		sched(t, s, Schedule{ID: "s", PlaylistID: "day", Start: MustClock("09:00"), End: MustClock("21:00")})
		if err := s.UpsertPlaylist(Playlist{ID: "night", AssetIDs: []string{"undated"}}); err != nil {
			t.Fatal(err)
		}
		sched(t, s, Schedule{ID: "n", PlaylistID: "night", Start: MustClock("21:00"), End: MustClock("09:00")})
		return s
	}
	eligible := func(s *Selector, iv trustedtime.Interval) []string {
		var out []string
		for range 3 {
			c := s.Next(iv)
			out = append(out, c.Asset.ID)
			s.Played(c, iv.Now())
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	t.Run("wall clock behind the floor", func(t *testing.T) {
		clk, _ := trustedtime.New(trustedtime.DefaultConfig(), trustedtime.State{Floor: floor})
		iv := clk.Interval(trustedtime.Reading{Wall: time.Unix(0, 0), Mono: time.Second})
		s := newZone(t)
		// The schedule resolves at the floor (13:00 in Lisbon: the day playlist), not at 1970 (01:00: night).
		if got := eligible(s, iv); !slices.Equal(got, []string{"started", "undated"}) {
			t.Fatalf("played %v: an asset with an end date must pause with no upper bound", got)
		}
		if iv.Status().Problem != trustedtime.WallBehind {
			t.Fatalf("status %v", iv.Status())
		}
	})
	t.Run("wall clock a year ahead, not synced", func(t *testing.T) {
		clk, _ := trustedtime.New(trustedtime.DefaultConfig(), trustedtime.State{Floor: floor})
		iv := clk.Interval(trustedtime.Reading{Wall: floor.AddDate(1, 0, 0), Mono: time.Second})
		if got := eligible(newZone(t), iv); !slices.Equal(got, []string{"started", "undated"}) {
			t.Fatalf("played %v: the dated asset may have expired", got)
		}
		// A sync proves the time: the dated asset is back, and the wall clock is reported as ahead.
		if err := clk.ObserveSync(floor.Add(time.Minute), time.Second, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		iv = clk.Interval(trustedtime.Reading{Wall: floor.AddDate(1, 0, 0), Mono: 3 * time.Second})
		if got := eligible(newZone(t), iv); !slices.Equal(got, []string{"dated", "started", "undated"}) {
			t.Fatalf("after sync played %v", got)
		}
		if st := iv.Status(); st.Problem != trustedtime.WallAhead {
			t.Fatalf("status %v", st)
		}
	})
	t.Run("wall clock drifting after a sync", func(t *testing.T) {
		clk, _ := trustedtime.New(trustedtime.DefaultConfig(), trustedtime.State{})
		sync := utc("2026-05-05T20:50:00Z") // 21:50 in Lisbon
		_ = clk.ObserveSync(sync, 0, 0)
		// Ten hours later the wall clock runs 2% fast: 12 minutes ahead, so it would read 07:50 + 0:12 local...
		iv := clk.Interval(trustedtime.Reading{Wall: sync.Add(10*time.Hour + 12*time.Minute), Mono: 10 * time.Hour})
		if iv.Status().Problem != trustedtime.WallAhead {
			t.Fatalf("status %v", iv.Status())
		}
		// ...and schedules resolve at Lo, 07:49:56 local: still the night playlist.
		s := newZone(t)
		if c := s.Next(iv); c.Schedule != "n" || c.Asset.ID != "undated" {
			t.Fatalf("chose %v, want the night schedule at trusted time", c)
		}
	})
}

func TestSpotsEveryNTracks(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	load(t, s, "ads", spot("s1"), spot("s2"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", EveryNTracks: 3}}})
	var got []Choice
	for i := range 10 {
		got = append(got, play(s, noon.Add(time.Duration(i)*3*time.Minute)))
	}
	want := []string{"a", "b", "a", "s1", "b", "a", "b", "s2", "a", "b"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("order %v, want %v", ids(got), want)
	}
	if c := got[3]; c.Level != LevelSpot || c.Reason != ReasonSpotEveryTracks || c.SpotRule != 0 || c.Playlist != "ads" {
		t.Fatalf("spot choice %v", c)
	}
	// Artist separation spans the spot: b (after a) then the spot then a (not b? b was before the spot).
	if got[4].Asset.ID == got[2].Asset.ID {
		t.Fatal("same artist across a spot")
	}
}

func TestSpotsEveryNMinutes(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	load(t, s, "ads", spot("s1"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", EveryNMinutes: 10}}})
	plan, err := s.Plan(noon, noon.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var spots []string
	for _, e := range plan {
		if e.Choice.Level == LevelSpot {
			spots = append(spots, e.Start.Format("15:04:05"))
			if e.Choice.Reason != ReasonSpotEveryMinutes {
				t.Fatalf("reason %v", e.Choice.Reason)
			}
		}
	}
	// Tracks of 3 minutes from 12:00: the first boundary 10 minutes after the first track is 12:12; then 10
	// minutes after that spot's start: 12:12:30 + 3 x 3 min = 12:21:30 is not yet 10 minutes, 12:24:30 is.
	if want := []string{"12:12:00", "12:24:30"}; !slices.Equal(spots, want) {
		t.Fatalf("spots at %v, want %v", spots, want)
	}
	if c := s.Next(trustedtime.Exact(noon)); c.Level != LevelScheduled {
		t.Fatalf("Plan changed the selector: %v", c)
	}
}

func TestSpotsAtFixedTimes(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	load(t, s, "ads", spot("s1"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p",
		Spots: []SpotRule{{PlaylistID: "ads", At: []ClockTime{MustClock("12:00"), MustClock("12:30")}}}})
	steps := []struct {
		at   string
		want string
	}{
		{"11:58", "a"},  // not yet
		{"12:02", "s1"}, // first boundary after 12:00
		{"12:03", "b"},  // once
		{"12:29", "a"},  // not yet
		{"12:46", "b"},  // 12:30 + 16 minutes: past the 15-minute window, skipped
	}
	for _, st := range steps {
		at := utc("2026-05-05T" + st.at + ":00Z")
		c := play(s, at)
		if got := ids([]Choice{c})[0]; got != st.want {
			t.Fatalf("at %s chose %v, want %s", st.at, c, st.want)
		}
		if c.Level == LevelSpot && (c.Reason != ReasonSpotFixedTime || !c.Due.Equal(utc("2026-05-05T12:00:00Z"))) {
			t.Fatalf("spot %v due %v", c, c.Due)
		}
	}
	// The next day it plays again.
	if c := play(s, utc("2026-05-06T12:01:00Z")); c.Level != LevelSpot {
		t.Fatalf("next day: %v", c)
	}
}

func TestFixedTimeSpotsAcrossDST(t *testing.T) {
	cases := []struct {
		tz, at string
		steps  map[string]bool // instant -> spot expected
	}{
		{"Europe/Lisbon", "01:30", map[string]bool{ // skipped: due at 02:00 WEST (01:00Z)
			"2026-03-29T00:50:00Z": false, "2026-03-29T01:05:00Z": true, "2026-03-29T01:06:00Z": false}},
		{"Europe/Lisbon", "01:30", map[string]bool{ // repeated: first pass only
			"2026-10-25T00:35:00Z": true, "2026-10-25T01:35:00Z": false}},
		{"America/Sao_Paulo", "00:15", map[string]bool{ // skipped midnight hour: due at 01:00 (-02)
			"2018-11-04T02:50:00Z": false, "2018-11-04T03:10:00Z": true}},
		{"America/Sao_Paulo", "23:30", map[string]bool{ // repeated Saturday 23:xx: first pass only
			"2019-02-17T01:31:00Z": true, "2019-02-17T02:31:00Z": false}},
	}
	for _, tc := range cases {
		s := newSel(t, tc.tz)
		load(t, s, "p", music("a", "A"), music("b", "B"))
		load(t, s, "ads", spot("s1"))
		sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", At: []ClockTime{MustClock(tc.at)}}}})
		keys := make([]string, 0, len(tc.steps))
		for k := range tc.steps {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c := play(s, utc(k))
			if got := c.Level == LevelSpot; got != tc.steps[k] {
				t.Errorf("%s at %s, %s: got %v, want spot=%v", tc.tz, tc.at, k, c, tc.steps[k])
			}
		}
	}
}

func TestSpotWithNothingEligibleStaysDue(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	load(t, s, "ads", spot("s1"))
	s.SetPresent("sha-s1", false)
	sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", EveryNTracks: 1}}})
	play(s, noon)
	c := play(s, noon.Add(3*time.Minute))
	if c.Level != LevelScheduled || !c.SpotMissed {
		t.Fatalf("got %v, want a track with SpotMissed", c)
	}
	s.SetPresent("sha-s1", true)
	if c := play(s, noon.Add(6*time.Minute)); c.Level != LevelSpot {
		t.Fatalf("got %v, want the spot once it is present", c)
	}
}

func TestEmergencyIsReproducibleFromTheSeed(t *testing.T) {
	build := func(seed uint64) *Selector {
		s := newSel(t, "UTC", func(c *Config) { c.Rand = rand.NewPCG(seed, 1) })
		var es []Asset
		for i := range 50 {
			a := music("e"+string(rune('A'+i%26))+string(rune('a'+i/26)), "E")
			a.EmergencyEligible = true
			if i%5 == 0 {
				a.ValidUntil = noon.Add(-time.Hour) // expired: never drawn
			}
			es = append(es, a)
		}
		load(t, s, "emergency-pool", es...)
		s.SetPresent(es[1].SHA256, false) // absent: never drawn
		load(t, s, "p", music("m", "M"))
		s.SetPresent("sha-m", false) // the scheduled playlist has nothing eligible
		sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
		return s
	}
	draw := func(s *Selector) []string {
		var out []string
		for i := range 40 {
			c := play(s, noon.Add(time.Duration(i)*time.Minute))
			if c.Level != LevelEmergency || c.Reason != ReasonNothingEligible {
				t.Fatalf("got %v, want emergency", c)
			}
			if c.Asset.ID == "eBa" || !c.Asset.ValidUntil.IsZero() {
				t.Fatalf("drew an ineligible asset %v", c.Asset)
			}
			out = append(out, c.Asset.ID)
		}
		return out
	}
	a, b, c := draw(build(42)), draw(build(42)), draw(build(43))
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different picks:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("different seeds, same 40 picks: %v", a)
	}
}

func TestBuiltinAndSilence(t *testing.T) {
	s := newSel(t, "UTC")
	if c := s.Next(trustedtime.Exact(noon)); c.Level != LevelBuiltin || c.Reason != ReasonNoSchedule {
		t.Fatalf("empty selector: %v", c)
	}
	sched(t, s, Schedule{ID: "s", PlaylistID: "missing"})
	if c := s.Next(trustedtime.Exact(noon)); c.Level != LevelBuiltin || c.Reason != ReasonNothingEligible || c.Schedule != "s" {
		t.Fatalf("unknown playlist: %v", c)
	}
	q := newSel(t, "UTC", func(c *Config) { c.NoBuiltin = true })
	c := q.Next(trustedtime.Exact(noon))
	if c.Level != LevelSilence {
		t.Fatalf("no builtin: %v", c)
	}
	q.Played(c, noon) // changes nothing
	if h := q.History(); h.TracksSinceSpot != 0 || len(h.Plays) != 0 {
		t.Fatalf("silence recorded: %+v", h)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	build := func() *Selector {
		s := newSel(t, "UTC")
		load(t, s, "p", music("a", "A"), music("b", "A"), music("c", "C"), music("d", "D"))
		load(t, s, "ads", spot("s1"))
		sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", EveryNTracks: 3,
			At: []ClockTime{MustClock("12:10")}}}})
		return s
	}
	s := build()
	at := noon
	for range 5 {
		play(s, at)
		at = at.Add(3 * time.Minute)
	}
	h := s.History()
	r := build()
	if err := r.SetHistory(h); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		t0 := at.Add(time.Duration(i) * 3 * time.Minute)
		if a, b := play(s, t0), play(r, t0); a.Asset.ID != b.Asset.ID || a.Level != b.Level {
			t.Fatalf("step %d: original %v, restored %v", i, a, b)
		}
	}
	// A history naming assets not known yet keeps their rank until they arrive.
	q := newSel(t, "UTC")
	if err := q.SetHistory(History{Plays: []PlayMark{{Asset: "a", At: noon}}}); err != nil {
		t.Fatal(err)
	}
	load(t, q, "p", music("a", "A"), music("b", "B"))
	sched(t, q, Schedule{ID: "s", PlaylistID: "p"})
	if c := q.Next(trustedtime.Exact(noon)); c.Asset.ID != "b" {
		t.Fatalf("got %v, want b: a was played before the restart", c)
	}
	if err := q.SetHistory(History{TracksSinceSpot: -1}); err == nil {
		t.Fatal("accepted a negative count")
	}
	if err := q.SetHistory(History{Plays: []PlayMark{{}}}); err == nil {
		t.Fatal("accepted a mark without asset")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	bad := []Asset{
		{Kind: Music},
		{ID: "a", Kind: 9},
		{ID: "a", Kind: Music, Duration: -1},
		{ID: "a", Kind: Music, ValidFrom: noon, ValidUntil: noon.Add(-time.Second)},
	}
	for _, a := range bad {
		if err := s.UpsertAsset(a); err == nil {
			t.Errorf("accepted %+v", a)
		}
	}
	if err := s.UpsertPlaylist(Playlist{}); err == nil {
		t.Error("accepted a playlist without id")
	}
	if err := s.UpsertPlaylist(Playlist{ID: "p", AssetIDs: []string{""}}); err == nil {
		t.Error("accepted an empty asset id")
	}
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "a" {
		t.Fatalf("state changed: %v", c)
	}
	for _, cfg := range []func(*Config){
		func(c *Config) { c.Rand = nil },
		func(c *Config) { c.Store.TimeZone = "Mars/Olympus" },
		func(c *Config) { c.Store.TimeZone = "" },
		func(c *Config) { c.FixedWindow = time.Second },
		func(c *Config) { c.ArtistLookahead = -1 },
	} {
		c := DefaultConfig()
		c.Store.TimeZone, c.Rand = "UTC", rand.NewPCG(1, 1)
		cfg(&c)
		if _, err := NewSelector(c); err == nil {
			t.Errorf("accepted config %+v", c)
		}
	}
}

func TestRemoveAssetAndPlaylist(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	s.RemoveAsset("a")
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "b" {
		t.Fatalf("got %v after removing a", c)
	}
	// The slot is reused by a new asset, which must not inherit a's place or history.
	load(t, s, "q", music("c", "C"))
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "b" {
		t.Fatalf("got %v: c is not in p", c)
	}
	s.RemovePlaylist("p")
	if c := s.Next(trustedtime.Exact(noon)); c.Level != LevelBuiltin {
		t.Fatalf("got %v after removing the playlist", c)
	}
	sched(t, s, Schedule{ID: "s", PlaylistID: "q"})
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "c" {
		t.Fatalf("got %v from q", c)
	}
}

func TestFixedTimeAcrossMidnight(t *testing.T) {
	s := newSel(t, "America/Sao_Paulo")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	load(t, s, "ads", spot("s1"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "ads", At: []ClockTime{MustClock("23:55")}}}})
	// 00:05 on 2026-05-06 in Sao Paulo (-03) is 10 minutes after 23:55 of the day before.
	c := play(s, utc("2026-05-06T03:05:00Z"))
	if c.Level != LevelSpot || !c.Due.Equal(utc("2026-05-06T02:55:00Z")) {
		t.Fatalf("got %v due %v", c, c.Due)
	}
	if c := play(s, utc("2026-05-06T03:06:00Z")); c.Level != LevelScheduled {
		t.Fatalf("played twice: %v", c)
	}
}

func TestPlanLeavesSelectorAndIsBounded(t *testing.T) {
	s := newSel(t, "UTC", func(c *Config) { c.MaxPlanEntries = 5 })
	load(t, s, "p", music("a", "A"), music("b", "B"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	before := s.History()
	plan, err := s.Plan(noon, noon.Add(time.Hour))
	if err != ErrPlanTruncated || len(plan) != 5 {
		t.Fatalf("plan of %d entries, err %v", len(plan), err)
	}
	for i, e := range plan {
		if want := noon.Add(time.Duration(i) * 3 * time.Minute); !e.Start.Equal(want) || e.Length != 3*time.Minute {
			t.Fatalf("entry %d: %v +%v, want %v +3m", i, e.Start, e.Length, want)
		}
	}
	if after := s.History(); len(after.Plays) != len(before.Plays) || after.TracksSinceSpot != before.TracksSinceSpot {
		t.Fatalf("Plan changed the history: %+v", after)
	}
	// A builtin plan steps by BuiltinLength.
	q := newSel(t, "UTC")
	plan, err = q.Plan(noon, noon.Add(time.Minute))
	if err != nil || len(plan) != 2 || plan[1].Start != noon.Add(30*time.Second) || plan[0].Choice.Level != LevelBuiltin {
		t.Fatalf("builtin plan %v %v", plan, err)
	}
}

func TestPlayedAfterRemovalIsIgnored(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"), music("b", "B"))
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	c := s.Next(trustedtime.Exact(noon))
	s.RemoveAsset(c.Asset.ID)
	s.Played(c, noon)
	if h := s.History(); len(h.Plays) != 0 || h.TracksSinceSpot != 1 {
		t.Fatalf("history %+v", h)
	}
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "b" {
		t.Fatalf("got %v", c)
	}
}

func TestCoveredUntilAndCounts(t *testing.T) {
	s := newSel(t, "UTC")
	a, b := music("a", "A"), music("b", "B")
	a.ValidUntil = noon.Add(30 * time.Minute)
	b.ValidUntil = noon.Add(45 * time.Minute)
	c := music("c", "C")
	c.ValidFrom = noon.Add(24 * time.Hour)
	load(t, s, "p", a, b, c)
	s.SetPresent("sha-c", false)
	sched(t, s, Schedule{ID: "s", PlaylistID: "p"})
	got, err := s.CoveredUntil(noon, 24*time.Hour)
	// Tracks of 3 minutes alternate a and b; b's last start that ends by 12:45 is 12:42, a's by 12:30 is 12:27.
	// a, b, ... from 12:00: a at 12:24, b at 12:27, then b alone (artist repeat) at 12:30 ... 12:42, nothing at 12:45.
	if err != nil || !got.Equal(noon.Add(45*time.Minute)) {
		t.Fatalf("covered until %v (%v), want 12:45", got, err)
	}
	if got, _ := s.CoveredUntil(noon, 10*time.Minute); !got.Equal(noon.Add(10 * time.Minute)) {
		t.Fatalf("within the horizon: %v", got)
	}
	s.Next(trustedtime.Exact(noon.Add(time.Hour))) // sets a and b aside as expired
	want := Counts{Assets: 3, Absent: 1, Expired: 2, Playlists: 1, Schedules: 1}
	if got := s.Counts(); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
}

func TestUpsertCopiesCallerSlices(t *testing.T) {
	s := newSel(t, "UTC")
	load(t, s, "p", music("a", "A"))
	ids := []string{"a"}
	if err := s.UpsertPlaylist(Playlist{ID: "q", AssetIDs: ids}); err != nil {
		t.Fatal(err)
	}
	days := []time.Weekday{time.Tuesday}
	sched(t, s, Schedule{ID: "s", PlaylistID: "q", Weekdays: days})
	ids[0], days[0] = "zzz", time.Sunday
	if c := s.Next(trustedtime.Exact(noon)); c.Asset.ID != "a" {
		t.Fatalf("caller's slices leaked into the selector: %v", c)
	}
}
