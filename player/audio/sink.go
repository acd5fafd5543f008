package audio

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/gopxl/beep/v2"
)

// Sink consumes the engine's output. The engine calls it from its Serve goroutine only; implementations need not
// be safe for concurrent use unless they say so.
type Sink interface {
	// SampleRate is the rate of the frames Write receives; every track is resampled to it.
	SampleRate() beep.SampleRate
	// Paced reports whether Write advances at the rate of a clock, real or virtual. An idle engine feeds a paced
	// sink silence (so the watchdog hears dead air as it happens), and never waits for its caller; on an unpaced
	// sink time exists only as frames written, so an idle engine writes nothing and waits for a command.
	Paced() bool
	// Write consumes stereo frames in [-1, 1]. It may block, for pacing, until ctx is done. It must not keep
	// frames after it returns: the engine reuses the slice.
	Write(ctx context.Context, frames [][2]float64) error
}

// Clock is the time source of a paced sink. SystemClock is the wall clock; tests and simulations pass a virtual
// one. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// After sends once on the returned channel when d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NullSink discards frames. Without a clock it is unpaced and takes frames as fast as the engine renders them;
// with one it takes them at the sample rate on that clock (real time on SystemClock, virtual time on a fake).
type NullSink struct {
	rate   beep.SampleRate
	clock  Clock
	start  time.Time
	frames atomic.Int64
	peak   atomic.Uint64 // math.Float64bits of the highest |sample| seen
}

// NewNullSink returns a null sink at rate; clock may be nil for an unpaced sink.
func NewNullSink(rate beep.SampleRate, clock Clock) *NullSink {
	return &NullSink{rate: rate, clock: clock}
}

func (s *NullSink) SampleRate() beep.SampleRate { return s.rate }
func (s *NullSink) Paced() bool                 { return s.clock != nil }

// Frames returns how many frames the sink has consumed. Safe for concurrent use.
func (s *NullSink) Frames() int64 { return s.frames.Load() }

func (s *NullSink) Write(ctx context.Context, frames [][2]float64) error {
	if s.clock != nil {
		if s.frames.Load() == 0 {
			s.start = s.clock.Now()
		}
		// Pace against the start time rather than per write, so waits do not accumulate drift.
		due := s.start.Add(s.rate.D(int(s.frames.Load())))
		if d := due.Sub(s.clock.Now()); d > 0 {
			select {
			case <-s.clock.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	s.frames.Add(int64(len(frames)))
	return nil
}
