package audio_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
	"github.com/lomuz/lomuz/player/audio/jingle"
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

// The built-in jingle played over and over, as a node with nothing cached plays it, keeps its full level even when
// the engine's default crossfade is a store's usual second. Its four notes fall in its first second, so fading each
// repeat in swallowed them: 8 repeats came out at -19.3 LUFS for a -18 target, and a node's WAV that began with
// such a stretch measured about 1 LU under the target. The reference is the same file looped by ffmpeg, which
// ebur128's gating puts 0.3 LU below the file measured once: the engine must add its gain and take nothing away.
func TestJingleRepeatedKeepsItsLevel(t *testing.T) {
	const repeats = 8
	cfg := audio.DefaultEngineConfig()
	cfg.Crossfade = time.Second
	var tracks []audio.Track
	for i := range repeats {
		j := audio.JingleTrack()
		j.ID = fmt.Sprintf("jingle-%d", i)
		tracks = append(tracks, j)
	}
	_, frames, out := playToWAV(t, cfg, tracks)
	near(t, "output seconds", seconds(len(frames)), repeats*jingle.Duration.Seconds(), 0.02)

	dir := t.TempDir()
	looped := filepath.Join(dir, "looped.wav")
	ff := testenv.Tool(t, "ffmpeg")
	if b, err := exec.Command(ff, "-nostdin", "-v", "error", "-stream_loop", fmt.Sprint(repeats-1),
		"-i", writeJingle(t, dir), "-c:a", "pcm_s16le", "-y", looped).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg loop: %v\n%s", err, b)
	}
	// What the engine's gain brings the file measured once to the target, it brings the looped file to.
	want := cfg.TargetLUFS + audiotest.Loudness(t, looped) - audio.JingleTrack().LoudnessLUFS
	got := audiotest.Loudness(t, out)
	t.Logf("%d jingles: output %.1f LUFS, want %.1f", repeats, got, want)
	near(t, "repeated jingle output loudness (LUFS)", got, want, 0.2)
}
