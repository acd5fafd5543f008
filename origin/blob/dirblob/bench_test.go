package dirblob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
)

// benchSize is one master-sized blob: 32 MiB, about three minutes of CD-quality WAV.
const benchSize = 32 << 20

func benchPayload(b *testing.B) ([]byte, string) {
	p := make([]byte, benchSize)
	_, _ = rand.Read(p)
	s := sha256.Sum256(p)
	return p, hex.EncodeToString(s[:])
}

// BenchmarkPut streams a master into the store with its sha256 checked: temp file, fsync, rename, fsync dir.
func BenchmarkPut(b *testing.B) {
	p, sha := benchPayload(b)
	s, err := dirblob.New(dirblob.DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := s.Put(context.Background(), blob.ContentKey(sha), bytes.NewReader(p), blob.PutOptions{SHA256: sha}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineWriteFile is the floor for Put: the same bytes written to a file and fsynced, no hashing.
func BenchmarkBaselineWriteFile(b *testing.B) {
	p, _ := benchPayload(b)
	path := filepath.Join(b.TempDir(), "f")
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(f, bytes.NewReader(p)); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkBaselineWriteFileHashed is the floor for a verified Put: the bytes written, hashed with sha256 on the
// way (the check Put cannot skip) and fsynced.
func BenchmarkBaselineWriteFileHashed(b *testing.B) {
	p, _ := benchPayload(b)
	path := filepath.Join(b.TempDir(), "f")
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), bytes.NewReader(p)); err != nil {
			b.Fatal(err)
		}
		_ = h.Sum(nil)
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkGet reads a whole blob back.
func BenchmarkGet(b *testing.B) {
	p, sha := benchPayload(b)
	s, err := dirblob.New(dirblob.DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Put(context.Background(), blob.ContentKey(sha), bytes.NewReader(p), blob.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		rc, _, err := s.Get(context.Background(), blob.ContentKey(sha), 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkBaselineReadFile is the floor for Get: the same file read with os.Open.
func BenchmarkBaselineReadFile(b *testing.B) {
	p, _ := benchPayload(b)
	path := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(path, p, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
