package schedule

import (
	"slices"
	"testing"
	"time"
)

func TestCivilRoundTrip(t *testing.T) {
	for day := int64(-800000); day < 800000; day += 37 {
		y, m, d := civilFromDays(day)
		if got := daysFromCivil(y, m, d); got != day {
			t.Fatalf("day %d -> %d-%d-%d -> %d", day, y, m, d, got)
		}
		tm := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if tm.Unix() != day*86400 || tm.Weekday() != weekdayOf(day) {
			t.Fatalf("day %d: %v, weekday %v", day, tm, weekdayOf(day))
		}
	}
}

func TestInstantOfAcrossDST(t *testing.T) {
	cases := []struct {
		tz, date, at string
		want         string
	}{
		{"Europe/Lisbon", "2026-03-29", "00:30", "2026-03-29T00:30:00Z"},
		{"Europe/Lisbon", "2026-03-29", "01:30", "2026-03-29T01:00:00Z"}, // skipped: end of the gap (02:00 WEST)
		{"Europe/Lisbon", "2026-03-29", "02:30", "2026-03-29T01:30:00Z"},
		{"Europe/Lisbon", "2026-10-25", "01:30", "2026-10-25T00:30:00Z"}, // repeated: first occurrence (WEST)
		{"Europe/Lisbon", "2026-10-25", "02:30", "2026-10-25T02:30:00Z"},
		{"America/Sao_Paulo", "2018-11-04", "00:15", "2018-11-04T03:00:00Z"}, // midnight skipped: day starts 01:00
		{"America/Sao_Paulo", "2018-11-04", "01:00", "2018-11-04T03:00:00Z"},
		{"America/Sao_Paulo", "2018-11-03", "23:30", "2018-11-04T02:30:00Z"},
		{"America/Sao_Paulo", "2019-02-16", "23:30", "2019-02-17T01:30:00Z"}, // repeated: first occurrence (-02)
		{"America/Sao_Paulo", "2019-02-17", "00:30", "2019-02-17T03:30:00Z"},
	}
	for _, tc := range cases {
		loc, err := time.LoadLocation(tc.tz)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := ParseDate(tc.date)
		got := instantOf(dayNumber(d), int(MustClock(tc.at)), loc)
		if !got.Equal(utc(tc.want)) {
			t.Errorf("%s %s %s: got %s, want %s", tc.tz, tc.date, tc.at, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
}

// dstSchedules is one week-long set used on both zones' DST days:
//   - day: all day, priority 0
//   - night: 22:00-02:00 (crosses midnight), priority 1
//   - early: 01:00-01:30, priority 2 (inside Lisbon's skipped and repeated hours)
//   - satnight: Saturdays 23:00-01:00, priority 3 (its after-midnight part belongs to Saturday)
//   - promo: 2026-03-29 only, 10:00-12:00, priority 5
func dstSchedules(t *testing.T, s *Selector) {
	for _, sc := range []Schedule{
		{ID: "day", PlaylistID: "p-day"},
		{ID: "night", PlaylistID: "p-night", Priority: 1, Start: MustClock("22:00"), End: MustClock("02:00")},
		{ID: "early", PlaylistID: "p-early", Priority: 2, Start: MustClock("01:00"), End: MustClock("01:30")},
		{ID: "satnight", PlaylistID: "p-sat", Priority: 3, Weekdays: []time.Weekday{time.Saturday},
			Start: MustClock("23:00"), End: MustClock("01:00")},
		{ID: "promo", PlaylistID: "p-promo", Priority: 5, DateFrom: Date{2026, 3, 29}, DateTo: Date{2026, 3, 29},
			Start: MustClock("10:00"), End: MustClock("12:00")},
	} {
		sched(t, s, sc)
	}
}

func TestResolveDSTDays(t *testing.T) {
	cases := []struct {
		tz, at, want, why string
	}{
		// Lisbon, 2026-03-29 (a Sunday): 01:00 WET jumps to 02:00 WEST at 01:00Z.
		{"Europe/Lisbon", "2026-03-28T22:30:00Z", "night", "Saturday 22:30 WET"},
		{"Europe/Lisbon", "2026-03-28T23:30:00Z", "satnight", "Saturday 23:30"},
		{"Europe/Lisbon", "2026-03-29T00:30:00Z", "satnight", "00:30 Sunday belongs to Saturday's part"},
		{"Europe/Lisbon", "2026-03-29T00:59:59Z", "satnight", "00:59:59 WET Sunday"},
		{"Europe/Lisbon", "2026-03-29T01:00:00Z", "day", "02:00 WEST: early's hour was skipped, night ends an hour short"},
		{"Europe/Lisbon", "2026-03-29T01:15:00Z", "day", "02:15 WEST"},
		{"Europe/Lisbon", "2026-03-29T09:30:00Z", "promo", "10:30 WEST on the promo date"},
		{"Europe/Lisbon", "2026-03-30T09:30:00Z", "day", "the day after the promo"},
		// Lisbon, 2026-10-25 (a Sunday): 02:00 WEST goes back to 01:00 WET at 01:00Z; 01:00-01:59 happens twice.
		{"Europe/Lisbon", "2026-10-25T00:15:00Z", "early", "01:15 WEST, first pass"},
		{"Europe/Lisbon", "2026-10-25T00:45:00Z", "night", "01:45 WEST"},
		{"Europe/Lisbon", "2026-10-25T01:15:00Z", "early", "01:15 WET, second pass: early happens again"},
		{"Europe/Lisbon", "2026-10-25T01:45:00Z", "night", "01:45 WET: night is an hour longer"},
		{"Europe/Lisbon", "2026-10-25T02:00:00Z", "day", "02:00 WET"},
		// Sao Paulo, 2018-11-04: midnight (-03) jumped to 01:00 (-02) at 03:00Z. 2018-11-03 was a Saturday.
		{"America/Sao_Paulo", "2018-11-04T01:30:00Z", "night", "22:30 Saturday"},
		{"America/Sao_Paulo", "2018-11-04T02:30:00Z", "satnight", "23:30 Saturday"},
		{"America/Sao_Paulo", "2018-11-04T02:59:59Z", "satnight", "23:59:59 Saturday"},
		{"America/Sao_Paulo", "2018-11-04T03:00:00Z", "early", "01:00 Sunday: satnight's after-midnight hour was skipped"},
		{"America/Sao_Paulo", "2018-11-04T03:30:00Z", "night", "01:30 Sunday"},
		{"America/Sao_Paulo", "2018-11-04T03:59:00Z", "night", "01:59 Sunday belongs to Saturday's night"},
		{"America/Sao_Paulo", "2018-11-04T04:00:00Z", "day", "02:00 Sunday"},
		// Sao Paulo, 2019-02-17: midnight (-02) went back to 23:00 (-03) at 02:00Z; Saturday 23:00-23:59 twice.
		{"America/Sao_Paulo", "2019-02-17T00:30:00Z", "night", "22:30 Saturday (-02)"},
		{"America/Sao_Paulo", "2019-02-17T01:30:00Z", "satnight", "23:30 Saturday, first pass"},
		{"America/Sao_Paulo", "2019-02-17T02:30:00Z", "satnight", "23:30 Saturday, second pass"},
		{"America/Sao_Paulo", "2019-02-17T03:30:00Z", "satnight", "00:30 Sunday belongs to Saturday's part"},
		{"America/Sao_Paulo", "2019-02-17T04:00:00Z", "early", "01:00 Sunday"},
		{"America/Sao_Paulo", "2019-02-17T04:45:00Z", "night", "01:45 Sunday"},
		{"America/Sao_Paulo", "2019-02-17T05:00:00Z", "day", "02:00 Sunday"},
	}
	for _, tc := range cases {
		s := newSel(t, tc.tz)
		dstSchedules(t, s)
		got, ok := s.Active(utc(tc.at))
		if !ok || got.ID != tc.want {
			t.Errorf("%s %s (%s): active %q, want %q", tc.tz, tc.at, tc.why, got.ID, tc.want)
		}
	}
}

func TestResolveScopeAndPriority(t *testing.T) {
	s := newSel(t, "UTC")
	for _, sc := range []Schedule{
		{ID: "b-tenant", PlaylistID: "p"},
		{ID: "c-store", PlaylistID: "p", Store: "store-1"},
		{ID: "d-zone", PlaylistID: "p", Store: "store-1", Zone: "zone-1"},
		{ID: "a-other-zone", PlaylistID: "p", Store: "store-1", Zone: "zone-2", Priority: 9},
		{ID: "a-other-store", PlaylistID: "p", Store: "store-2", Priority: 9},
	} {
		sched(t, s, sc)
	}
	at := utc("2026-05-05T10:00:00Z")
	if got, _ := s.Active(at); got.ID != "d-zone" {
		t.Fatalf("same priority: %q, want the zone's own", got.ID)
	}
	s.RemoveSchedule("d-zone")
	if got, _ := s.Active(at); got.ID != "c-store" {
		t.Fatalf("%q, want the store's", got.ID)
	}
	sched(t, s, Schedule{ID: "a-tenant-high", PlaylistID: "p", Priority: 1})
	if got, _ := s.Active(at); got.ID != "a-tenant-high" {
		t.Fatalf("%q, want the higher priority", got.ID)
	}
	sched(t, s, Schedule{ID: "0-tenant-high", PlaylistID: "p", Priority: 1})
	if got, _ := s.Active(at); got.ID != "0-tenant-high" {
		t.Fatalf("%q, want the lowest id among equals", got.ID)
	}
}

func TestScheduleValidation(t *testing.T) {
	bad := []Schedule{
		{PlaylistID: "p"},
		{ID: "x"},
		{ID: "x", PlaylistID: "p", Zone: "z"},
		{ID: "x", PlaylistID: "p", Start: 1440},
		{ID: "x", PlaylistID: "p", DateFrom: Date{2026, 2, 30}},
		{ID: "x", PlaylistID: "p", DateFrom: Date{2026, 3, 2}, DateTo: Date{2026, 3, 1}},
		{ID: "x", PlaylistID: "p", Weekdays: []time.Weekday{7}},
		{ID: "x", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "s"}}},
		{ID: "x", PlaylistID: "p", Spots: []SpotRule{{EveryNTracks: 3}}},
		{ID: "x", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "s", EveryNTracks: -1}}},
		{ID: "x", PlaylistID: "p", Spots: []SpotRule{{PlaylistID: "s", At: []ClockTime{-1}}}},
	}
	s := newSel(t, "UTC")
	for _, sc := range bad {
		if err := s.UpsertSchedule(sc); err == nil {
			t.Errorf("accepted %+v", sc)
		}
	}
	if _, ok := s.Active(utc("2026-05-05T10:00:00Z")); ok {
		t.Fatal("a rejected schedule changed the state")
	}
	for _, in := range []string{"24:00", "1:00", "12:60", "ab:cd", ""} {
		if _, err := ParseClock(in); err == nil {
			t.Errorf("ParseClock(%q) accepted", in)
		}
	}
	if _, err := ParseDate("2026-13-01"); err == nil {
		t.Error("ParseDate accepted month 13")
	}
}

// TestScheduledPlaylists lists the playlists of the schedules in the zone's scope, spot rules' included, and
// none of a schedule scoped to another store or zone.
func TestScheduledPlaylists(t *testing.T) {
	s := newSel(t, "UTC")
	sched(t, s, Schedule{ID: "tenant", PlaylistID: "pl-tenant", Spots: []SpotRule{{PlaylistID: "pl-spots", EveryNTracks: 3}}})
	sched(t, s, Schedule{ID: "store", Store: "store-1", PlaylistID: "pl-store", Spots: []SpotRule{{PlaylistID: "pl-spots", EveryNTracks: 5}}})
	sched(t, s, Schedule{ID: "zone", Store: "store-1", Zone: "zone-1", PlaylistID: "pl-zone"})
	sched(t, s, Schedule{ID: "other-zone", Store: "store-1", Zone: "zone-2", PlaylistID: "pl-other-zone"})
	sched(t, s, Schedule{ID: "other-store", Store: "store-2", PlaylistID: "pl-other-store",
		Spots: []SpotRule{{PlaylistID: "pl-other-spots", EveryNTracks: 2}}})
	got := s.ScheduledPlaylists()
	want := []string{"pl-spots", "pl-store", "pl-tenant", "pl-zone"}
	if !slices.Equal(got, want) {
		t.Errorf("ScheduledPlaylists() = %q, want %q", got, want)
	}
	s.RemoveSchedule("zone")
	if got := s.ScheduledPlaylists(); slices.Contains(got, "pl-zone") {
		t.Errorf("after removing the zone schedule: %q", got)
	}
}
