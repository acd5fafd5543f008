package blob

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// Sentinel errors. Backends wrap them with detail; compare with errors.Is.
var (
	// ErrNotFound: no blob under the key.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalidKey: the key or prefix breaks the grammar in the package doc.
	ErrInvalidKey = errors.New("blob: invalid key")
	// ErrDigestMismatch: the bytes streamed to Put do not hash to the expected sha256. Nothing was stored.
	ErrDigestMismatch = errors.New("blob: sha256 mismatch")
	// ErrSizeMismatch: the bytes streamed to Put are not as long as declared. Nothing was stored.
	ErrSizeMismatch = errors.New("blob: size mismatch")
	// ErrTooLarge: the stream passed the store's size bound. Nothing was stored.
	ErrTooLarge = errors.New("blob: too large")
	// ErrInvalidRange: a Get offset is negative or past the end of the blob.
	ErrInvalidRange = errors.New("blob: invalid range")
)

// MaxKeyLen bounds a key in bytes: S3 allows 1,024; ours stay far below it (a content key is 71 bytes).
const MaxKeyLen = 512

// DefaultMaxSize bounds one blob in bytes (4 GiB): a 2-hour 24-bit/96 kHz stereo WAV master is ~4.1 GB, and
// masters longer than that are not background music.
const DefaultMaxSize int64 = 4 << 30

// Info describes a stored blob.
type Info struct {
	Key  string
	Size int64 // bytes
	// SHA256 is the lower-case hex digest of the bytes. Put always fills it (it hashes what it streams); Stat, Get
	// and List leave it empty, since not every backend records it (content keys carry it in the key).
	SHA256  string
	ModTime time.Time // when the backend last wrote the blob; second precision at least
}

// PutOptions are the caller's expectations about the bytes of one Put.
type PutOptions struct {
	// SHA256 is the expected lower-case hex digest; empty means not checked. A mismatch fails the Put with
	// ErrDigestMismatch and stores nothing.
	SHA256 string
	// Size is the expected length in bytes when > 0; 0 means unknown. A different length fails with ErrSizeMismatch.
	Size int64
	// ContentType is served with the blob where the backend serves it directly (presigned S3 URLs); may be empty.
	ContentType string
}

// Store holds blobs under keys.
//
// All methods are safe for concurrent use and may block on disk or network I/O; they honour ctx. Writes to one key
// from several goroutines are last-writer-wins, and each reader sees one whole version, never a mix: backends
// publish a blob atomically.
type Store interface {
	// Put streams r into the blob at key, replacing any blob there. It reads r to EOF (or to the first error) and
	// does not close it. It fails with ErrDigestMismatch, ErrSizeMismatch or ErrTooLarge, storing nothing, when the
	// bytes break opts or the store's bound. The returned Info has Size and SHA256 of the bytes stored.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error)
	// Get opens the blob at key from byte offset off for at most n bytes (n < 0: to the end). A range running past
	// the end is cut at the end; off == size gives an empty reader; off < 0 or off > size is ErrInvalidRange.
	// The returned Info describes the whole blob. The caller must close the reader.
	Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, Info, error)
	// Stat describes the blob at key, or fails with ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the blob at key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the blobs whose key starts with prefix, in ascending byte order of key. An error ends the
	// sequence. Blobs written or deleted during the listing may or may not appear.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
}

// Presigner is implemented by stores that can hand a client a URL to fetch a blob directly (S3). Callers test for
// it with a type assertion; a store without it is served through origin. Safe for concurrent use; does no I/O.
type Presigner interface {
	// PresignGet returns a URL valid for ttl that GETs the blob at key (Range requests allowed). It does not check
	// that the blob exists.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Exists reports whether a blob is stored under key.
func Exists(ctx context.Context, s Store, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
