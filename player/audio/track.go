package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/flac"
	"github.com/gopxl/beep/v2/mp3"
	"github.com/gopxl/beep/v2/vorbis"
	"github.com/gopxl/beep/v2/wav"
)

// Codec names a container/codec the engine decodes.
type Codec string

const (
	CodecMP3    Codec = "mp3"
	CodecVorbis Codec = "vorbis" // Ogg Vorbis
	CodecFLAC   Codec = "flac"
	CodecWAV    Codec = "wav" // RIFF WAVE, PCM
)

// NoCrossfade as Track.Crossfade makes the track start without overlapping the previous one.
const NoCrossfade time.Duration = -1

// Bounds on what a Track may say; they come from the catalog, so they are checked like any outside input.
const (
	maxTrackIDLen = 256
	maxCue        = 24 * time.Hour
	minLUFS       = -70.0 // ebur128's absolute gate
	maxLUFS       = 6.0
	minRate       = 8000
	maxRate       = 384000
)

// Errors a caller may compare with errors.Is.
var (
	ErrInvalidTrack = errors.New("audio: invalid track")
	ErrUnknownCodec = errors.New("audio: unknown codec")
	ErrClosed       = errors.New("audio: engine stopped")
)

// Track is one asset to play, as the node core describes it.
type Track struct {
	// ID identifies the track in events (the asset id). 1-256 bytes.
	ID string
	// Path is the file to play. Exactly one of Path and Open is set.
	Path string
	// Open opens the bytes to play (the built-in jingle, a blob from another store). The engine closes what it
	// returns. It is called once, from Prepare or Play.
	Open func() (io.ReadSeekCloser, error)
	// Codec is a hint used only when the file's first bytes do not identify it; empty means sniff only.
	Codec Codec
	// LoudnessLUFS is the asset's integrated loudness as measured by ffmpeg's ebur128 filter on the file as it is
	// (a mono file measured as mono). 0 means unknown: the track plays at unity gain.
	LoudnessLUFS float64
	// CueIn skips the start of the file; CueOut (0 = the end) ends it early. Both from the file's start.
	CueIn, CueOut time.Duration
	// Crossfade is the overlap with the previous track when this one follows it: 0 takes the engine's default,
	// NoCrossfade none, otherwise at most EngineConfig.MaxCrossfade.
	Crossfade time.Duration
}

func (t Track) validate(cfg *EngineConfig) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidTrack, t.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case t.ID == "" || len(t.ID) > maxTrackIDLen:
		return bad("id must be 1-%d bytes", maxTrackIDLen)
	case (t.Path == "") == (t.Open == nil):
		return bad("exactly one of Path and Open must be set")
	case t.Codec != "" && t.Codec != CodecMP3 && t.Codec != CodecVorbis && t.Codec != CodecFLAC && t.Codec != CodecWAV:
		return bad("codec %q not one of mp3, vorbis, flac, wav", t.Codec)
	case math.IsNaN(t.LoudnessLUFS) || t.LoudnessLUFS < minLUFS || t.LoudnessLUFS > maxLUFS:
		return bad("loudness %v LUFS outside [%v, %v]", t.LoudnessLUFS, minLUFS, maxLUFS)
	case t.CueIn < 0 || t.CueIn > maxCue:
		return bad("cue in %v outside [0, %v]", t.CueIn, maxCue)
	case t.CueOut != 0 && (t.CueOut <= t.CueIn || t.CueOut > maxCue):
		return bad("cue out %v must be after cue in %v and at most %v", t.CueOut, t.CueIn, maxCue)
	case t.Crossfade != NoCrossfade && (t.Crossfade < 0 || t.Crossfade > cfg.MaxCrossfade):
		return bad("crossfade %v outside [0, %v]", t.Crossfade, cfg.MaxCrossfade)
	}
	return nil
}

// crossfade is the overlap this track asks for when it follows another, before limits by length.
func (t Track) crossfade(cfg *EngineConfig) time.Duration {
	switch t.Crossfade {
	case NoCrossfade:
		return 0
	case 0:
		return cfg.Crossfade
	}
	return t.Crossfade
}

// sniff identifies a codec from the first bytes of a file; "" when unknown.
func sniff(h []byte) Codec {
	switch {
	case len(h) >= 12 && bytes.Equal(h[0:4], []byte("RIFF")) && bytes.Equal(h[8:12], []byte("WAVE")):
		return CodecWAV
	case len(h) >= 4 && bytes.Equal(h[0:4], []byte("fLaC")):
		return CodecFLAC
	case len(h) >= 4 && bytes.Equal(h[0:4], []byte("OggS")):
		return CodecVorbis
	case len(h) >= 3 && bytes.Equal(h[0:3], []byte("ID3")):
		return CodecMP3
	case len(h) >= 2 && h[0] == 0xFF && h[1]&0xE0 == 0xE0: // MPEG audio frame sync
		return CodecMP3
	}
	return ""
}

// openTrack opens the track's bytes and its decoder. Third-party decoders may panic on hostile input: a panic
// becomes an error.
func openTrack(t Track) (dec beep.StreamSeekCloser, format beep.Format, codec Codec, err error) {
	var rc io.ReadSeekCloser
	if t.Open != nil {
		rc, err = t.Open()
	} else {
		rc, err = os.Open(t.Path)
	}
	if err != nil {
		return nil, format, "", fmt.Errorf("open: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s decoder panicked: %v", codec, r)
		}
		if err != nil {
			rc.Close()
			dec = nil
		}
	}()
	var head [12]byte
	n, err := io.ReadFull(rc, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, format, "", fmt.Errorf("read header: %w", err)
	}
	if _, err := rc.Seek(0, io.SeekStart); err != nil {
		return nil, format, "", fmt.Errorf("seek: %w", err)
	}
	codec = sniff(head[:n])
	if codec == "" {
		codec = t.Codec
	}
	if err := preflight(codec, rc); err != nil {
		return nil, format, codec, err
	}
	channels := 0 // from the decoder, except where it hides it
	switch codec {
	case CodecMP3:
		// go-mp3 always decodes to stereo; the loudness figure needs the file's own channel count.
		if mono, err := mp3Mono(rc); err != nil {
			return nil, format, codec, err
		} else if mono {
			channels = 1
		}
		dec, format, err = mp3.Decode(rc)
	case CodecVorbis:
		dec, format, err = vorbis.Decode(rc)
	case CodecFLAC:
		dec, format, err = flac.Decode(rc)
	case CodecWAV:
		dec, format, err = wav.Decode(rc)
	default:
		return nil, format, "", fmt.Errorf("%w: first bytes %x", ErrUnknownCodec, head[:n])
	}
	if err != nil {
		return nil, format, codec, err
	}
	if channels != 0 {
		format.NumChannels = channels
	}
	if format.SampleRate < minRate || format.SampleRate > maxRate || format.NumChannels < 1 || format.NumChannels > 2 {
		dec.Close()
		return nil, format, codec, fmt.Errorf("%s: unsupported format %d Hz, %d channels", codec, format.SampleRate, format.NumChannels)
	}
	return dec, format, codec, nil
}

// mp3Probe bounds how far mp3Mono reads to find the first frame header after an ID3v2 tag (cover art included).
const mp3Probe = 1 << 20

// mp3Mono reports whether the first MPEG audio frame of r is single-channel, and leaves r at its start.
func mp3Mono(r io.ReadSeeker) (bool, error) {
	defer r.Seek(0, io.SeekStart)
	var h [10]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, fmt.Errorf("mp3: read header: %w", err)
	}
	skip := int64(0)
	if bytes.Equal(h[:3], []byte("ID3")) {
		// ID3v2: the tag size is a 28-bit syncsafe integer after a 10-byte header.
		skip = 10 + (int64(h[6]&0x7f)<<21 | int64(h[7]&0x7f)<<14 | int64(h[8]&0x7f)<<7 | int64(h[9]&0x7f))
	}
	if _, err := r.Seek(skip, io.SeekStart); err != nil {
		return false, fmt.Errorf("mp3: seek past ID3: %w", err)
	}
	buf := make([]byte, 64<<10)
	var prev byte
	for read := int64(0); read < mp3Probe; {
		n, err := r.Read(buf)
		for i := 0; i < n; i++ {
			// Frame sync: 11 set bits; the channel mode is the top two bits of the header's fourth byte.
			if prev == 0xFF && buf[i]&0xE0 == 0xE0 && i+2 < n {
				return buf[i+2]>>6 == 3, nil
			}
			prev = buf[i]
		}
		read += int64(n)
		if err != nil {
			break
		}
	}
	return false, nil
}

// preflight checks the sizes in a file's headers against the file's length before a decoder trusts them: beep's
// WAV decoder and go-mp3 allocate whatever a chunk or ID3 header claims (up to 2 GiB and 256 MiB), so a corrupt
// file could otherwise exhaust the device's memory. After it, every allocation is bounded by the file's size.
func preflight(codec Codec, r io.ReadSeeker) error {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("%s: seek: %w", codec, err)
	}
	defer r.Seek(0, io.SeekStart)
	switch codec {
	case CodecWAV:
		// RIFF chunks after the 12-byte "RIFF" size "WAVE" preamble, up to the data chunk.
		const maxChunks = 1024
		off := int64(12)
		for range maxChunks {
			var h [8]byte
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				return fmt.Errorf("wav: seek: %w", err)
			}
			if _, err := io.ReadFull(r, h[:]); err != nil {
				return fmt.Errorf("wav: no data chunk: %w", err)
			}
			if string(h[:4]) == "data" {
				return nil
			}
			n := int64(int32(binary.LittleEndian.Uint32(h[4:])))
			if n < 0 || off+8+n > size {
				return fmt.Errorf("wav: chunk %q of %d bytes overruns the %d-byte file", h[:4], n, size)
			}
			off += 8 + n + n%2
		}
		return fmt.Errorf("wav: no data chunk in the first %d chunks", maxChunks)
	case CodecFLAC:
		return preflightFLAC(r, size)
	case CodecVorbis:
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("vorbis: seek: %w", err)
		}
		return preflightVorbis(r)
	case CodecMP3:
		var h [10]byte
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("mp3: seek: %w", err)
		}
		if _, err := io.ReadFull(r, h[:]); err == nil && bytes.Equal(h[:3], []byte("ID3")) {
			n := int64(h[6]&0x7f)<<21 | int64(h[7]&0x7f)<<14 | int64(h[8]&0x7f)<<7 | int64(h[9]&0x7f)
			if 10+n > size {
				return fmt.Errorf("mp3: ID3 tag of %d bytes overruns the %d-byte file", n, size)
			}
		}
	}
	return nil
}

// preflightFLAC walks the metadata blocks after "fLaC": each must fit in the file, and the counts and lengths
// inside VORBIS_COMMENT and PICTURE blocks, which mewkiz/flac allocates as read (32-bit), must fit in their block.
func preflightFLAC(r io.ReadSeeker, size int64) error {
	const maxBlocks = 1024
	off := int64(4)
	for range maxBlocks {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("flac: seek: %w", err)
		}
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("flac: metadata block header: %w", err)
		}
		last, typ := h[0]&0x80 != 0, h[0]&0x7f
		n := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
		if off+4+n > size {
			return fmt.Errorf("flac: metadata block of %d bytes overruns the %d-byte file", n, size)
		}
		if typ == 4 || typ == 6 { // VORBIS_COMMENT, PICTURE: at most 16 MiB, read to check inside
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return fmt.Errorf("flac: metadata block: %w", err)
			}
			if err := checkFLACBlock(typ, body); err != nil {
				return err
			}
		}
		off += 4 + n
		if last {
			return nil
		}
	}
	return fmt.Errorf("flac: more than %d metadata blocks", maxBlocks)
}

func checkFLACBlock(typ byte, b []byte) error {
	ok := true
	if typ == 4 {
		ok = checkVorbisCommentBody(b) == nil
	} else {
		// PICTURE, big-endian: type, MIME string, description string, 4 dimensions, data.
		c := lengths{b: b, order: binary.BigEndian}
		_, ok = c.u32()
		ok = ok && c.str() && c.str() && c.skip(16) && c.str()
	}
	if !ok {
		return fmt.Errorf("flac: metadata block type %d: a length overruns the block", typ)
	}
	return nil
}
