package transcode

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
)

// benchTrack generates the reference track of the size comparison in the package doc: 184 s (1.5 s of silence,
// 180 s of changing tones with tremolo over pink noise, 2.5 s of silence), 44.1 kHz stereo WAV.
func benchTrack(b *testing.B) string {
	b.Helper()
	ffmpeg := testenv.Tool(b, "ffmpeg")
	path := filepath.Join(b.TempDir(), "song.wav")
	tones := "aevalsrc=exprs='0.25*sin(2*PI*(220+110*floor(mod(t,8)/2))*t)*(0.6+0.4*sin(2*PI*2*t))" +
		"+0.15*sin(2*PI*(330+55*floor(mod(t,4)))*t)+0.1*sin(2*PI*660*t)*exp(-8*mod(t,0.5))':s=44100:d=180"
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", tones,
		"-f", "lavfi", "-i", "anoisesrc=d=180:c=pink:a=0.05:r=44100", "-filter_complex",
		"[0][1]amix=inputs=2:normalize=0,pan=stereo|c0=c0|c1=0.9*c0,adelay=1500|1500,apad=pad_dur=2.5",
		"-c:a", "pcm_s16le", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("generate track: %v\n%s", err, out)
	}
	return path
}

const benchTrackSec = 184.0

// BenchmarkRendition encodes the reference track to the delivery rendition (Encode, the worker's own call) and,
// for comparison, to the seed's formats with the same ffmpeg. It reports bytes, average kbps and speed (times
// real time). HE-AAC v2 needs libfdk_aac, which Debian's ffmpeg lacks; AAC-LC at the same 64 kbps stands in (the
// bitrate, not the profile, sets the size).
func BenchmarkRendition(b *testing.B) {
	src := benchTrack(b)
	tc := newTestTranscoder(b)
	report := func(b *testing.B, out string) {
		fi, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size()), "bytes")
		b.ReportMetric(float64(fi.Size())*8/benchTrackSec/1000, "kbps")
		b.ReportMetric(benchTrackSec*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
	}
	b.Run("vorbis-80k-rendition", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "r.ogg")
		for b.Loop() {
			if err := tc.Encode(context.Background(), src, out); err != nil {
				b.Fatal(err)
			}
		}
		report(b, out)
	})
	for _, ref := range []struct {
		name string
		args []string
		ext  string
	}{
		{"aac-64k-seed", []string{"-c:a", "aac", "-b:a", "64k"}, "m4a"},
		{"mp3-320k-seed-master", []string{"-c:a", "libmp3lame", "-b:a", "320k"}, "mp3"},
	} {
		b.Run(ref.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "r."+ref.ext)
			for b.Loop() {
				args := append([]string{"-hide_banner", "-loglevel", "error", "-y", "-i", src}, ref.args...)
				if o, err := exec.Command(tc.cfg.FFmpeg, append(args, out)...).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, o)
				}
			}
			report(b, out)
		})
	}
}

// BenchmarkAnalyze measures the loudness and silence pass over the rendition of the reference track.
func BenchmarkAnalyze(b *testing.B) {
	src := benchTrack(b)
	tc := newTestTranscoder(b)
	out := filepath.Join(b.TempDir(), "r.ogg")
	if err := tc.Encode(context.Background(), src, out); err != nil {
		b.Fatal(err)
	}
	var a Analysis
	for b.Loop() {
		var err error
		if a, err = tc.Analyze(context.Background(), out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(benchTrackSec*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
	b.ReportMetric(a.LoudnessLUFS, "LUFS")
}
