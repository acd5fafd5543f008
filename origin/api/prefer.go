package api

import (
	"sync"
	"time"
)

// Choosing among several origin base URLs. The client stays on the URL that answered last (cheap and stable), and
// fails over down the list when it does not answer. Every ReprobeEvery it starts the next request from the URL with
// the best recent round-trip time instead, so a client that failed over comes back when the preferred origin
// returns, and a client whose first origin is far away drifts to a nearer one. A URL that failed is ranked last
// until its failure is older than ReprobeEvery; one never measured is ranked by its position in the list, before
// the measured ones, so it gets tried.

// DefaultReprobe is how often a client reconsiders which origin to start from.
const DefaultReprobe = 5 * time.Minute

// rttAlpha weighs a new round-trip sample in the moving average.
const rttAlpha = 0.3

type originStats struct {
	mu        sync.Mutex
	rtt       []time.Duration // EWMA per base URL; 0 = never measured
	failedAt  []time.Time     // last failure per base URL
	lastProbe time.Time
	now       func() time.Time
}

func newOriginStats(n int) *originStats {
	return &originStats{rtt: make([]time.Duration, n), failedAt: make([]time.Time, n), now: time.Now}
}

// start returns the index to try first: cur, or the best-ranked URL when a re-probe is due.
func (s *originStats) start(cur int, every time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if every <= 0 || now.Sub(s.lastProbe) < every {
		return cur
	}
	s.lastProbe = now
	best := -1
	for i := range s.rtt {
		if s.worse(best, i, now, every) {
			best = i
		}
	}
	return best
}

// worse reports whether candidate i ranks before the current best b.
func (s *originStats) worse(b, i int, now time.Time, every time.Duration) bool {
	if b < 0 {
		return true
	}
	failed := func(k int) bool { return !s.failedAt[k].IsZero() && now.Sub(s.failedAt[k]) < every }
	switch fi, fb := failed(i), failed(b); {
	case fi != fb:
		return fb
	case (s.rtt[i] == 0) != (s.rtt[b] == 0):
		return s.rtt[i] == 0 // unmeasured first: it must be tried to be known
	default:
		return s.rtt[i] < s.rtt[b]
	}
}

func (s *originStats) ok(i int, rtt time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failedAt[i] = time.Time{}
	if s.rtt[i] == 0 {
		s.rtt[i] = max(rtt, 1)
		return
	}
	s.rtt[i] = time.Duration(rttAlpha*float64(rtt) + (1-rttAlpha)*float64(s.rtt[i]))
}

func (s *originStats) failed(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failedAt[i] = s.now()
}
