package cache

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
)

// TestDiskFull fills a real 1 MiB tmpfs: the write that hits ENOSPC reports ErrDiskFull, nothing is installed, and
// after space is freed the same download resumes from what reached the disk and installs.
func TestDiskFull(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })

	rng := rand.New(rand.NewPCG(13, 14))
	c := openCache(t, dir, 0, nil)
	filler, err := os.Create(dir + "/filler")
	if err != nil {
		t.Fatal(err)
	}
	filler.Write(make([]byte, 700<<10))
	filler.Close()

	b := newBlob(rng, 600<<10)
	w, err := c.Create(b.sha, int64(len(b.data)), "")
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for off := 0; off < len(b.data) && werr == nil; off += 64 << 10 {
		_, werr = w.Write(b.data[off:min(off+64<<10, len(b.data))])
	}
	if !errors.Is(werr, ErrDiskFull) {
		t.Fatalf("write on a full disk: %v", werr)
	}
	if err := w.Commit(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("commit after ENOSPC: %v", err)
	}
	if c.Has(b.sha) || len(c.List()) != 0 {
		t.Fatal("half-written blob installed")
	}
	kept := c.PartialSize(b.sha)
	if kept == 0 || kept >= int64(len(b.data)) {
		t.Fatalf("partial kept %d bytes", kept)
	}
	os.Remove(dir + "/filler")
	w, err = c.Create(b.sha, int64(len(b.data)), "")
	if err != nil || w.Offset() != kept {
		t.Fatalf("resume at %d (kept %d): %v", w.Offset(), kept, err)
	}
	w.Write(b.data[w.Offset():])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !c.Has(b.sha) {
		t.Fatal("not installed after space was freed")
	}
}
