package audio_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/flac"
	"github.com/gopxl/beep/v2/mp3"
	"github.com/gopxl/beep/v2/vorbis"
	"github.com/gopxl/beep/v2/wav"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

type benchInput struct {
	name  string
	codec audio.Codec
	rate  int
}

// Stereo pink noise (the worst case for lossy decoders: every band busy) per codec; vorbis-48k adds resampling.
var benchInputs = []benchInput{
	{"mp3", audio.CodecMP3, 44100},
	{"vorbis", audio.CodecVorbis, 44100},
	{"vorbis-48k", audio.CodecVorbis, 48000},
	{"flac", audio.CodecFLAC, 44100},
	{"wav", audio.CodecWAV, 44100},
}

// benchSeconds is the length of each benchmark file; LOMUZ_BENCH_AUDIO_SECONDS overrides the default 30.
func benchSeconds(b *testing.B) float64 {
	if s := os.Getenv("LOMUZ_BENCH_AUDIO_SECONDS"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			b.Fatalf("LOMUZ_BENCH_AUDIO_SECONDS=%q", s)
		}
		return v
	}
	return 30
}

// cpuTime is the process's user + system CPU time: on a machine shared with other work, audio seconds per CPU
// second is steadier than per wall second, and it is what a device's CPU budget is spent in.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report records x real time per wall second and per CPU second.
func report(b *testing.B, audioSecs float64, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(audioSecs/time.Since(start).Seconds(), "x_realtime")
	b.ReportMetric(audioSecs/(cpuTime(b)-cpu0).Seconds(), "x_realtime_cpu")
}

// BenchmarkEngine measures the whole engine (decode, resample, gain, limiter, watchdog) into the unpaced null
// sink, as x real time: seconds of audio per second of wall time, and per second of CPU time.
func BenchmarkEngine(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			secs := benchSeconds(b)
			path := audiotest.Generate(b, b.TempDir(), in.name, audiotest.Spec{Source: "pink", Seconds: secs, Rate: in.rate, Codec: in.codec})
			var frames int64
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				sink := audio.NewNullSink(44100, nil)
				eng, err := audio.NewEngine(audio.DefaultEngineConfig(), sink)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- eng.Serve(ctx) }()
				if err := eng.Prepare(audio.Track{ID: "x", Path: path, LoudnessLUFS: -20}); err != nil {
					b.Fatal(err)
				}
				for ev := range eng.Events() {
					if ev.Kind == audio.EventTrackStarted {
						eng.Drain()
					}
					if ev.Kind == audio.EventTrackEnded || ev.Kind == audio.EventDecodeFailed {
						break
					}
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				frames += sink.Frames()
			}
			report(b, float64(frames)/44100, start, cpu0)
		})
	}
}

// BenchmarkDecodeOnly is the baseline: beep's decoder alone, no resampling or mixing.
func BenchmarkDecodeOnly(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			secs := benchSeconds(b)
			path := audiotest.Generate(b, b.TempDir(), in.name, audiotest.Spec{Source: "pink", Seconds: secs, Rate: in.rate, Codec: in.codec})
			buf := make([][2]float64, 1024)
			var audioSecs float64
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				var s beep.StreamSeekCloser
				var format beep.Format
				switch in.codec {
				case audio.CodecMP3:
					s, format, err = mp3.Decode(f)
				case audio.CodecVorbis:
					s, format, err = vorbis.Decode(f)
				case audio.CodecFLAC:
					s, format, err = flac.Decode(f)
				case audio.CodecWAV:
					s, format, err = wav.Decode(f)
				}
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					k, ok := s.Stream(buf)
					n += k
					if !ok {
						break
					}
				}
				s.Close()
				audioSecs += float64(n) / float64(format.SampleRate)
			}
			report(b, audioSecs, start, cpu0)
		})
	}
}
