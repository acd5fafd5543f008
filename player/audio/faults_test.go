package audio_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// Corrupt, truncated, empty and missing files each give EventDecodeFailed or end early, and the engine goes on
// to what it is told next: the good track after them plays in full.
func TestBadFilesDoNotStopPlayback(t *testing.T) {
	dir := t.TempDir()
	good1 := audiotest.Generate(t, dir, "good1", audiotest.Spec{Source: "sine", Seconds: 2, Codec: audio.CodecWAV})
	good2 := audiotest.Generate(t, dir, "good2", audiotest.Spec{Source: "pink", Seconds: 2, Codec: audio.CodecVorbis})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noise := make([]byte, 64<<10)
	rand.Read(noise)
	// Garbage that starts like each container, so the decoder itself (not the sniffer) meets it.
	garbage := map[string][]byte{
		"garbage.bin": noise,
		"fake.mp3":    append([]byte{0xFF, 0xFB, 0x90, 0x00}, noise...),
		"fake.ogg":    append([]byte("OggS"), noise...),
		"fake.flac":   append([]byte("fLaC"), noise...),
		"fake.wav":    append([]byte("RIFF\x00\x00\x00\x00WAVEfmt "), noise...),
		"empty.mp3":   nil,
	}
	var tracks []audio.Track
	tracks = append(tracks, fileTrack("good1", good1))
	var mustFail []string
	for name, b := range garbage {
		tracks = append(tracks, fileTrack(name, write(name, b)))
		mustFail = append(mustFail, name)
	}
	tracks = append(tracks, fileTrack("missing", filepath.Join(dir, "no-such-file.flac")))
	mustFail = append(mustFail, "missing")
	// Truncated files: the first 40% of a real file of each codec.
	for _, codec := range []audio.Codec{audio.CodecMP3, audio.CodecVorbis, audio.CodecFLAC, audio.CodecWAV} {
		p := audiotest.Generate(t, dir, "whole", audiotest.Spec{Source: "pink", Seconds: 3, Codec: codec})
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		id := "truncated-" + string(codec)
		tracks = append(tracks, fileTrack(id, write(id, b[:len(b)*4/10])))
	}
	tracks = append(tracks, fileTrack("good2", good2))

	events, frames, _ := playToWAV(t, audio.DefaultEngineConfig(), tracks)
	for _, id := range mustFail {
		f := one(t, events, audio.EventDecodeFailed, id)
		if f.Err == nil {
			t.Errorf("%s: DecodeFailed without an error", id)
		}
		if len(find(events, audio.EventTrackStarted, id)) != 0 {
			t.Errorf("%s started", id)
		}
	}
	for _, codec := range []audio.Codec{audio.CodecMP3, audio.CodecVorbis, audio.CodecFLAC, audio.CodecWAV} {
		id := "truncated-" + string(codec)
		if len(find(events, audio.EventTrackStarted, id)) == 0 {
			one(t, events, audio.EventDecodeFailed, id)
			continue
		}
		end := one(t, events, audio.EventTrackEnded, id)
		t.Logf("%s: ended %v after %v", id, end.Reason, end.Position)
		if end.Position.Seconds() > 3*0.45 {
			t.Errorf("%s played %v of a 40%% file of 3 s", id, end.Position)
		}
	}
	one(t, events, audio.EventTrackStarted, "good2")
	end := one(t, events, audio.EventTrackEnded, "good2")
	if end.Reason != audio.EndFinished {
		t.Errorf("good2 ended %v", end.Reason)
	}
	near(t, "good2 played", end.Position.Seconds(), 2, 0.01)
	if last := frames[len(frames)-int(outRate)/2:]; rmsDB(last) < -40 {
		t.Errorf("the end of the output is silent (%.1f dBFS): good2 did not play", rmsDB(last))
	}
}

// An invalid track is refused by Prepare and changes nothing.
func TestInvalidTrackRefused(t *testing.T) {
	eng, err := audio.NewEngine(audio.DefaultEngineConfig(), audio.NewNullSink(outRate, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []audio.Track{
		{ID: "", Path: "x"},
		{ID: "a"},
		{ID: "a", Path: "x", Open: audio.JingleTrack().Open},
		{ID: "a", Path: "x", Codec: "aac"},
		{ID: "a", Path: "x", LoudnessLUFS: -200},
		{ID: "a", Path: "x", CueIn: -1},
		{ID: "a", Path: "x", CueIn: 5e9, CueOut: 4e9},
		{ID: "a", Path: "x", Crossfade: 1e12},
		{ID: string(make([]byte, 300)), Path: "x"},
	} {
		if err := eng.Prepare(tr); !errors.Is(err, audio.ErrInvalidTrack) {
			t.Errorf("Prepare(%+v) = %v, want ErrInvalidTrack", tr, err)
		}
	}
}
