package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/lomuz/lomuz/player/audio/jingle"
)

// bitWriter packs bits LSB first, as Vorbis does.
type bitWriter struct {
	b []byte
	n uint
}

func (w *bitWriter) put(v uint64, bits uint) {
	for i := uint(0); i < bits; i++ {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.n % 8)
		w.n++
	}
}

func setupPacket(entries, dims uint64) []byte {
	var w bitWriter
	w.put(0, 8) // one codebook
	w.put(0x564342, 24)
	w.put(dims, 16)
	w.put(entries, 24)
	w.put(1, 1) // ordered
	w.put(0, 5) // first length
	w.put(entries, uint(ilog(entries)))
	w.put(0, 4) // no lookup
	return append([]byte("\x05vorbis"), w.b...)
}

func TestVorbisPreflight(t *testing.T) {
	// The jingle is a real libvorbis file: it passes.
	if err := preflightVorbis(bytes.NewReader(jingle.Bytes())); err != nil {
		t.Fatalf("jingle: %v", err)
	}
	if err := checkVorbisCodebooks(setupPacket(1000, 4)); err != nil {
		t.Fatalf("small ordered codebook: %v", err)
	}
	for _, c := range []struct {
		name string
		p    []byte
	}{
		{"huge codebook", setupPacket(1<<24-1, 1<<15)},
		{"empty codebook", setupPacket(0, 1)},
		{"truncated", setupPacket(1000, 4)[:12]},
		{"not a setup header", []byte("\x03vorbis....")},
	} {
		if err := checkVorbisCodebooks(c.p); !errors.Is(err, errVorbisHeader) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	comments := func(count uint32, lens ...uint32) []byte {
		b := []byte("\x03vorbis")
		b = binary.LittleEndian.AppendUint32(b, 3)
		b = append(b, "abc"...)
		b = binary.LittleEndian.AppendUint32(b, count)
		for _, l := range lens {
			b = binary.LittleEndian.AppendUint32(b, l)
			b = append(b, bytes.Repeat([]byte("x"), int(min(l, 8)))...)
		}
		return b
	}
	if err := checkVorbisComments(comments(2, 5, 8)); err != nil {
		t.Fatalf("valid comments: %v", err)
	}
	for _, b := range [][]byte{comments(1<<32 - 1), comments(1, 1<<31)} {
		if err := checkVorbisComments(b); err == nil {
			t.Errorf("accepted %q", b)
		}
	}
}
