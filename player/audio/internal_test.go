package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/wav"
)

func TestLimiterKeepsCeiling(t *testing.T) {
	l := newLimiter(-1, 200*time.Millisecond, 44100)
	ceil := dbToLinear(-1)
	buf := make([][2]float64, 44100)
	for i := range buf {
		// A 4x overdriven tone with a lone spike every 10000 frames.
		v := 4 * math.Sin(2*math.Pi*440*float64(i)/44100)
		if i%10000 == 0 {
			v = 20
		}
		buf[i] = [2]float64{v, -v / 2}
	}
	l.process(buf)
	for i, f := range buf {
		if math.Abs(f[0]) > ceil+1e-12 || math.Abs(f[1]) > ceil+1e-12 {
			t.Fatalf("frame %d = %v above the ceiling %v", i, f, ceil)
		}
	}
	// Below the ceiling, after recovery, the signal passes unchanged.
	l = newLimiter(-1, 10*time.Millisecond, 44100)
	quiet := make([][2]float64, 1000)
	for i := range quiet {
		quiet[i] = [2]float64{0.5 * math.Sin(float64(i)), 0.25}
	}
	want := append([][2]float64(nil), quiet...)
	l.process(quiet)
	for i := range quiet {
		if quiet[i] != want[i] {
			t.Fatalf("frame %d changed: %v -> %v", i, want[i], quiet[i])
		}
	}
}

func TestWatchdogWindows(t *testing.T) {
	var got []string
	w := newWatchdog(-60, time.Second, 1000) // 100-frame windows, report after 1000 frames
	emit := func(k EventKind, at int64, silent int) { got = append(got, k.String()) }
	quiet := make([][2]float64, 2500)
	w.observe(quiet, 0, emit) // 2.5 s of silence: one report at 1 s, one at 2 s
	loud := [][2]float64{}
	for range 100 {
		loud = append(loud, [2]float64{0.01, 0.01}) // -40 dBFS: sound
	}
	w.observe(loud, 2500, emit)
	want := []string{"output-silent", "output-silent", "output-restored"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	var zero EngineConfig
	if err := zero.validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if zero != DefaultEngineConfig() {
		t.Fatalf("zero config filled to %+v", zero)
	}
	for _, mut := range []func(*EngineConfig){
		func(c *EngineConfig) { c.TargetLUFS = 3 },
		func(c *EngineConfig) { c.MaxGainDB = -1 },
		func(c *EngineConfig) { c.Crossfade = time.Minute },
		func(c *EngineConfig) { c.ResampleQuality = 64 },
		func(c *EngineConfig) { c.BlockFrames = 1 << 20 },
		func(c *EngineConfig) { c.SilenceThresholdDBFS = math.NaN() },
		func(c *EngineConfig) { c.EventBuffer = -1 },
	} {
		c := DefaultEngineConfig()
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		head string
		want Codec
	}{
		{"RIFF\x24\x00\x00\x00WAVEfmt ", CodecWAV},
		{"fLaC\x00\x00\x00\x22", CodecFLAC},
		{"OggS\x00\x02", CodecVorbis},
		{"ID3\x04\x00", CodecMP3},
		{"\xff\xfb\x90\x64", CodecMP3},
		{"RIFF\x24\x00\x00\x00AVI ", ""},
		{"\x00\x00\x00\x20ftypM4A ", ""},
		{"", ""},
	} {
		if got := sniff([]byte(c.head)); got != c.want {
			t.Errorf("sniff(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

// The WAV sink writes a header whose sizes match the data once closed, and beep's decoder reads it back.
func TestWAVSinkHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	s, err := CreateWAV(path, 48000)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][2]float64{{0, 0}, {1, -1}, {2, -2}, {0.5, -0.25}} // out of range values are clipped
	for range 1000 {
		if err := s.Write(t.Context(), frames); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(b), 44+4000*4; got != want {
		t.Fatalf("file is %d bytes, want %d", got, want)
	}
	if riff, data := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[40:]); riff != uint32(len(b)-8) || data != 16000 {
		t.Fatalf("header sizes riff=%d data=%d", riff, data)
	}
	d, f, err := wav.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if f.SampleRate != 48000 || f.NumChannels != 2 || d.Len() != 4000 {
		t.Fatalf("decoded %+v, %d frames", f, d.Len())
	}
	got := make([][2]float64, 4)
	d.Stream(got)
	if math.Abs(got[2][0]-1) > 1e-3 || math.Abs(got[2][1]+1) > 1e-3 || math.Abs(got[3][1]+0.25) > 1e-3 {
		t.Fatalf("decoded %v", got)
	}
	if err := s.Write(t.Context(), frames); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// A decoder that panics mid-stream ends the voice with an error instead of taking the process down.
func TestVoiceRecoversDecoderPanic(t *testing.T) {
	v := &voice{track: Track{ID: "p"}, dec: nopDecoder{}, fadeOutAt: -1, length: -1, gain: 1,
		src: beep.StreamerFunc(func([][2]float64) (int, bool) { panic("corrupt frame") })}
	if n := v.stream(make([][2]float64, 10)); n != 0 || !v.done || v.err == nil || v.endReason != EndFailed {
		t.Fatalf("n=%d done=%v err=%v reason=%v", n, v.done, v.err, v.endReason)
	}
	_, _, _, err := openTrack(Track{ID: "x", Open: func() (io.ReadSeekCloser, error) { return nil, errors.New("gone") }})
	if err == nil {
		t.Fatal("open error lost")
	}
}

type nopDecoder struct{}

func (nopDecoder) Stream([][2]float64) (int, bool) { return 0, false }
func (nopDecoder) Err() error                      { return nil }
func (nopDecoder) Len() int                        { return 0 }
func (nopDecoder) Position() int                   { return 0 }
func (nopDecoder) Seek(int) error                  { return nil }
func (nopDecoder) Close() error                    { return nil }

// Header sizes that overrun the file are refused before a decoder allocates them.
func TestPreflightRefusesOverrunningHeaders(t *testing.T) {
	for _, c := range []struct {
		codec Codec
		data  string
	}{
		{CodecWAV, "RIFF0\x00\x00\x00WAVE\x00\x00\x00\x01\x00\x02\x00@\x1f\x00\x00\x00}\x00\x00\x04\x00"},
		{CodecWAV, "RIFF0\x00\x00\x00WAVEfmt \xff\xff\xff\xff"},
		{CodecMP3, "ID3\x04\x00\x00\x7f\x7f\x7f\x7f\xff\xfb\x90\x64\x00"},
		{CodecFLAC, "fLaC\x00\xff\xff\xff"},
		// a VORBIS_COMMENT block claiming 4 billion comments in 12 bytes
		{CodecFLAC, "fLaC\x84\x00\x00\x0c\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"},
		// a PICTURE block whose data claims 4 GiB
		{CodecFLAC, "fLaC\x86\x00\x00\x20\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00" +
			"\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x18\x00\x00\x00\x00\xff\xff\xff\xff"},
	} {
		_, _, _, err := openTrack(Track{ID: "x", Open: func() (io.ReadSeekCloser, error) {
			return nopReadSeekCloser{bytes.NewReader([]byte(c.data))}, nil
		}})
		if err == nil || !strings.Contains(err.Error(), "overruns") {
			t.Errorf("%s %q: err = %v, want an overrun", c.codec, c.data, err)
		}
	}
}
