package node

import (
	"math/rand/v2"
	"time"
)

// syncSchedule decides when the next sync with origin is due. A thousand stores coming back after an outage must not
// hit origin in step, so every interval is jittered and failures back off exponentially with full jitter; origin's
// Retry-After is a floor, never shortened. It is pure: times are the node's monotonic readings, randomness is injected.
type syncSchedule struct {
	Interval   time.Duration // nominal time between successful syncs (10 min)
	Jitter     time.Duration // each interval is Interval +- Jitter, uniform
	BackoffMin time.Duration // first retry delay after a failure
	BackoffMax time.Duration // cap of the exponential backoff

	next     time.Duration // monotonic instant the next sync is due
	failures int           // consecutive failures since the last success
}

// due reports whether a sync should start at now.
func (s *syncSchedule) due(now time.Duration) bool { return now >= s.next }

// nextAt is when the next sync is due.
func (s *syncSchedule) nextAt() time.Duration { return s.next }

// syncNow makes a sync due at once (first start, operator request, a peer saw a newer revision).
func (s *syncSchedule) syncNow(now time.Duration) { s.next = now }

// soon brings the next sync forward to at most d from now (never later than already due).
func (s *syncSchedule) soon(now, d time.Duration) { s.next = min(s.next, now+d) }

// succeeded schedules the next sync one jittered interval after now.
func (s *syncSchedule) succeeded(now time.Duration, rnd *rand.Rand) {
	s.failures = 0
	s.next = now + s.Interval + jitter(s.Jitter, rnd)
}

// failed schedules a retry: exponential backoff with full jitter, at least retryAfter when origin sent one.
func (s *syncSchedule) failed(now, retryAfter time.Duration, rnd *rand.Rand) {
	s.failures++
	ceiling := s.BackoffMin
	for i := 1; i < s.failures && ceiling < s.BackoffMax; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, s.BackoffMax)
	// Full jitter over [BackoffMin/2, ceiling]: spreads a fleet's retries while keeping a sane minimum.
	lo := s.BackoffMin / 2
	d := lo
	if ceiling > lo {
		d += time.Duration(rnd.Int64N(int64(ceiling - lo)))
	}
	s.next = now + max(d, retryAfter)
}

// jitter returns a uniform duration in [-j, +j].
func jitter(j time.Duration, rnd *rand.Rand) time.Duration {
	if j <= 0 {
		return 0
	}
	return time.Duration(rnd.Int64N(int64(2*j)+1)) - j
}
