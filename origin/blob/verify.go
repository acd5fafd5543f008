package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// VerifyingReader hashes and counts the bytes read through it and enforces PutOptions and a size bound. Backends
// wrap a Put's stream in one: an expectation broken in the middle of the stream, or at its end, surfaces as a read
// error (in place of io.EOF) so the backend aborts the write before anything is published.
//
// Not safe for concurrent use.
type VerifyingReader struct {
	r       io.Reader
	h       hash.Hash
	n       int64
	max     int64
	opts    PutOptions
	err     error
	checked bool
}

// NewVerifyingReader checks the stream r against opts and max (bytes; <= 0 means DefaultMaxSize). A malformed
// opts.SHA256 makes the first Read fail with ErrInvalidKey.
func NewVerifyingReader(r io.Reader, opts PutOptions, max int64) *VerifyingReader {
	if max <= 0 {
		max = DefaultMaxSize
	}
	v := &VerifyingReader{r: r, h: sha256.New(), max: max, opts: opts}
	if opts.SHA256 != "" {
		if err := CheckSHA256(opts.SHA256); err != nil {
			v.err = fmt.Errorf("expected digest: %w", err)
		}
	}
	if opts.Size > max {
		v.err = fmt.Errorf("%w: declared %d bytes, limit %d", ErrTooLarge, opts.Size, max)
	}
	return v
}

// Read implements io.Reader.
func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n > v.max:
		v.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, v.max)
	case v.opts.Size > 0 && v.n > v.opts.Size:
		v.err = fmt.Errorf("%w: more than the declared %d bytes", ErrSizeMismatch, v.opts.Size)
	case errors.Is(err, io.EOF):
		v.err = v.finish()
	case err != nil:
		v.err = err
	}
	if v.err != nil {
		return n, v.err
	}
	return n, nil
}

func (v *VerifyingReader) finish() error {
	v.checked = true
	if v.opts.Size > 0 && v.n != v.opts.Size {
		return fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, v.n, v.opts.Size)
	}
	if v.opts.SHA256 != "" && v.SHA256() != v.opts.SHA256 {
		return fmt.Errorf("%w: got %s, declared %s", ErrDigestMismatch, v.SHA256(), v.opts.SHA256)
	}
	return io.EOF
}

// Verified reports whether the stream reached its end and met every expectation. Backends check it before they
// publish, so a reader that stopped early (a short io.CopyN) is never taken for a whole blob.
func (v *VerifyingReader) Verified() bool { return v.checked && errors.Is(v.err, io.EOF) }

// N is the number of bytes read so far.
func (v *VerifyingReader) N() int64 { return v.n }

// SHA256 is the lower-case hex digest of the bytes read so far.
func (v *VerifyingReader) SHA256() string { return hex.EncodeToString(v.h.Sum(nil)) }
