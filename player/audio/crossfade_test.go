package audio_test

import (
	"math"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// Two tones crossfade over exactly the configured length: B appears when A has that long left, A is gone when A
// ends, the overlap keeps the power constant (equal power), and the output is A + B - crossfade long.
func TestCrossfadeLength(t *testing.T) {
	dir := t.TempDir()
	a := audiotest.Generate(t, dir, "a", audiotest.Spec{Source: "sine", Freq: 440, Seconds: 5, Codec: audio.CodecFLAC})
	b := audiotest.Generate(t, dir, "b", audiotest.Spec{Source: "sine", Freq: 1000, Seconds: 5, Rate: 48000, Codec: audio.CodecVorbis})
	cfg := audio.DefaultEngineConfig()
	cfg.Crossfade = 2 * time.Second
	events, frames, _ := playToWAV(t, cfg, []audio.Track{fileTrack("a", a), fileTrack("b", b)})

	near(t, "output seconds", seconds(len(frames)), 8, 0.02)
	near(t, "b started at", one(t, events, audio.EventTrackStarted, "b").At.Seconds(), 3, 0.001)
	endA := one(t, events, audio.EventTrackEnded, "a")
	near(t, "a ended at", endA.At.Seconds(), 5, 0.001)
	if endA.Reason != audio.EndFinished {
		t.Errorf("a ended %v", endA.Reason)
	}

	// Scan 40 ms windows: where is each tone audible (above 1% of its full level)?
	win := int(outRate) / 25
	full := 0.125 / math.Sqrt2
	firstB, lastA := -1.0, -1.0
	for i := 0; i+win <= len(frames); i += win {
		w := frames[i : i+win]
		at := seconds(i + win/2)
		if firstB < 0 && tone(w, 1000) > 0.01*full {
			firstB = at
		}
		if tone(w, 440) > 0.01*full {
			lastA = at
		}
	}
	near(t, "b audible from", firstB, 3, 0.04)
	near(t, "a audible until", lastA, 5, 0.04)

	// Equal power: the two tones are uncorrelated, so cos² + sin² = 1 keeps the RMS flat through the overlap.
	ref := rmsDB(frames[int(outRate)*1 : int(outRate)*2])
	for _, s := range []float64{3.2, 3.5, 4.0, 4.5, 4.8} {
		i := int(s * float64(outRate))
		near(t, "rms in overlap vs before (dB)", rmsDB(frames[i:i+win]), ref, 0.5)
	}
}

// A track may ask for no crossfade: it starts when the previous one ends.
func TestNoCrossfade(t *testing.T) {
	dir := t.TempDir()
	a := audiotest.Generate(t, dir, "a", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecWAV})
	b := audiotest.Generate(t, dir, "b", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecWAV})
	tb := fileTrack("b", b)
	tb.Crossfade = audio.NoCrossfade
	events, frames, _ := playToWAV(t, audio.DefaultEngineConfig(), []audio.Track{fileTrack("a", a), tb})
	near(t, "output seconds", seconds(len(frames)), 4, 0.002)
	near(t, "b started at", one(t, events, audio.EventTrackStarted, "b").At.Seconds(), 2, 0.001)
}

// Cue points cut the file: cue in 1 s, cue out 3 s of a 5 s file plays 2 s.
func TestCuePoints(t *testing.T) {
	dir := t.TempDir()
	for _, codec := range []audio.Codec{audio.CodecMP3, audio.CodecFLAC} {
		p := audiotest.Generate(t, dir, "a", audiotest.Spec{Source: "sine", Seconds: 5, Codec: codec})
		tr := audio.Track{ID: "a", Path: p, CueIn: time.Second, CueOut: 3 * time.Second}
		events, frames, _ := playToWAV(t, audio.DefaultEngineConfig(), []audio.Track{tr})
		near(t, string(codec)+" output seconds", seconds(len(frames)), 2, 0.002)
		near(t, string(codec)+" ended position", one(t, events, audio.EventTrackEnded, "a").Position.Seconds(), 2, 0.002)
	}
}
