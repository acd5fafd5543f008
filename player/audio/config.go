package audio

import (
	"fmt"
	"math"
	"time"
)

// EngineConfig tunes the engine. Zero fields take the value of DefaultEngineConfig; validate rejects nonsense.
type EngineConfig struct {
	// TargetLUFS is the integrated loudness every track is brought to. -18 LUFS leaves about 17 dB of headroom for
	// peaks, so gains up to MaxGainDB rarely touch the limiter, and spots and music sit at the same level.
	// Bounds: [-40, -6].
	TargetLUFS float64
	// MinGainDB and MaxGainDB clamp the normalising gain (target minus the track's loudness), in dB. A wrong or
	// absurd loudness figure can then neither blast the store nor silence a track. Bounds: [-40, 0] and [0, 24].
	MinGainDB, MaxGainDB float64
	// Crossfade is the equal-power overlap between consecutive tracks when the track does not set its own.
	// Bounds: [0, MaxCrossfade].
	Crossfade time.Duration
	// MaxCrossfade bounds any crossfade a track asks for; on an unpaced sink it is also how far before a track's
	// end the engine waits for the caller's decision about what follows. Bounds: [0, 60 s].
	MaxCrossfade time.Duration
	// StopFade is the fade-out Stop applies, long enough to avoid a click. Bounds: [0, 10 s].
	StopFade time.Duration
	// ResampleQuality is beep.Resample's quality for tracks whose rate differs from the sink's: 3-4 is good for
	// real time on small CPUs (beep's own guidance). Bounds: [1, 8].
	ResampleQuality int
	// BlockFrames is how many frames the engine renders per sink write: 1024 frames is 23 ms at 44.1 kHz, so
	// commands take effect within one block. Bounds: [64, 16384].
	BlockFrames int
	// LimiterCeilingDBFS is the highest sample magnitude the output may reach, in dBFS; the limiter reduces gain
	// instantly above it and recovers over LimiterRelease. Bounds: [-12, 0].
	LimiterCeilingDBFS float64
	// LimiterRelease is the time constant of the limiter's gain recovery. Bounds: [1 ms, 5 s].
	LimiterRelease time.Duration
	// SilenceThresholdDBFS: a 100 ms output window whose RMS is below it counts as silent. -60 dBFS is far below
	// any normalised music, even its quiet passages, yet above dither and decoder noise. Bounds: [-100, -20].
	SilenceThresholdDBFS float64
	// SilenceAfter is how long the output must stay silent before the watchdog reports dead air, and the period
	// of further reports while it lasts. Music pauses of a few seconds stay below it. Bounds: [1 s, 1 h].
	SilenceAfter time.Duration
	// PositionEvery is the period of EventPosition for the current track, in output time. Bounds: [10 ms, 1 h].
	PositionEvery time.Duration
	// EventBuffer is the capacity of the Events channel. When it is full, position events are dropped and the
	// others wait for the reader. Bounds: [1, 65536].
	EventBuffer int
}

// DefaultEngineConfig returns the configuration used in stores.
func DefaultEngineConfig() EngineConfig {
	return EngineConfig{
		TargetLUFS:           -18,
		MinGainDB:            -20,
		MaxGainDB:            12,
		Crossfade:            3 * time.Second,
		MaxCrossfade:         15 * time.Second,
		StopFade:             250 * time.Millisecond,
		ResampleQuality:      4,
		BlockFrames:          1024,
		LimiterCeilingDBFS:   -1,
		LimiterRelease:       200 * time.Millisecond,
		SilenceThresholdDBFS: -60,
		SilenceAfter:         10 * time.Second,
		PositionEvery:        time.Second,
		EventBuffer:          64,
	}
}

// validate fills zero fields from DefaultEngineConfig and rejects values out of bounds.
func (c *EngineConfig) validate() error {
	d := DefaultEngineConfig()
	fill := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.TargetLUFS, d.TargetLUFS)
	fill(&c.MinGainDB, d.MinGainDB)
	fill(&c.MaxGainDB, d.MaxGainDB)
	fill(&c.LimiterCeilingDBFS, d.LimiterCeilingDBFS)
	fill(&c.SilenceThresholdDBFS, d.SilenceThresholdDBFS)
	fillD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fillD(&c.Crossfade, d.Crossfade)
	fillD(&c.MaxCrossfade, d.MaxCrossfade)
	fillD(&c.StopFade, d.StopFade)
	fillD(&c.LimiterRelease, d.LimiterRelease)
	fillD(&c.SilenceAfter, d.SilenceAfter)
	fillD(&c.PositionEvery, d.PositionEvery)
	if c.ResampleQuality == 0 {
		c.ResampleQuality = d.ResampleQuality
	}
	if c.BlockFrames == 0 {
		c.BlockFrames = d.BlockFrames
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = d.EventBuffer
	}
	checks := []struct {
		name      string
		v, lo, hi float64
	}{
		{"TargetLUFS", c.TargetLUFS, -40, -6},
		{"MinGainDB", c.MinGainDB, -40, 0},
		{"MaxGainDB", c.MaxGainDB, 0, 24},
		{"LimiterCeilingDBFS", c.LimiterCeilingDBFS, -12, 0},
		{"SilenceThresholdDBFS", c.SilenceThresholdDBFS, -100, -20},
		{"MaxCrossfade", c.MaxCrossfade.Seconds(), 0, 60},
		{"Crossfade", c.Crossfade.Seconds(), 0, c.MaxCrossfade.Seconds()},
		{"StopFade", c.StopFade.Seconds(), 0, 10},
		{"LimiterRelease", c.LimiterRelease.Seconds(), 0.001, 5},
		{"SilenceAfter", c.SilenceAfter.Seconds(), 1, 3600},
		{"PositionEvery", c.PositionEvery.Seconds(), 0.01, 3600},
		{"ResampleQuality", float64(c.ResampleQuality), 1, 8},
		{"BlockFrames", float64(c.BlockFrames), 64, 16384},
		{"EventBuffer", float64(c.EventBuffer), 1, 65536},
	}
	for _, k := range checks {
		if math.IsNaN(k.v) || k.v < k.lo || k.v > k.hi {
			return fmt.Errorf("audio: config %s = %v out of bounds [%v, %v]", k.name, k.v, k.lo, k.hi)
		}
	}
	return nil
}

// dbToLinear converts a gain in dB to an amplitude factor.
func dbToLinear(db float64) float64 { return math.Pow(10, db/20) }
