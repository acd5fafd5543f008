package audio_test

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// The output volume scales what plays by (pct/100)^2: a tone at 50% comes out 12 dB below the same tone at
// 100%, and a muted engine writes zeros.
func TestOutputVolumeAndMute(t *testing.T) {
	dir := t.TempDir()
	sine := audiotest.Generate(t, dir, "sine", audiotest.Spec{Source: "sine", Seconds: 3, Codec: audio.CodecFLAC})
	render := func(o audio.Output) [][2]float64 {
		path := filepath.Join(t.TempDir(), "out.wav")
		sink, err := audio.CreateWAV(path, outRate)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := audio.NewEngine(audio.DefaultEngineConfig(), sink)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.SetOutput(o); err != nil {
			t.Fatal(err)
		}
		audiotest.Play(t, eng, []audio.Track{fileTrack("sine", sine)}, time.Minute)
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		frames, _ := audiotest.ReadWAV(t, path)
		return frames[int(outRate)/2 : 2*int(outRate)] // clear of fades
	}
	full, half := render(audio.Output{VolumePct: 100}), render(audio.Output{VolumePct: 50})
	near(t, "50% relative to 100% (dB)", rmsDB(half)-rmsDB(full), -12.04, 0.2)
	near(t, "Output.GainDB at 50%", audio.Output{VolumePct: 50}.GainDB(), -12.04, 0.01)
	if db := rmsDB(render(audio.Output{VolumePct: 100, Muted: true})); db > -200 {
		t.Errorf("muted output at %.1f dBFS, want digital silence", db)
	}
	if err := (&audio.Engine{}).SetOutput(audio.Output{VolumePct: 101}); err == nil {
		t.Error("volume 101% accepted")
	}
}

// A muted engine on a paced sink plays silence without reporting dead air, however long the mute; once the mute
// ends, silence is dead air again.
func TestMuteIsNotDeadAir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := audio.DefaultEngineConfig()
		eng, err := audio.NewEngine(cfg, audio.NewNullSink(outRate, audio.SystemClock{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.SetOutput(audio.Output{VolumePct: 100, Muted: true}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- eng.Serve(ctx) }()
		select {
		case ev := <-eng.Events():
			t.Fatalf("muted engine reported %v", ev)
		case <-time.After(10 * cfg.SilenceAfter):
		}
		if err := eng.SetOutput(audio.Output{VolumePct: 100}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ev := <-eng.Events()
		if ev.Kind != audio.EventOutputSilent || ev.Duration != cfg.SilenceAfter {
			t.Fatalf("after the mute: %v, want OutputSilent after %v", ev, cfg.SilenceAfter)
		}
		if d := time.Since(start); d < cfg.SilenceAfter-100*time.Millisecond {
			t.Errorf("dead air reported %v after the mute ended, want about %v: the mute's silence counted", d, cfg.SilenceAfter)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
