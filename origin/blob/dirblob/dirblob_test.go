package dirblob_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/blobtest"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T, maxSize int64) blob.Store {
		cfg := dirblob.DefaultConfig(t.TempDir())
		cfg.MaxSize = maxSize
		s, err := dirblob.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A crash mid-Put leaves a temp file: it is invisible to readers and removed once stale when a store opens.
func TestStaleTempFilesRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := dirblob.New(dirblob.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, "tmp", "put-stale"), filepath.Join(dir, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a master"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	for range s.List(context.Background(), "") {
		t.Fatal("a temp file is listed as a blob")
	}
	if _, err := dirblob.New(dirblob.DefaultConfig(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a fresh temp file (a Put in progress elsewhere) was removed: %v", err)
	}
}
