package audio_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// next returns the next event of a kind, failing the test if the engine closes its channel or 30 s pass.
func next(t *testing.T, eng *audio.Engine, kind audio.EventKind) audio.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-eng.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v within 30 s", kind)
		}
	}
}

// waitFrames polls, with a deadline, until the sink has taken d of output.
func waitFrames(t *testing.T, sink *audio.NullSink, d time.Duration) {
	t.Helper()
	want := int64(outRate.N(d))
	deadline := time.Now().Add(30 * time.Second)
	for sink.Frames() < want {
		if time.Now().After(deadline) {
			t.Fatalf("sink at %d frames after 30 s, want %d", sink.Frames(), want)
		}
		runtime.Gosched()
	}
}

// Play cuts the current track with a crossfade; Stop fades it out. On an unpaced sink the engine waits for the
// caller MaxCrossfade before the end, so each command lands at a known point.
func TestPlayAndStop(t *testing.T) {
	dir := t.TempDir()
	long := audiotest.Generate(t, dir, "long", audiotest.Spec{Source: "pink", Seconds: 20, Codec: audio.CodecFLAC})
	other := audiotest.Generate(t, dir, "other", audiotest.Spec{Source: "sine", Seconds: 20, Codec: audio.CodecWAV})
	cfg := audio.DefaultEngineConfig()
	cfg.MaxCrossfade = 15 * time.Second
	sink := audio.NewNullSink(outRate, nil)
	eng, err := audio.NewEngine(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()

	if err := eng.Prepare(fileTrack("long", long)); err != nil {
		t.Fatal(err)
	}
	next(t, eng, audio.EventTrackStarted)
	// The engine holds at 20 s - 15 s = 5 s of "long" until told what follows.
	waitFrames(t, sink, 5*time.Second)
	if err := eng.Play(fileTrack("other", other)); err != nil {
		t.Fatal(err)
	}
	st := next(t, eng, audio.EventTrackStarted)
	if st.TrackID != "other" {
		t.Fatalf("started %v", st)
	}
	near(t, "other started at", st.At.Seconds(), 5, 0.001)
	end := next(t, eng, audio.EventTrackEnded)
	if end.TrackID != "long" || end.Reason != audio.EndReplaced {
		t.Fatalf("ended %v", end)
	}
	near(t, "long cut after crossfade at", end.Position.Seconds(), 5+cfg.Crossfade.Seconds(), 0.001)

	// "other" plays alone from 8 s; the engine holds again at its own 5 s mark, 10 s into the output, so the Stop
	// lands there.
	waitFrames(t, sink, 10*time.Second)
	if err := eng.Stop(); err != nil {
		t.Fatal(err)
	}
	end = next(t, eng, audio.EventTrackEnded)
	if end.TrackID != "other" || end.Reason != audio.EndStopped {
		t.Fatalf("ended %v", end)
	}
	near(t, "other stopped after", end.Position.Seconds(), 5+cfg.StopFade.Seconds(), 0.001)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range eng.Events() {
	}
	if err := eng.Prepare(audio.JingleTrack()); !errors.Is(err, audio.ErrClosed) {
		t.Errorf("Prepare after Serve returned = %v, want ErrClosed", err)
	}
	if err := eng.Serve(context.Background()); err == nil {
		t.Error("second Serve succeeded")
	}
}

// A 10-minute playlist of every codec plays through the unpaced null sink far faster than real time: the
// deadline is generous (a slow, shared machine), the figure itself is measured by the benchmarks. Under the race
// detector, which slows decoding about tenfold, the tracks are 6 s instead of 60 s.
func TestNullSinkTenMinutePlaylist(t *testing.T) {
	dir := t.TempDir()
	trackSecs := 60.0
	if raceEnabled {
		trackSecs = 6
	}
	var files []string
	for i, codec := range []audio.Codec{audio.CodecMP3, audio.CodecVorbis, audio.CodecFLAC, audio.CodecWAV} {
		files = append(files, audiotest.Generate(t, dir, filepath.Base(string(codec)),
			audiotest.Spec{Source: "pink", Seconds: trackSecs, Rate: []int{44100, 48000}[i%2], Codec: codec}))
	}
	var tracks []audio.Track
	for i := range 10 {
		tracks = append(tracks, audio.Track{ID: string(rune('a' + i)), Path: files[i%len(files)]})
	}
	cfg := audio.DefaultEngineConfig()
	sink := audio.NewNullSink(outRate, nil)
	eng, err := audio.NewEngine(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	events := audiotest.Play(t, eng, tracks, 5*time.Minute)
	elapsed := time.Since(start)
	played := float64(sink.Frames()) / float64(outRate)
	t.Logf("%.0f s of audio in %v (%.0fx real time)", played, elapsed, played/elapsed.Seconds())
	// MP3 files run about 50 ms long (encoder delay and padding).
	near(t, "seconds played", played, 10*trackSecs-9*cfg.Crossfade.Seconds(), 0.5)
	if n := len(find(events, audio.EventTrackEnded, "")); n != 10 {
		t.Errorf("%d tracks ended, want 10", n)
	}
	if n, want := len(find(events, audio.EventPosition, "")), int(played); n < want*9/10 {
		t.Errorf("%d position events, want about %d", n, want)
	}
}

// Play then Prepare, taken in one batch, play in that order: Play does not leave its track in the prepared slot
// for the Prepare to replace. Stats count the output.
func TestPlayThenPrepareInOneBatch(t *testing.T) {
	dir := t.TempDir()
	a := audiotest.Generate(t, dir, "a", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecWAV})
	b := audiotest.Generate(t, dir, "b", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecFLAC})
	sink := audio.NewNullSink(outRate, nil)
	eng, err := audio.NewEngine(audio.DefaultEngineConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	// Before Serve runs, both commands wait in the same batch.
	if err := eng.Play(fileTrack("a", a)); err != nil {
		t.Fatal(err)
	}
	if err := eng.Prepare(fileTrack("b", b)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	var order []string
	for ev := range eng.Events() {
		if ev.Kind == audio.EventTrackStarted {
			order = append(order, ev.TrackID)
			if ev.TrackID == "b" {
				eng.Drain()
			}
		}
		if ev.Kind == audio.EventTrackEnded && ev.TrackID == "b" {
			break
		}
	}
	if len(order) != 2 || order[0] != "a" || order[1] != "b" {
		t.Fatalf("started %v, want [a b]", order)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := eng.Stats()
	if want := outRate.D(int(sink.Frames())); st.Output != want {
		t.Errorf("Stats().Output = %v, want %v", st.Output, want)
	}
	near(t, "output seconds", st.Output.Seconds(), 3, 0.01) // 2 s + 2 s - 1 s (crossfade capped at half of b)
}

// Stop drops the prepared track: Play, Prepare and Stop taken in one batch leave only the played track, faded out.
func TestStopDropsPrepared(t *testing.T) {
	dir := t.TempDir()
	a := audiotest.Generate(t, dir, "a", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecWAV})
	cfg := audio.DefaultEngineConfig()
	eng, err := audio.NewEngine(cfg, audio.NewNullSink(outRate, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{eng.Play(fileTrack("a", a)), eng.Prepare(audio.JingleTrack()), eng.Stop()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	var events []audio.Event
	for ev := range eng.Events() {
		events = append(events, ev)
		if ev.Kind == audio.EventTrackEnded {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for ev := range eng.Events() {
		events = append(events, ev)
	}
	end := one(t, events, audio.EventTrackEnded, "a")
	if end.Reason != audio.EndStopped {
		t.Errorf("a ended %v", end.Reason)
	}
	near(t, "a stopped after", end.Position.Seconds(), cfg.StopFade.Seconds(), 0.001)
	if s := find(events, audio.EventTrackStarted, audio.JingleTrack().ID); len(s) != 0 {
		t.Errorf("the dropped prepared track started: %v", s)
	}
}
