package blob

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzCheckKey checks the property dirblob relies on: an accepted key, joined to a root directory, names a path
// strictly inside it, and S3 sees the same key unchanged.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"sha256/ab", "a/b/c", "..", "a/../b", "/x", "x/", "a//b", ".hidden", "a/.b/c", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		root := "/srv/blobs/data"
		p := filepath.Join(root, filepath.FromSlash(key))
		if !strings.HasPrefix(p, root+"/") || filepath.ToSlash(strings.TrimPrefix(p, root+"/")) != key {
			t.Fatalf("accepted key %q maps to %q outside or not 1:1 with %s", key, p, root)
		}
		if CheckPrefix(key) != nil {
			t.Fatalf("key %q accepted but not as a prefix", key)
		}
	})
}

func TestVerifyingReader(t *testing.T) {
	data := []byte("the quick brown fox")
	good := "9ecb36561341d18eb65484e833efea61edc74b84cf5e6ae1b81c63533e25fc8f"
	for _, tc := range []struct {
		name string
		opts PutOptions
		max  int64
		want error
	}{
		{"no expectations", PutOptions{}, 0, nil},
		{"digest and size", PutOptions{SHA256: good, Size: int64(len(data))}, 0, nil},
		{"wrong digest", PutOptions{SHA256: strings.Repeat("0", 64)}, 0, ErrDigestMismatch},
		{"short declared", PutOptions{Size: 5}, 0, ErrSizeMismatch},
		{"long declared", PutOptions{Size: 50}, 0, ErrSizeMismatch},
		{"over bound", PutOptions{}, 10, ErrTooLarge},
		{"declared over bound", PutOptions{Size: 11}, 10, ErrTooLarge},
		{"malformed digest", PutOptions{SHA256: "ABC"}, 0, ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read, so checks in the middle of the stream are exercised too.
			v := NewVerifyingReader(iotest.OneByteReader(bytes.NewReader(data)), tc.opts, tc.max)
			_, err := io.Copy(io.Discard, v)
			if !errors.Is(err, tc.want) || (tc.want == nil) != v.Verified() {
				t.Fatalf("copy = %v, verified %v; want %v", err, v.Verified(), tc.want)
			}
			if tc.want == nil && (v.SHA256() != good || v.N() != int64(len(data))) {
				t.Fatalf("sha %s n %d", v.SHA256(), v.N())
			}
		})
	}
	// A reader stopped before EOF is not verified, whatever it read.
	v := NewVerifyingReader(bytes.NewReader(data), PutOptions{}, 0)
	if _, err := io.CopyN(io.Discard, v, 5); err != nil || v.Verified() {
		t.Fatalf("partial read: %v, verified %v", err, v.Verified())
	}
}
