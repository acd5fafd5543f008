package audio_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

const outRate = beep.SampleRate(44100)

// playToWAV plays tracks through a new engine into a WAV file and returns the events and the decoded output.
func playToWAV(t *testing.T, cfg audio.EngineConfig, tracks []audio.Track) ([]audio.Event, [][2]float64, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.wav")
	sink, err := audio.CreateWAV(path, outRate)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := audio.NewEngine(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	events := audiotest.Play(t, eng, tracks, 2*time.Minute)
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	frames, rate := audiotest.ReadWAV(t, path)
	if rate != outRate {
		t.Fatalf("output rate %d, want %d", rate, outRate)
	}
	return events, frames, path
}

func seconds(frames int) float64 { return float64(frames) / float64(outRate) }

func rmsDB(frames [][2]float64) float64 {
	var acc float64
	for _, f := range frames {
		acc += (f[0]*f[0] + f[1]*f[1]) / 2
	}
	return 10 * math.Log10(acc/float64(len(frames))+1e-30)
}

// tone returns the amplitude of frequency f in frames (left channel): the Goertzel algorithm over a Hann window,
// whose side lobes keep a tone a few bins away from leaking into the measurement.
func tone(frames [][2]float64, f float64) float64 {
	w := 2 * math.Pi * f / float64(outRate)
	c := 2 * math.Cos(w)
	var s1, s2, sum float64
	n := float64(len(frames))
	for i, x := range frames {
		h := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
		sum += h
		s1, s2 = h*x[0]+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(math.Max(p, 0)) / sum
}

// find returns the events of a kind for a track ("" for any).
func find(events []audio.Event, kind audio.EventKind, id string) []audio.Event {
	var out []audio.Event
	for _, e := range events {
		if e.Kind == kind && (id == "" || e.TrackID == id) {
			out = append(out, e)
		}
	}
	return out
}

func one(t *testing.T, events []audio.Event, kind audio.EventKind, id string) audio.Event {
	t.Helper()
	got := find(events, kind, id)
	if len(got) != 1 {
		t.Fatalf("want one %v for %q, got %d; events: %v", kind, id, len(got), events)
	}
	return got[0]
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
	}
}

func fileTrack(id, path string) audio.Track { return audio.Track{ID: id, Path: path} }
