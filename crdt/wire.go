package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decode error: the input was truncated, oversized, non-canonical or invalid.
var ErrMalformed = errors.New("crdt: malformed input")

// ErrVersion is wrapped when an encoding carries a format version this code does not know.
var ErrVersion = errors.New("crdt: unknown encoding version")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// writer appends the primitives of the binary format. Integers are minimal unsigned LEB128 varints (signed ones
// zig-zag), strings and byte strings are a varint length then the bytes.
type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte1(v byte)     { w.b = append(w.b, v) }
func (w *writer) bool1(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) str(s string)    { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) bytes(p []byte)  { w.uvarint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *writer) fixed(p []byte)  { w.b = append(w.b, p...) }
func (w *writer) hash(h [32]byte) { w.b = append(w.b, h[:]...) }

// reader decodes what writer wrote, rejecting non-minimal varints and lengths beyond the input or a bound, so a
// hostile length never causes a large allocation: every allocation is bounded by the bytes actually present.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = malformed("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	if n > 1 && r.b[r.off+n-1] == 0 {
		r.fail("non-minimal varint")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *reader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if r.remaining() < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) bool1() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("bad bool")
		return false
	}
}

// count reads an element count and checks it against max and against the bytes left (each element takes at least
// minSize bytes), so a forged count cannot make the caller allocate more than the input justifies.
func (r *reader) count(max, minSize int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if v > uint64(max) {
		r.fail("count %d over limit %d", v, max)
		return 0
	}
	if minSize > 0 && v > uint64(r.remaining()/minSize) {
		r.fail("count %d exceeds input", v)
		return 0
	}
	return int(v)
}

func (r *reader) raw(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail("length %d over limit %d", n, max)
		return nil
	}
	if n > uint64(r.remaining()) {
		r.fail("truncated")
		return nil
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p
}

func (r *reader) str(max int) string { return string(r.raw(max)) }

// bytes returns a copy: decoded values never alias the input buffer, so the caller may reuse it.
func (r *reader) bytes(max int) []byte {
	p := r.raw(max)
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *reader) hash() (h [32]byte) {
	if r.err != nil {
		return h
	}
	if r.remaining() < 32 {
		r.fail("truncated")
		return h
	}
	copy(h[:], r.b[r.off:])
	r.off += 32
	return h
}

// header checks the two-byte header: a kind letter and the format version.
func (r *reader) header(kind byte, version byte) error {
	if len(r.b) < 2 {
		return malformed("truncated header")
	}
	if r.b[0] != kind {
		return malformed("kind %q, want %q", r.b[0], kind)
	}
	if r.b[1] != version {
		return fmt.Errorf("%w: version %d (this build reads %d)", ErrVersion, r.b[1], version)
	}
	r.off = 2
	return nil
}

func (r *reader) finish() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
	return r.err
}
