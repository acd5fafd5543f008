package audio

import (
	"time"

	"github.com/gopxl/beep/v2"
)

// watchdog detects dead air on the output. It measures RMS over fixed windows of 100 ms of output; a window below
// the threshold is silent. Only an unbroken run of silent windows counts, so a quiet passage needs just one
// window above the threshold to reset it, and a normalised quiet track sits tens of dB above -60 dBFS.
type watchdog struct {
	window    int     // frames per window
	threshold float64 // mean square (linear) below which a window is silent
	after     int     // frames of silence before the first report, and between reports
	acc       float64 // sum of squares in the current window
	n         int     // frames in the current window
	silent    int     // frames of the current silent run
	reported  int     // frames of silence at the last report; 0 = not reported in this run
}

func newWatchdog(thresholdDBFS float64, after time.Duration, rate beep.SampleRate) watchdog {
	t := dbToLinear(thresholdDBFS)
	return watchdog{
		window:    max(rate.N(100*time.Millisecond), 1),
		threshold: t * t,
		after:     rate.N(after),
	}
}

// observe consumes output frames starting at output frame `at`; emit receives events with their output frame.
func (w *watchdog) observe(buf [][2]float64, at int64, emit func(kind EventKind, at int64, silent int)) {
	for i := range buf {
		w.acc += (buf[i][0]*buf[i][0] + buf[i][1]*buf[i][1]) / 2
		w.n++
		if w.n < w.window {
			continue
		}
		end := at + int64(i) + 1
		if w.acc/float64(w.n) < w.threshold {
			w.silent += w.n
			if w.silent-w.reported >= w.after {
				w.reported = w.silent - (w.silent-w.reported)%w.after
				emit(EventOutputSilent, end, w.reported)
			}
		} else {
			if w.reported > 0 {
				emit(EventOutputRestored, end, w.silent)
			}
			w.silent, w.reported = 0, 0
		}
		w.acc, w.n = 0, 0
	}
}

// reset forgets the current run, as after a window of sound, without reporting it.
func (w *watchdog) reset() { w.acc, w.n, w.silent, w.reported = 0, 0, 0, 0 }
