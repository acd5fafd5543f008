package audio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopxl/beep/v2"
)

// wavHeaderSize is the canonical 44-byte RIFF/WAVE header of 16-bit PCM.
const wavHeaderSize = 44

// maxWAVData bounds the data chunk: RIFF sizes are 32-bit. 4 GiB is about 6.7 hours of 44.1 kHz stereo.
const maxWAVData = 1<<32 - 1 - (wavHeaderSize - 8)

// ErrWAVFull is returned by WAVSink.Write when the file would exceed the 4 GiB limit of the RIFF format.
var ErrWAVFull = errors.New("audio: wav file full (4 GiB RIFF limit)")

// WAVSink writes the output as a 16-bit stereo PCM WAV file. It is unpaced: it takes frames as fast as the engine
// renders them. The header is written with zero sizes first and finalised by Close. beep's wav.Encode pulls from
// a streamer until it drains, which does not fit a sink the engine pushes into; the encoding is beep's own
// (beep.Format.EncodeSigned), and beep's wav decoder reads the result.
type WAVSink struct {
	w      io.WriteSeeker
	bw     *bufio.Writer
	owned  io.Closer // the file CreateWAV opened, closed by Close
	format beep.Format
	data   int64 // bytes of the data chunk written
	buf    []byte
	closed bool
}

// NewWAVSink starts a WAV file on w at rate. Close finalises it; w stays the caller's to close.
func NewWAVSink(w io.WriteSeeker, rate beep.SampleRate) (*WAVSink, error) {
	if rate < minRate || rate > maxRate {
		return nil, fmt.Errorf("audio: wav sample rate %d outside [%d, %d]", rate, minRate, maxRate)
	}
	s := &WAVSink{w: w, bw: bufio.NewWriterSize(w, 64<<10),
		format: beep.Format{SampleRate: rate, NumChannels: 2, Precision: 2}}
	if err := s.writeHeader(s.bw); err != nil {
		return nil, err
	}
	return s, nil
}

// CreateWAV creates (or truncates) the file at path and returns a WAVSink that closes it on Close.
func CreateWAV(path string, rate beep.SampleRate) (*WAVSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	s, err := NewWAVSink(f, rate)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.owned = f
	return s, nil
}

func (s *WAVSink) SampleRate() beep.SampleRate { return s.format.SampleRate }
func (s *WAVSink) Paced() bool                 { return false }

// Frames returns how many frames have been written so far.
func (s *WAVSink) Frames() int64 { return s.data / int64(s.format.Width()) }

func (s *WAVSink) Write(_ context.Context, frames [][2]float64) error {
	if s.closed {
		return errors.New("audio: wav sink closed")
	}
	n := len(frames) * s.format.Width()
	if s.data+int64(n) > maxWAVData {
		return ErrWAVFull
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	for i, f := range frames {
		f[0] = min(max(f[0], -1), 1)
		f[1] = min(max(f[1], -1), 1)
		s.format.EncodeSigned(b[i*4:], f)
	}
	if _, err := s.bw.Write(b); err != nil {
		return fmt.Errorf("audio: wav write: %w", err)
	}
	s.data += int64(n)
	return nil
}

// Close flushes the data, writes the final sizes into the header and leaves w positioned at its end.
func (s *WAVSink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.bw.Flush()
	if err == nil {
		_, err = s.w.Seek(0, io.SeekStart)
	}
	if err == nil {
		err = s.writeHeader(s.w)
	}
	if err == nil {
		_, err = s.w.Seek(0, io.SeekEnd)
	}
	if s.owned != nil {
		if cerr := s.owned.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("audio: wav close: %w", err)
	}
	return nil
}

func (s *WAVSink) writeHeader(w io.Writer) error {
	f := s.format
	h := struct {
		Riff          [4]byte
		FileSize      uint32
		Wave, Fmt     [4]byte
		FmtSize       uint32
		FormatType    uint16
		Channels      uint16
		SampleRate    uint32
		ByteRate      uint32
		BlockAlign    uint16
		BitsPerSample uint16
		Data          [4]byte
		DataSize      uint32
	}{
		Riff: [4]byte{'R', 'I', 'F', 'F'}, FileSize: uint32(wavHeaderSize - 8 + s.data),
		Wave: [4]byte{'W', 'A', 'V', 'E'}, Fmt: [4]byte{'f', 'm', 't', ' '}, FmtSize: 16, FormatType: 1,
		Channels: uint16(f.NumChannels), SampleRate: uint32(f.SampleRate),
		ByteRate:   uint32(int(f.SampleRate) * f.Width()),
		BlockAlign: uint16(f.Width()), BitsPerSample: uint16(8 * f.Precision),
		Data: [4]byte{'d', 'a', 't', 'a'}, DataSize: uint32(s.data),
	}
	if err := binary.Write(w, binary.LittleEndian, &h); err != nil {
		return fmt.Errorf("audio: wav header: %w", err)
	}
	return nil
}
