package audio

import (
	"bytes"
	"io"
	"testing"

	"github.com/lomuz/lomuz/player/audio/jingle"
)

type nopReadSeekCloser struct{ *bytes.Reader }

func (nopReadSeekCloser) Close() error { return nil }

// memWriteSeeker is an in-memory io.WriteSeeker for building WAV seeds.
type memWriteSeeker struct {
	b   []byte
	off int
}

func (m *memWriteSeeker) Write(p []byte) (int, error) {
	if need := m.off + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += len(p)
	return len(p), nil
}

func (m *memWriteSeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.off = int(off)
	case io.SeekEnd:
		m.off = len(m.b) + int(off)
	default:
		m.off += int(off)
	}
	return int64(m.off), nil
}

// FuzzDecode feeds arbitrary bytes to the decoders through the engine's own path: opening either fails with an
// error or yields a voice that streams a bounded number of frames and ends; nothing panics or hangs.
func FuzzDecode(f *testing.F) {
	f.Add(jingle.Bytes())
	f.Add(jingle.Bytes()[:2000])
	var w memWriteSeeker
	s, err := NewWAVSink(&w, 8000)
	if err != nil {
		f.Fatal(err)
	}
	s.Write(f.Context(), [][2]float64{{0.5, -0.5}, {0.25, 0.1}, {-1, 1}})
	s.Close()
	f.Add(w.b)
	f.Add([]byte("fLaC\x00\x00\x00\x22\x10\x00\x10\x00"))
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64\x00"))
	f.Add([]byte("OggS\x00\x02\x00\x00"))
	// A chunk claiming 500 MiB made beep's WAV decoder allocate it: preflight must refuse it.
	f.Add([]byte("RIFF0\x00\x00\x00WAVE\x00\x00\x00\x01\x00\x02\x00@\x1f\x00\x00\x00}\x00\x00\x04\x00"))
	// An ID3 tag claiming 256 MiB, likewise for go-mp3.
	f.Add([]byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f\xff\xfb\x90\x64\x00"))
	cfg := DefaultEngineConfig()
	if err := cfg.validate(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := Track{ID: "fuzz", Open: func() (io.ReadSeekCloser, error) {
			return nopReadSeekCloser{bytes.NewReader(data)}, nil
		}}
		v, err := newVoice(tr, &cfg, 44100)
		if err != nil {
			return
		}
		defer v.close()
		buf := make([][2]float64, 4096)
		// At most 2 s of output at 44.1 kHz: a header may claim any length, and garbage decodes as well as music
		// does; a longer bound only makes each run slower.
		for range 44100 * 2 / len(buf) {
			if v.stream(buf) < len(buf) {
				return
			}
		}
	})
}
