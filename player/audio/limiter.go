package audio

import (
	"math"
	"time"

	"github.com/gopxl/beep/v2"
)

// limiter keeps the output below a ceiling. It has no look-ahead, so it adds no latency and leaves no tail to
// flush: when a sample would exceed the ceiling, the gain drops at once to exactly what keeps it at the ceiling,
// then recovers exponentially. With loudness-normalised input it acts only on rare peaks of tracks raised by a
// positive gain, where its distortion is brief; it is clipping protection, not a mastering tool.
type limiter struct {
	ceiling float64 // linear, (0, 1]
	release float64 // per-frame recovery coefficient, (0, 1)
	gain    float64 // current gain, (0, 1]
	limited int64   // frames whose gain was below 1, for statistics
}

func newLimiter(ceilingDBFS float64, release time.Duration, rate beep.SampleRate) limiter {
	return limiter{
		ceiling: dbToLinear(ceilingDBFS),
		release: 1 - math.Exp(-1/(release.Seconds()*float64(rate))),
		gain:    1,
	}
}

func (l *limiter) process(buf [][2]float64) {
	for i := range buf {
		p := max(math.Abs(buf[i][0]), math.Abs(buf[i][1]))
		if p*l.gain > l.ceiling {
			l.gain = l.ceiling / p
		}
		if l.gain < 1 {
			buf[i][0] *= l.gain
			buf[i][1] *= l.gain
			l.limited++
			l.gain += (1 - l.gain) * l.release
			if l.gain > 1-1e-9 {
				l.gain = 1
			}
		}
	}
}
