package audio_test

import (
	"testing"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// Inputs at different loudness, codecs, rates and channel counts come out at the target, ±1 LU as ffmpeg's
// ebur128 measures the WAV output; a gain beyond the clamp stops at the clamp.
func TestLoudnessNormalised(t *testing.T) {
	dir := t.TempDir()
	cfg := audio.DefaultEngineConfig()
	cases := []struct {
		name string
		spec audiotest.Spec
	}{
		{"loud-pink-flac", audiotest.Spec{Source: "pink", VolumeDB: 6, Seconds: 6, Codec: audio.CodecFLAC}},
		{"quiet-pink-ogg-48k", audiotest.Spec{Source: "pink", VolumeDB: -12, Rate: 48000, Seconds: 6, Codec: audio.CodecVorbis}},
		{"sine-mono-mp3", audiotest.Spec{Source: "sine", Freq: 1000, VolumeDB: 10, Channels: 1, Seconds: 6, Codec: audio.CodecMP3}},
		{"sine-mono-wav-48k", audiotest.Spec{Source: "sine", Freq: 300, VolumeDB: -8, Channels: 1, Rate: 48000, Seconds: 6, Codec: audio.CodecWAV}},
		{"very-quiet-pink-wav", audiotest.Spec{Source: "pink", VolumeDB: -30, Seconds: 6, Codec: audio.CodecWAV}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := audiotest.Generate(t, dir, c.name, c.spec)
			in := audiotest.Loudness(t, path)
			events, _, out := playToWAV(t, cfg, []audio.Track{{ID: c.name, Path: path, LoudnessLUFS: in}})
			got := audiotest.Loudness(t, out)
			want := cfg.TargetLUFS
			played := in
			if c.spec.Channels == 1 {
				played += 3.01
			}
			if gain := want - played; gain > cfg.MaxGainDB {
				want = played + cfg.MaxGainDB
			}
			started := one(t, events, audio.EventTrackStarted, c.name)
			t.Logf("input %.1f LUFS, gain %.1f dB, output %.1f LUFS (want %.1f)", in, started.GainDB, got, want)
			near(t, "output loudness (LUFS)", got, want, 1)
		})
	}
}

// The built-in jingle's committed loudness figure is what ffmpeg measures, and it plays at the target.
func TestJingle(t *testing.T) {
	dir := t.TempDir()
	cfg := audio.DefaultEngineConfig()
	events, frames, out := playToWAV(t, cfg, []audio.Track{audio.JingleTrack()})
	near(t, "jingle seconds", seconds(len(frames)), 3.5, 0.02)
	one(t, events, audio.EventTrackEnded, audio.JingleTrack().ID)
	near(t, "jingle output loudness", audiotest.Loudness(t, out), cfg.TargetLUFS, 1)
	raw := writeJingle(t, dir)
	near(t, "jingle measured loudness", audiotest.Loudness(t, raw), audio.JingleTrack().LoudnessLUFS, 0.2)
}
