package audio

import (
	"fmt"
	"math"
)

// Output is the zone's volume and mute, set by the node from the zone's override (a store event, an
// announcement). It applies after normalisation and the limiter, to everything the engine plays.
type Output struct {
	// VolumePct is the level in percent of normal, 0..100. The gain is 40*log10(pct/100) dB (amplitude
	// (pct/100)^2): equal steps of the percentage sound roughly like equal steps of loudness, the usual volume
	// curve of mixers; 50% is -12 dB, 10% -40 dB, 0 silent.
	VolumePct int
	// Muted silences the output. While muted, the dead-air watchdog is off: the silence is wanted.
	Muted bool
}

// gain is the linear amplitude factor of o.
func (o Output) gain() float64 {
	if o.Muted {
		return 0
	}
	f := float64(o.VolumePct) / 100
	return f * f
}

// GainDB is the output gain in dB (-Inf when silent).
func (o Output) GainDB() float64 { return 20 * math.Log10(o.gain()) }

// SetOutput changes the volume and mute. The change ramps over one block (about 23 ms), so it does not click.
// Safe for concurrent use; it does not wait for the render loop.
func (e *Engine) SetOutput(o Output) error {
	if o.VolumePct < 0 || o.VolumePct > 100 {
		return fmt.Errorf("audio: volume %d%% outside 0..100", o.VolumePct)
	}
	return e.push(command{kind: cmdOutput, out: o})
}

// outputGain is the render loop's side of SetOutput: the gain reached and the one ramped towards.
type outputGain struct {
	cur, target float64
	muted       bool
}

func newOutputGain() outputGain { return outputGain{cur: 1, target: 1} }

func (g *outputGain) set(o Output) { g.target, g.muted = o.gain(), o.Muted }

// process scales buf, ramping linearly from the current gain to the target across it.
func (g *outputGain) process(buf [][2]float64) {
	if g.cur == 1 && g.target == 1 {
		return
	}
	n := float64(len(buf))
	for i := range buf {
		k := g.cur + (g.target-g.cur)*float64(i+1)/n
		buf[i][0] *= k
		buf[i][1] *= k
	}
	g.cur = g.target
}
