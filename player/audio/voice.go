package audio

import (
	"fmt"
	"math"

	"github.com/gopxl/beep/v2"
)

// voice is one track being played: its decoder chain (decode, cue, resample) at the output rate, its normalising
// gain and its fade envelope. It belongs to the engine's render goroutine once handed over.
type voice struct {
	track  Track
	dec    beep.StreamSeekCloser
	src    beep.Streamer
	gainDB float64
	gain   float64 // linear
	// length is the expected number of output frames from cue-in to cue-out or the end; -1 when unknown.
	length int
	// pos counts output frames produced so far.
	pos int
	// fadeIn is the length of the equal-power fade-in from pos 0, in frames; 0 for none.
	fadeIn int
	// fadeOutAt and fadeOut describe the fade-out: it starts at frame fadeOutAt and lasts fadeOut frames, after
	// which the voice is done. fadeOutAt < 0: no fade-out.
	fadeOutAt, fadeOut int
	endReason          EndReason
	nextPosition       int // pos at which the next EventPosition is due
	err                error
	done               bool
	closed             bool
}

// newVoice opens a track and builds its chain for the output rate. It does I/O: call it outside the render loop.
func newVoice(t Track, cfg *EngineConfig, out beep.SampleRate) (*voice, error) {
	dec, format, codec, err := openTrack(t)
	if err != nil {
		return nil, err
	}
	v := &voice{track: t, dec: dec, fadeOutAt: -1, endReason: EndFinished, length: -1}
	fail := func(err error) (*voice, error) {
		dec.Close()
		return nil, err
	}
	total := dec.Len() // source frames; <= 0 when the decoder cannot tell
	cueIn := format.SampleRate.N(t.CueIn)
	if cueIn > 0 {
		if total > 0 && cueIn >= total {
			return fail(fmt.Errorf("%s: cue in %v is past the end (%v)", codec, t.CueIn, format.SampleRate.D(total)))
		}
		if err := seek(dec, cueIn); err != nil {
			return fail(fmt.Errorf("%s: seek to cue in: %w", codec, err))
		}
	}
	var src beep.Streamer = dec
	frames := -1
	if total > 0 {
		frames = total - cueIn
	}
	if t.CueOut > 0 {
		n := format.SampleRate.N(t.CueOut - t.CueIn)
		src = beep.Take(n, src)
		if frames < 0 || n < frames {
			frames = n
		}
	}
	if format.SampleRate != out {
		src = beep.Resample(cfg.ResampleQuality, format.SampleRate, out, src)
		if frames >= 0 {
			frames = int(int64(frames) * int64(out) / int64(format.SampleRate))
		}
	}
	v.src, v.length = src, frames
	if t.LoudnessLUFS != 0 {
		played := t.LoudnessLUFS
		if format.NumChannels == 1 {
			// beep plays a mono file on both channels, which BS.1770 sums: 3.01 dB louder than measured as mono.
			played += 10 * math.Log10(2)
		}
		v.gainDB = min(max(cfg.TargetLUFS-played, cfg.MinGainDB), cfg.MaxGainDB)
	}
	v.gain = dbToLinear(v.gainDB)
	return v, nil
}

func seek(s beep.StreamSeeker, p int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return s.Seek(p)
}

// remaining is how many output frames are left before the voice ends, counting a fade-out; -1 when unknown.
func (v *voice) remaining() int {
	r := -1
	if v.length >= 0 {
		r = max(v.length-v.pos, 0)
	}
	if v.fadeOutAt >= 0 {
		f := max(v.fadeOutAt+v.fadeOut-v.pos, 0)
		if r < 0 || f < r {
			r = f
		}
	}
	return r
}

// startFadeOut makes the voice fade out over n frames from now and end.
func (v *voice) startFadeOut(n int, reason EndReason) {
	if v.fadeOutAt >= 0 && v.fadeOutAt+v.fadeOut-v.pos <= n {
		return // already fading out faster
	}
	v.fadeOutAt, v.fadeOut, v.endReason = v.pos, n, reason
}

// stream writes up to len(buf) frames of the voice, with gain and envelope, into buf (overwriting it) and
// returns how many it wrote. Fewer than len(buf) means the voice is done: ended, faded out or failed.
func (v *voice) stream(buf [][2]float64) (n int) {
	if v.done {
		return 0
	}
	want := len(buf)
	if v.fadeOutAt >= 0 {
		want = min(want, max(v.fadeOutAt+v.fadeOut-v.pos, 0))
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				v.err = fmt.Errorf("decoder panicked: %v", r)
				n = 0
			}
		}()
		for n < want {
			k, ok := v.src.Stream(buf[n:want])
			n += k
			if !ok || k == 0 {
				if err := v.src.Err(); err != nil {
					v.err = err
				}
				v.done = true
				break
			}
		}
	}()
	if v.err != nil {
		v.done, v.endReason = true, EndFailed
	}
	if n < len(buf) {
		v.done = true
	}
	for i := range buf[:n] {
		g := v.gain
		p := v.pos + i
		if p < v.fadeIn {
			g *= math.Sin(float64(p) / float64(v.fadeIn) * math.Pi / 2)
		}
		if v.fadeOutAt >= 0 && p >= v.fadeOutAt {
			g *= math.Cos(float64(p-v.fadeOutAt) / float64(v.fadeOut) * math.Pi / 2)
		}
		buf[i][0] *= g
		buf[i][1] *= g
	}
	v.pos += n
	return n
}

func (v *voice) close() {
	if !v.closed {
		v.closed = true
		v.dec.Close()
	}
}
