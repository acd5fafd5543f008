package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrNoBlob is returned by a source that does not hold the blob asked for.
var ErrNoBlob = errors.New("download: source does not hold the blob")

// MemSource serves blobs from memory: the in-memory twin of HTTPSource, for tests and simulations of the node.
// Safe for concurrent use; Put copies the bytes.
type MemSource struct {
	mu    sync.RWMutex
	blobs map[string][]byte
}

// Put makes b available as blob sha (the caller vouches for the name; the cache checks it on install).
func (s *MemSource) Put(sha string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs = map[string][]byte{}
	}
	s.blobs[sha] = append([]byte(nil), b...)
}

// Fetch implements Source.
func (s *MemSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	s.mu.RLock()
	b, ok := s.blobs[sha]
	s.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoBlob, sha)
	}
	if offset < 0 || offset > int64(len(b)) {
		return 0, fmt.Errorf("download: offset %d outside blob of %d bytes", offset, len(b))
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.Write(b[offset:])
	return int64(n), err
}
