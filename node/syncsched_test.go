package node

import (
	"math/rand/v2"
	"testing"
	"time"
)

func newTestSchedule() *syncSchedule {
	return &syncSchedule{Interval: 10 * time.Minute, Jitter: 2 * time.Minute, BackoffMin: 30 * time.Second,
		BackoffMax: 30 * time.Minute}
}

func TestSyncScheduleIntervalWithJitter(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	s := newTestSchedule()
	seen := map[time.Duration]bool{}
	for range 200 {
		s.succeeded(0, rnd)
		if d := s.nextAt(); d < 8*time.Minute || d > 12*time.Minute {
			t.Fatalf("next sync in %v, want within 10m +- 2m", d)
		}
		seen[s.nextAt()] = true
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct intervals in 200 draws: jitter is not applied", len(seen))
	}
}

func TestSyncScheduleBackoffGrowsAndCaps(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	s := newTestSchedule()
	var maxSeen time.Duration
	for i := range 40 {
		s.failed(0, 0, rnd)
		d := s.nextAt()
		if d < 15*time.Second || d > 30*time.Minute {
			t.Fatalf("failure %d: retry in %v, outside [15s, 30m]", i+1, d)
		}
		maxSeen = max(maxSeen, d)
	}
	if maxSeen < 10*time.Minute {
		t.Fatalf("after 40 failures the largest retry was %v: backoff does not grow", maxSeen)
	}
	s.succeeded(0, rnd)
	if s.failures != 0 {
		t.Fatal("success does not reset the backoff")
	}
}

func TestSyncScheduleHonoursRetryAfter(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	s := newTestSchedule()
	s.failed(time.Hour, 5*time.Minute, rnd)
	if got := s.nextAt() - time.Hour; got < 5*time.Minute {
		t.Fatalf("retry in %v, origin asked for at least 5m", got)
	}
	if s.due(time.Hour + 4*time.Minute) {
		t.Fatal("due before Retry-After")
	}
	s.syncNow(time.Hour)
	if !s.due(time.Hour) {
		t.Fatal("syncNow does not make a sync due")
	}
}
