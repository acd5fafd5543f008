package transcode

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/vorbis"

	"github.com/lomuz/lomuz/internal/testenv"
)

// master describes a generated test master: lead seconds of silence, body seconds of a 1 kHz sine at amp (linear
// peak, both channels; lavfi's sine is 1/8 full scale, hence volume amp*8) over faint pink noise, then tail seconds
// of silence.
type master struct {
	lead, body, tail float64
	amp              float64
	codecArgs        []string // ffmpeg output args, e.g. -c:a flac
	ext              string
}

// BS.1770: a 1 kHz sine at 0 dBFS in both channels of a stereo pair reads 0 LUFS, so amplitude 0.1 reads -20.
const sineLUFS = -20.0

var defaultMaster = master{lead: 1.5, body: 8, tail: 2.5, amp: 0.1, codecArgs: []string{"-c:a", "flac"}, ext: "flac"}

func genMaster(t testing.TB, dir string, m master) string {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	path := filepath.Join(dir, "master."+m.ext)
	filter := "[0][1]amix=inputs=2:normalize=0,pan=stereo|c0=c0|c1=c0," +
		"adelay=" + ms(m.lead) + "|" + ms(m.lead) + ",apad=pad_dur=" + ftoa(m.tail)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "sine=f=1000:r=44100:d=" + ftoa(m.body),
		"-f", "lavfi", "-i", "anoisesrc=c=pink:r=44100:a=0.001:d=" + ftoa(m.body),
		"-filter_complex", "[0]volume=" + ftoa(m.amp*8) + "[s];[s][1]" + filter[len("[0][1]"):]}
	args = append(args, m.codecArgs...)
	args = append(args, path)
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("generate master: %v\n%s", err, out)
	}
	return path
}

func ms(sec float64) string { return ftoa(sec * 1000) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func newTestTranscoder(t testing.TB) *Transcoder {
	t.Helper()
	cfg := DefaultConfig()
	cfg.FFmpeg, cfg.FFprobe = testenv.Tool(t, "ffmpeg"), testenv.Tool(t, "ffprobe")
	tc, err := NewTranscoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func TestEncodeDecodesAndMeasures(t *testing.T) {
	tc := newTestTranscoder(t)
	dir := t.TempDir()
	ctx := context.Background()
	for _, m := range []master{
		defaultMaster,
		{lead: 1.5, body: 8, tail: 2.5, amp: 0.1, codecArgs: []string{"-c:a", "pcm_s16le"}, ext: "wav"},
		{lead: 1.5, body: 8, tail: 2.5, amp: 0.1, codecArgs: []string{"-c:a", "libmp3lame", "-b:a", "192k"}, ext: "mp3"},
	} {
		t.Run(m.ext, func(t *testing.T) {
			src := genMaster(t, t.TempDir(), m)
			probe, err := tc.Probe(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, m.ext+".ogg")
			if err := tc.Encode(ctx, src, out); err != nil {
				t.Fatal(err)
			}
			total := m.lead + m.body + m.tail
			// The rendition decodes with the player's decoder, at the delivery format, for its whole length.
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stream, format, err := vorbis.Decode(f)
			if err != nil {
				t.Fatalf("beep cannot decode the rendition: %v", err)
			}
			defer stream.Close()
			if format.SampleRate != 44100 || format.NumChannels != 2 {
				t.Fatalf("rendition format %+v, want 44100 Hz stereo", format)
			}
			n := countSamples(stream)
			if got := float64(n) / 44100; math.Abs(got-total) > 0.1 {
				t.Fatalf("decoded %.3f s, want %.3f (master probed %d ms)", got, total, probe.DurationMS)
			}
			a, err := tc.Analyze(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(a.DurationMS)/1000-total) > 0.1 {
				t.Fatalf("duration %d ms, want %.0f", a.DurationMS, total*1000)
			}
			if math.Abs(a.LoudnessLUFS-sineLUFS) > 1 {
				t.Fatalf("integrated loudness %.2f LUFS, want %.1f ± 1", a.LoudnessLUFS, sineLUFS)
			}
			if d := math.Abs(float64(a.CueInMS) - m.lead*1000); d > 150 {
				t.Fatalf("cue in %d ms, want %.0f ± 150", a.CueInMS, m.lead*1000)
			}
			if d := math.Abs(float64(a.CueOutMS) - (m.lead+m.body)*1000); d > 150 {
				t.Fatalf("cue out %d ms, want %.0f ± 150", a.CueOutMS, (m.lead+m.body)*1000)
			}
		})
	}
}

func countSamples(s beep.Streamer) int {
	buf := make([][2]float64, 4096)
	total := 0
	for {
		n, ok := s.Stream(buf)
		total += n
		if !ok {
			return total
		}
	}
}

func TestEncodeIsBitExact(t *testing.T) {
	tc := newTestTranscoder(t)
	dir := t.TempDir()
	src := genMaster(t, dir, defaultMaster)
	var sums []string
	for _, name := range []string{"a.ogg", "b.ogg"} {
		out := filepath.Join(dir, name)
		if err := tc.Encode(context.Background(), src, out); err != nil {
			t.Fatal(err)
		}
		sha, _, _, err := hashFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sha)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two encodes of one master differ (%s vs %s): a retried job would store a second blob", sums[0], sums[1])
	}
}

func TestNoCuesWhenAudioFillsTheFile(t *testing.T) {
	tc := newTestTranscoder(t)
	dir := t.TempDir()
	src := genMaster(t, dir, master{body: 5, amp: 0.3, codecArgs: []string{"-c:a", "flac"}, ext: "flac"})
	out := filepath.Join(dir, "r.ogg")
	if err := tc.Encode(context.Background(), src, out); err != nil {
		t.Fatal(err)
	}
	a, err := tc.Analyze(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if a.CueInMS != 0 || a.CueOutMS != 0 {
		t.Fatalf("cues %d, %d on a file with no silence at its ends", a.CueInMS, a.CueOutMS)
	}
}

func TestBadMasters(t *testing.T) {
	tc := newTestTranscoder(t)
	dir := t.TempDir()
	ctx := context.Background()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("this is a shopping list, not a song\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Probe(ctx, text); !errors.Is(err, ErrNotAudio) {
		t.Fatalf("Probe(text) = %v, want ErrNotAudio", err)
	}
	silent := genMaster(t, t.TempDir(), master{body: 3, amp: 0, codecArgs: []string{"-c:a", "flac"}, ext: "flac"})
	out := filepath.Join(dir, "silent.ogg")
	if err := tc.Encode(ctx, silent, out); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Analyze(ctx, out); !errors.Is(err, ErrSilent) {
		t.Fatalf("Analyze(silence) = %v, want ErrSilent", err)
	}
	short := DefaultConfig()
	short.FFmpeg, short.FFprobe, short.MaxDuration = tc.cfg.FFmpeg, tc.cfg.FFprobe, 2*time.Second
	tcShort, err := NewTranscoder(short)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcShort.Probe(ctx, silent); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Probe(3 s master, 2 s limit) = %v, want ErrTooLong", err)
	}
}

func TestEncodeStopsWithContext(t *testing.T) {
	tc := newTestTranscoder(t)
	dir := t.TempDir()
	src := genMaster(t, dir, defaultMaster)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tc.Encode(ctx, src, filepath.Join(dir, "x.ogg")); err == nil {
		t.Fatal("Encode with a canceled context succeeded")
	}
}
