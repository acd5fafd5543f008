package cache

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentUse drives one cache from several goroutines (installs, partial writes, reads, pins, removals) while
// Serve re-hashes in the background, then checks the books: every served blob re-hashes, and the bytes the cache
// accounts for are the bytes on disk. Run it with -race.
func TestConcurrentUse(t *testing.T) {
	const size = 8_000
	rng := rand.New(rand.NewPCG(21, 22))
	var blobs []testBlob
	for i := 0; i < 24; i++ {
		blobs = append(blobs, newBlob(rng, size))
	}
	dir := t.TempDir()
	rec := &recorder{}
	c := openCache(t, dir, 10*size, rec)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx) }()

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed))
			for i := 0; i < 300; i++ {
				b := blobs[r.IntN(len(blobs))]
				switch r.IntN(6) {
				case 0, 1:
					w, err := c.Create(b.sha, size, b.md5)
					if errors.Is(err, ErrExists) || errors.Is(err, ErrBusy) || errors.Is(err, ErrQuotaExceeded) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					if r.IntN(3) == 0 {
						w.Write(b.data[w.Offset() : w.Offset()+(size-w.Offset())/2])
						w.Close()
						continue
					}
					w.Write(b.data[w.Offset():])
					if err := w.Commit(); err != nil {
						errs <- err
						return
					}
				case 2:
					if f, err := c.Open(b.sha); err == nil {
						f.Close()
					}
				case 3:
					c.SetPinned([]string{b.sha})
				case 4:
					c.Remove(b.sha)
				case 5:
					c.Verify(b.sha)
					_ = c.Stats()
				}
			}
		}(uint64(g) + 1)
	}
	wg.Wait()
	cancel()
	<-served
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if q := rec.kinds(Quarantined); len(q) > 0 {
		t.Fatalf("good blobs quarantined under concurrency: %v", q)
	}
	st := c.Stats()
	var onDisk int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "quarantine" && d.Name() != "index.log" {
			fi, _ := d.Info()
			onDisk += fi.Size()
		}
		return nil
	})
	if st.UsedBytes != onDisk || st.UsedBytes > 10*size || st.Writing != 0 {
		t.Fatalf("books say %d bytes used, disk holds %d; %+v", st.UsedBytes, onDisk, st)
	}
	c.Close()
	c = openCache(t, dir, 10*size, rec)
	if _, err := c.VerifyAll(context.Background()); err != nil || len(rec.kinds(Quarantined)) > 0 {
		t.Fatalf("after reopen: %v, quarantined %v", err, rec.kinds(Quarantined))
	}
	if got := c.Stats(); got.Blobs != st.Blobs || got.UsedBytes != st.UsedBytes {
		t.Fatalf("reopen sees %+v, before %+v", got, st)
	}
}
