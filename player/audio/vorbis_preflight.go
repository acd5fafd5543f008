package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Bounds on the Vorbis headers, checked before jfreymuth/vorbis allocates what they claim.
const (
	// oggHeaderBudget bounds the bytes read to collect the three Vorbis header packets. libvorbis' setup header is
	// a few KB; comments with cover art may be large, but not this large.
	oggHeaderBudget = 16 << 20
	// maxCodebookValues bounds entries x dimensions of one codebook (the decoder allocates that many float32, and
	// a Huffman table of twice the entries), maxSetupValues their sum. libvorbis files measured here stay below
	// 2^16 per codebook (52,488 at 80 kbps) and 2^18 in all; the bounds leave 16x and more above that.
	maxCodebookValues = 1 << 20
	maxSetupValues    = 1 << 22
)

var errVorbisHeader = errors.New("vorbis: malformed header")

// preflightVorbis collects the identification, comment and setup packets of the first Ogg stream and checks every
// count and length in the comment header and every codebook size in the setup header against the packet.
func preflightVorbis(r io.Reader) error {
	packets, err := oggFirstPackets(io.LimitReader(r, oggHeaderBudget), 3)
	if err != nil {
		return err
	}
	if err := checkVorbisComments(packets[1]); err != nil {
		return err
	}
	return checkVorbisCodebooks(packets[2])
}

// oggFirstPackets returns the first n packets of the first logical stream of an Ogg file.
func oggFirstPackets(r io.Reader, n int) ([][]byte, error) {
	var packets [][]byte
	var cur []byte
	serial, first := uint32(0), true
	for len(packets) < n {
		var h [27]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, fmt.Errorf("vorbis: ogg page header: %w", err)
		}
		if !bytes.Equal(h[:4], []byte("OggS")) {
			return nil, fmt.Errorf("%w: no ogg page", errVorbisHeader)
		}
		segs := make([]byte, h[26])
		if _, err := io.ReadFull(r, segs); err != nil {
			return nil, fmt.Errorf("vorbis: ogg segment table: %w", err)
		}
		size := 0
		for _, s := range segs {
			size += int(s)
		}
		body := make([]byte, size) // at most 255 x 255 bytes
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("vorbis: ogg page: %w", err)
		}
		if s := binary.LittleEndian.Uint32(h[14:]); first {
			serial, first = s, false
		} else if s != serial {
			continue // another logical stream, interleaved
		}
		off := 0
		for _, s := range segs {
			cur = append(cur, body[off:off+int(s)]...)
			off += int(s)
			if s < 255 {
				packets = append(packets, cur)
				cur = nil
				if len(packets) == n {
					break
				}
			}
		}
	}
	return packets, nil
}

// checkVorbisComments checks the comment header: "\x03vorbis", vendor string, count, strings (little-endian).
func checkVorbisComments(p []byte) error {
	if len(p) < 7 || p[0] != 3 || string(p[1:7]) != "vorbis" {
		return fmt.Errorf("%w: no comment header", errVorbisHeader)
	}
	if err := checkVorbisCommentBody(p[7:]); err != nil {
		return fmt.Errorf("vorbis: comment header: %w", err)
	}
	return nil
}

// checkVorbisCodebooks reads the codebooks of the setup header far enough to know each one's size and rejects
// one that is empty or larger than maxCodebookValues; it stops at the first codebook it cannot read whole.
func checkVorbisCodebooks(p []byte) error {
	if len(p) < 7 || p[0] != 5 || string(p[1:7]) != "vorbis" {
		return fmt.Errorf("%w: no setup header", errVorbisHeader)
	}
	br := &bitReader{b: p[7:]}
	count := br.read(8) + 1
	total := uint64(0)
	for i := uint64(0); i < count; i++ {
		if br.read(24) != 0x564342 {
			return fmt.Errorf("%w: codebook %d: no sync pattern", errVorbisHeader, i)
		}
		dims, entries := br.read(16), br.read(24)
		total += entries * dims
		if entries == 0 || dims == 0 || entries*dims > maxCodebookValues || total > maxSetupValues {
			return fmt.Errorf("%w: codebook %d: %d entries x %d dimensions", errVorbisHeader, i, entries, dims)
		}
		if br.read(1) == 0 { // not ordered: one length per entry, or a flag and maybe a length when sparse
			sparse := br.read(1) == 1
			for e := uint64(0); e < entries && !br.short; e++ {
				if !sparse || br.read(1) == 1 {
					br.read(5)
				}
			}
		} else {
			br.read(5)
			for e := uint64(0); e < entries && !br.short; {
				e += br.read(ilog(entries - e))
				if e > entries {
					return fmt.Errorf("%w: codebook %d: lengths overrun", errVorbisHeader, i)
				}
			}
		}
		switch lookup := br.read(4); lookup {
		case 0:
		case 1, 2:
			br.read(32)
			br.read(32)
			bits := br.read(4) + 1
			br.read(1)
			values := entries * dims
			if lookup == 1 {
				values = lookup1Values(entries, dims)
			}
			br.skip(values * bits)
		default:
			return fmt.Errorf("%w: codebook %d: lookup type %d", errVorbisHeader, i, lookup)
		}
		if br.short {
			return fmt.Errorf("%w: codebook %d overruns the setup header", errVorbisHeader, i)
		}
	}
	return nil
}

// lengths walks length-prefixed fields (32-bit lengths and counts) without trusting them: each must fit in b.
type lengths struct {
	b     []byte
	p     int
	order binary.ByteOrder
}

func (c *lengths) u32() (uint64, bool) {
	if c.p+4 > len(c.b) {
		return 0, false
	}
	v := c.order.Uint32(c.b[c.p:])
	c.p += 4
	return uint64(v), true
}

func (c *lengths) skip(n uint64) bool {
	if n > uint64(len(c.b)-c.p) {
		return false
	}
	c.p += int(n)
	return true
}

// str skips a length-prefixed string.
func (c *lengths) str() bool {
	n, ok := c.u32()
	return ok && c.skip(n)
}

// strs skips a count of length-prefixed strings, each at least 4 bytes long, so the count is bounded first.
func (c *lengths) strs() bool {
	n, ok := c.u32()
	if !ok || n > uint64(len(c.b)-c.p)/4 {
		return false
	}
	for range n {
		if !c.str() {
			return false
		}
	}
	return true
}

// checkVorbisCommentBody checks a Vorbis comment body (vendor string, then counted strings; little-endian), as
// found in Ogg Vorbis and in FLAC's VORBIS_COMMENT block.
func checkVorbisCommentBody(b []byte) error {
	c := lengths{b: b, order: binary.LittleEndian}
	if !c.str() || !c.strs() {
		return errors.New("a length overruns its header")
	}
	return nil
}

// bitReader reads Vorbis' LSB-first bit packing; reading past the end sets short and yields zeros.
type bitReader struct {
	b     []byte
	pos   uint64 // in bits
	short bool
}

func (r *bitReader) read(n uint64) uint64 {
	var v uint64
	for i := uint64(0); i < n; i++ {
		if r.pos>>3 >= uint64(len(r.b)) {
			r.short = true
			return 0
		}
		v |= uint64(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v
}

func (r *bitReader) skip(n uint64) {
	if n > uint64(len(r.b))*8-min(r.pos, uint64(len(r.b))*8) {
		r.short = true
		return
	}
	r.pos += n
}

// ilog is the number of bits needed to hold x (Vorbis' ilog).
func ilog(x uint64) uint64 {
	n := uint64(0)
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}

// lookup1Values is the largest r with r^dims <= entries (Vorbis spec 9.2.3).
func lookup1Values(entries, dims uint64) uint64 {
	r := uint64(math.Floor(math.Pow(float64(entries), 1/float64(dims))))
	for r > 0 && math.Pow(float64(r), float64(dims)) > float64(entries) {
		r--
	}
	for math.Pow(float64(r+1), float64(dims)) <= float64(entries) {
		r++
	}
	return r
}
