package audio_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// Silence on the output is reported after SilenceAfter, then at every multiple, and its end when sound returns.
func TestWatchdogReportsSilence(t *testing.T) {
	dir := t.TempDir()
	silence := audiotest.Generate(t, dir, "silence", audiotest.Spec{Source: "silence", Seconds: 5, Codec: audio.CodecFLAC})
	music := audiotest.Generate(t, dir, "music", audiotest.Spec{Source: "pink", Seconds: 2, Codec: audio.CodecVorbis})
	cfg := audio.DefaultEngineConfig()
	cfg.SilenceAfter = 2 * time.Second
	music2 := fileTrack("music", music)
	music2.Crossfade = audio.NoCrossfade
	events, _, _ := playToWAV(t, cfg, []audio.Track{fileTrack("silence", silence), music2})
	silent := find(events, audio.EventOutputSilent, "")
	if len(silent) != 2 {
		t.Fatalf("want 2 OutputSilent (at 2 s and 4 s of a 5 s silence), got %v", events)
	}
	near(t, "first report at", silent[0].At.Seconds(), 2, 0.1)
	near(t, "first report duration", silent[0].Duration.Seconds(), 2, 0.001)
	near(t, "second report duration", silent[1].Duration.Seconds(), 4, 0.001)
	restored := one(t, events, audio.EventOutputRestored, "")
	near(t, "restored at", restored.At.Seconds(), 5, 0.15)
	near(t, "silence lasted", restored.Duration.Seconds(), 5, 0.15)
}

// Quiet music is not dead air: pink noise at about -59 dBFS RMS played without normalisation (just above the
// -60 dBFS threshold), and a very quiet tone raised by its gain, are never reported as silence.
func TestWatchdogNotFooledByQuietMusic(t *testing.T) {
	dir := t.TempDir()
	quiet := audiotest.Generate(t, dir, "quiet", audiotest.Spec{Source: "pink", VolumeDB: -30, Seconds: 6, Codec: audio.CodecFLAC})
	sine := audiotest.Generate(t, dir, "sine", audiotest.Spec{Source: "sine", VolumeDB: -40, Seconds: 6, Codec: audio.CodecMP3})
	cfg := audio.DefaultEngineConfig()
	cfg.SilenceAfter = 2 * time.Second
	raised := audio.Track{ID: "sine", Path: sine, LoudnessLUFS: audiotest.Loudness(t, sine)}
	events, frames, _ := playToWAV(t, cfg, []audio.Track{fileTrack("quiet", quiet), raised})
	t.Logf("quiet track at %.1f dBFS RMS", rmsDB(frames[int(outRate):2*int(outRate)]))
	if s := find(events, audio.EventOutputSilent, ""); len(s) != 0 {
		t.Errorf("quiet music reported as silence: %v", s)
	}
}

// On a paced sink an idle engine feeds silence, so dead air is reported in (virtual) time when nothing plays.
// The sink runs on the wall clock, which testing/synctest makes virtual: no real time passes.
func TestWatchdogIdlePacedSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := audio.DefaultEngineConfig()
		sink := audio.NewNullSink(outRate, audio.SystemClock{})
		eng, err := audio.NewEngine(cfg, sink)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- eng.Serve(ctx) }()
		start := time.Now()
		ev := <-eng.Events()
		if ev.Kind != audio.EventOutputSilent || ev.Duration != cfg.SilenceAfter {
			t.Fatalf("first event %v, want OutputSilent after %v", ev, cfg.SilenceAfter)
		}
		// A block is written when it is due to start playing, so the report may lead by up to one block.
		if d := time.Since(start); d < cfg.SilenceAfter-100*time.Millisecond || d > cfg.SilenceAfter+time.Second {
			t.Errorf("reported after %v of virtual time, want about %v", d, cfg.SilenceAfter)
		}
		// The jingle brings sound back.
		if err := eng.Play(audio.JingleTrack()); err != nil {
			t.Fatal(err)
		}
		for ev := range eng.Events() {
			if ev.Kind == audio.EventOutputRestored {
				break
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
