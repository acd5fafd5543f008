// Package audiotest makes real audio files with ffmpeg for the audio engine's tests and benchmarks, measures
// them with ffmpeg's ebur128 filter, and plays playlists through an engine the way the node core would. It is
// test support: it must not be imported by production code. ffmpeg comes from internal/testenv (skip locally,
// fail under CI when missing).
package audiotest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/wav"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/player/audio"
)

// Spec describes a file to generate.
type Spec struct {
	Source   string  // "sine", "pink" or "silence"
	Freq     float64 // Hz, for sine; default 440
	Rate     int     // Hz; default 44100
	Channels int     // 1 or 2; default 2
	Seconds  float64 // default 5
	VolumeDB float64 // applied with ffmpeg's volume filter (a sine from ffmpeg is at -18 dBFS peak before it)
	Codec    audio.Codec
	// Tagged adds title/artist tags, and for FLAC and MP3 a small cover picture, as shop music often carries.
	Tagged bool
}

var ext = map[audio.Codec]string{audio.CodecMP3: "mp3", audio.CodecVorbis: "ogg", audio.CodecFLAC: "flac", audio.CodecWAV: "wav"}

var codecArgs = map[audio.Codec][]string{
	audio.CodecMP3:    {"-c:a", "libmp3lame", "-b:a", "128k"},
	audio.CodecVorbis: {"-c:a", "libvorbis", "-q:a", "4"},
	audio.CodecFLAC:   {"-c:a", "flac"},
	audio.CodecWAV:    {"-c:a", "pcm_s16le"},
}

// Generate writes the file described by s into dir, named name plus the codec's extension, and returns its path.
func Generate(t testing.TB, dir, name string, s Spec) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	if s.Rate == 0 {
		s.Rate = 44100
	}
	if s.Channels == 0 {
		s.Channels = 2
	}
	if s.Seconds == 0 {
		s.Seconds = 5
	}
	if s.Freq == 0 {
		s.Freq = 440
	}
	var src string
	switch s.Source {
	case "sine":
		src = fmt.Sprintf("sine=frequency=%g:sample_rate=%d:duration=%g", s.Freq, s.Rate, s.Seconds)
	case "pink":
		src = fmt.Sprintf("anoisesrc=color=pink:sample_rate=%d:duration=%g:amplitude=0.25:seed=7", s.Rate, s.Seconds)
	case "silence":
		src = fmt.Sprintf("anullsrc=r=%d:cl=mono,atrim=duration=%g", s.Rate, s.Seconds)
	default:
		t.Fatalf("audiotest: unknown source %q", s.Source)
	}
	args, ok := codecArgs[s.Codec]
	if !ok {
		t.Fatalf("audiotest: unknown codec %q", s.Codec)
	}
	path := filepath.Join(dir, name+"."+ext[s.Codec])
	cmd := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src}
	if s.Tagged && (s.Codec == audio.CodecFLAC || s.Codec == audio.CodecMP3) {
		cmd = append(cmd, "-f", "lavfi", "-i", "color=red:size=64x64:duration=1",
			"-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:v", "png", "-disposition:v", "attached_pic")
	}
	if s.Tagged {
		cmd = append(cmd, "-metadata", "title=Test tone", "-metadata", "artist=Lomuz")
	}
	cmd = append(cmd, "-af", fmt.Sprintf("volume=%gdB", s.VolumeDB), "-ac", strconv.Itoa(s.Channels), "-ar", strconv.Itoa(s.Rate))
	cmd = append(append(cmd, args...), path)
	if out, err := exec.Command(ff, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", cmd, err, out)
	}
	return path
}

var integrated = regexp.MustCompile(`(?s)Integrated loudness:\s*I:\s*(-?[0-9.]+) LUFS`)

// Loudness measures a file's integrated loudness with ffmpeg's ebur128 filter, in LUFS.
func Loudness(t testing.TB, path string) float64 {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out, err := exec.Command(ff, "-hide_banner", "-nostats", "-i", path,
		"-af", "ebur128=framelog=verbose", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg ebur128 %s: %v\n%s", path, err, out)
	}
	m := integrated.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("no integrated loudness in ffmpeg output:\n%s", out)
	}
	v, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ReadWAV decodes a WAV file with beep's decoder and returns its frames and rate.
func ReadWAV(t testing.TB, path string) ([][2]float64, beep.SampleRate) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, f, err := wav.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	out := make([][2]float64, 0, s.Len())
	buf := make([][2]float64, 4096)
	for {
		n, ok := s.Stream(buf)
		out = append(out, buf[:n]...)
		if !ok {
			break
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return out, f.SampleRate
}

// Play runs eng.Serve and plays tracks in order as the node core would: it prepares the first, prepares the next
// one on each TrackStarted (or after a track failed to open), and drains after the last. It returns every event
// once the last track is over, and fails the test if that takes longer than timeout.
func Play(t testing.TB, eng *audio.Engine, tracks []audio.Track, timeout time.Duration) []audio.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx) }()
	next := 0
	prepare := func() {
		if next < len(tracks) {
			if err := eng.Prepare(tracks[next]); err != nil {
				t.Errorf("prepare %s: %v", tracks[next].ID, err)
			}
			next++
			return
		}
		if err := eng.Drain(); err != nil {
			t.Errorf("drain: %v", err)
		}
	}
	prepare()
	var events []audio.Event
	started := map[string]bool{}
	last := tracks[len(tracks)-1].ID
loop:
	for {
		select {
		case ev, ok := <-eng.Events():
			if !ok {
				break loop
			}
			events = append(events, ev)
			switch ev.Kind {
			case audio.EventTrackStarted:
				started[ev.TrackID] = true
				prepare()
			case audio.EventDecodeFailed:
				if !started[ev.TrackID] { // failed to open: the core moves on
					if ev.TrackID == last {
						break loop
					}
					prepare()
				}
			case audio.EventTrackEnded:
				if ev.TrackID == last {
					break loop
				}
			}
		case <-ctx.Done():
			var summary []audio.Event // position events would drown the story
			for _, e := range events {
				if e.Kind != audio.EventPosition {
					summary = append(summary, e)
				}
			}
			t.Fatalf("playlist not over after %v; events so far, without positions: %v", timeout, summary)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for range eng.Events() { // drained and closed by Serve's return
	}
	return events
}
