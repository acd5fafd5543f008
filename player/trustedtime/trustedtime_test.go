package trustedtime

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, st State) *Clock {
	t.Helper()
	c, err := New(DefaultConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{DriftPPM: -1}, {DriftPPM: 20000}, {Slack: -time.Second}, {Slack: time.Hour}} {
		if _, err := New(cfg, State{}); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestIntervalSignals(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		name    string
		floor   time.Time
		sync    bool          // a direct sync at mono 10s, answered in 200ms, origin time t0
		relay   time.Time     // a relayed signed time received at mono 10s
		wall    time.Time     // wall clock read at mono 10s+elapsed
		elapsed time.Duration // monotonic time since the signals
		wantLo  time.Time
		wantHi  time.Time
		problem Problem
	}{
		{name: "first boot, clock at 1970, nothing known", wall: time.Unix(0, 0), problem: Unknown},
		{name: "reboot, wall clock behind floor", floor: t0, wall: time.Unix(0, 0), wantLo: t0, problem: WallBehind},
		{name: "reboot, wall clock ahead of floor is the upper bound", floor: t0, wall: t0.Add(hour), wantLo: t0,
			wantHi: t0.Add(hour), problem: OK},
		{name: "reboot, wall clock a year ahead: unproven, believed only as upper bound", floor: t0,
			wall: t0.AddDate(1, 0, 0), wantLo: t0, wantHi: t0.AddDate(1, 0, 0), problem: OK},
		{name: "synced, wall clock a year ahead is not believed", sync: true, wall: t0.AddDate(1, 0, 0), elapsed: hour,
			wantLo: t0.Add(hour - 360*time.Millisecond), wantHi: t0.Add(hour + 360*time.Millisecond + 200*time.Millisecond + 2*time.Second + 20*time.Microsecond),
			problem: WallAhead},
		{name: "synced, wall clock drifting 1% fast is caught after an hour", sync: true,
			wall: t0.Add(hour + 36*time.Second), elapsed: hour,
			wantLo: t0.Add(hour - 360*time.Millisecond), wantHi: t0.Add(hour + 360*time.Millisecond + 200*time.Millisecond + 2*time.Second + 20*time.Microsecond),
			problem: WallAhead},
		{name: "synced, wall clock behind floor", sync: true, floor: t0.Add(-hour), wall: time.Unix(0, 0),
			wantLo: t0, wantHi: t0.Add(200*time.Millisecond + 2*time.Second + 20*time.Microsecond), problem: WallBehind},
		{name: "relayed time raises lo only", relay: t0, wall: time.Unix(0, 0), elapsed: hour,
			wantLo: t0.Add(hour - 360*time.Millisecond), problem: WallBehind},
		{name: "relayed time older than floor changes nothing", floor: t0, relay: t0.Add(-hour), wall: t0,
			wantLo: t0, wantHi: t0, problem: OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, State{Floor: tc.floor})
			const at = 10 * time.Second
			if tc.sync {
				if err := c.ObserveSync(t0, at-200*time.Millisecond, at); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.relay.IsZero() {
				c.ObserveRelayed(tc.relay, at)
			}
			iv := c.Interval(Reading{Wall: tc.wall, Mono: at + tc.elapsed})
			if !iv.Lo.Equal(tc.wantLo) {
				t.Errorf("Lo = %v, want %v", iv.Lo, tc.wantLo)
			}
			if !iv.Hi.Equal(tc.wantHi) {
				t.Errorf("Hi = %v, want %v", iv.Hi, tc.wantHi)
			}
			st := iv.Status()
			if st.Problem != tc.problem {
				t.Errorf("problem = %v (%s), want %v", st.Problem, st, tc.problem)
			}
			if st.String() == "" {
				t.Error("empty status line")
			}
		})
	}
}

func TestObserveSyncRejectsReversedSample(t *testing.T) {
	c := mustNew(t, State{})
	if err := c.ObserveSync(t0, 5*time.Second, 4*time.Second); err != ErrBadSample {
		t.Fatalf("err = %v, want ErrBadSample", err)
	}
	if c.Synced() {
		t.Fatal("a rejected sample synced the clock")
	}
}

func TestTighterSampleWins(t *testing.T) {
	c := mustNew(t, State{})
	_ = c.ObserveSync(t0, 0, 5*time.Second) // slow answer: wide Hi
	wide := c.Interval(Reading{Mono: 10 * time.Second}).Hi
	_ = c.ObserveSync(t0.Add(9*time.Second), 9*time.Second, 9*time.Second+10*time.Millisecond)
	tight := c.Interval(Reading{Mono: 10 * time.Second}).Hi
	if !tight.Before(wide) {
		t.Fatalf("tight sample did not tighten Hi: %v vs %v", tight, wide)
	}
	// A later but slower answer must not widen it again.
	_ = c.ObserveSync(t0.Add(10*time.Second), 10*time.Second, 20*time.Second)
	if got := c.Interval(Reading{Mono: 20 * time.Second}).Hi; got.After(tight.Add(10*time.Second + 10*time.Millisecond)) {
		t.Fatalf("slow sample widened Hi to %v", got)
	}
}

func TestFloorPersistsAcrossReboot(t *testing.T) {
	c := mustNew(t, State{})
	_ = c.ObserveSync(t0, 0, 0)
	st := c.State(Reading{Wall: time.Unix(0, 0), Mono: time.Hour})
	// Reboot with the clock reset: the floor is what the last boot proved.
	c2 := mustNew(t, st)
	iv := c2.Interval(Reading{Wall: time.Unix(0, 0), Mono: 0})
	if !iv.Lo.Equal(st.Floor) || !iv.Hi.IsZero() {
		t.Fatalf("after reboot: %+v, floor %v", iv, st.Floor)
	}
	if iv.Now() != st.Floor {
		t.Fatalf("Now = %v, want the floor", iv.Now())
	}
	cfg := DefaultConfig()
	cfg.Epoch = t0.AddDate(1, 0, 0)
	c3, _ := New(cfg, st)
	if got := c3.Interval(Reading{}).Lo; !got.Equal(cfg.Epoch) {
		t.Fatalf("Epoch not applied: Lo = %v", got)
	}
}

func TestEligibleToTheSecond(t *testing.T) {
	until := time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		iv   Interval
		want bool
	}{
		{"inside", Exact(from.Add(time.Hour)), true},
		{"at valid_from", Exact(from), true},
		{"a nanosecond before valid_from", Exact(from.Add(-time.Nanosecond)), false},
		{"at valid_until", Exact(until), true},
		{"within the last second", Exact(until.Add(999 * time.Millisecond)), true},
		{"one second after valid_until", Exact(until.Add(time.Second)), false},
		{"interval straddles valid_until", Interval{Lo: until.Add(-time.Minute), Hi: until.Add(time.Second)}, false},
		{"interval straddles valid_from", Interval{Lo: from.Add(-time.Second), Hi: from.Add(time.Minute)}, false},
		{"hi unknown", Interval{Lo: from.Add(time.Hour)}, false},
		{"lo unknown", Interval{Hi: from.Add(time.Hour)}, false},
	}
	for _, tc := range cases {
		if got := tc.iv.Eligible(from, until); got != tc.want {
			t.Errorf("%s: Eligible = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !(Interval{}).Eligible(time.Time{}, time.Time{}) {
		t.Error("an undated asset must be eligible whatever the clock")
	}
}

// The interval always contains true time, whatever the drift within the bound, the delays and the wall clock.
func TestIntervalContainsTrueTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		c, _ := New(cfg, State{})
		// True time runs at 1 + rate relative to the monotonic clock, |rate| <= DriftPPM.
		rate := rapid.Float64Range(-cfg.DriftPPM, cfg.DriftPPM).Draw(t, "ppm") / 1e6
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		trueAt := func(mono time.Duration) time.Time {
			// Rounded down, as a clock reading is: origin never stamps a time that has not come yet.
			return start.Add(mono + time.Duration(math.Floor(float64(mono)*rate)))
		}
		var mono time.Duration
		for i, n := 0, rapid.IntRange(1, 20).Draw(t, "steps"); i < n; i++ {
			mono += time.Duration(rapid.Int64Range(0, int64(48*time.Hour)).Draw(t, "advance"))
			switch rapid.IntRange(0, 2).Draw(t, "event") {
			case 0: // a direct sync: origin stamps somewhere inside the round trip
				rtt := time.Duration(rapid.Int64Range(0, int64(5*time.Second)).Draw(t, "rtt"))
				stamp := time.Duration(float64(rtt) * rapid.Float64Range(0, 1).Draw(t, "stampAt"))
				if err := c.ObserveSync(trueAt(mono+stamp), mono, mono+rtt); err != nil {
					t.Fatal(err)
				}
				mono += rtt
			case 1: // a relayed time, stamped some time ago
				age := time.Duration(rapid.Int64Range(0, int64(mono)).Draw(t, "age"))
				c.ObserveRelayed(trueAt(mono-age), mono)
			}
			wall := trueAt(mono).Add(time.Duration(rapid.Int64Range(-int64(1e6*time.Hour), int64(1e6*time.Hour)).Draw(t, "wallErr")))
			iv := c.Interval(Reading{Wall: wall, Mono: mono})
			now := trueAt(mono)
			if !iv.Lo.IsZero() && iv.Lo.After(now) {
				t.Fatalf("Lo %v after true time %v", iv.Lo, now)
			}
			if iv.Synced && iv.Hi.Before(now) {
				t.Fatalf("Hi %v before true time %v", iv.Hi, now)
			}
			if n := iv.Now(); !iv.Lo.IsZero() && (n.Before(iv.Lo) || (!iv.Hi.IsZero() && n.After(iv.Hi))) {
				t.Fatalf("Now %v outside [%v, %v]", n, iv.Lo, iv.Hi)
			}
		}
	})
}
