package cache

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// benchCache opens (creating and filling on first use) a cache of LOMUZ_BENCH_BLOBS blobs (default 32) of
// LOMUZ_BENCH_BLOB_BYTES bytes (default 2 MiB) in LOMUZ_BENCH_CACHE_DIR (default a temporary directory), so that
// scripts/bench.d/31-boot-verify.sh can hash the very same files with sha256sum.
func benchCache(b *testing.B) (dir string, n int, size int64) {
	b.Helper()
	dir = os.Getenv("LOMUZ_BENCH_CACHE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	n = envInt("LOMUZ_BENCH_BLOBS", 32)
	size = int64(envInt("LOMUZ_BENCH_BLOB_BYTES", 2<<20))
	c, err := Open(DefaultConfig(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for c.Stats().Blobs < n {
		blob := newBlob(rng, int(size))
		w, err := c.Create(blob.sha, size, "")
		if err != nil {
			b.Fatal(err)
		}
		w.Write(blob.data)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return dir, n, size
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkBootVerify is a full boot verification: Open (journal, scan) then a re-hash of every blob, unbounded,
// in one goroutine. MB/s is comparable with sha256sum over the same files.
func BenchmarkBootVerify(b *testing.B) {
	dir, n, size := benchCache(b)
	b.SetBytes(int64(n) * size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Open(DefaultConfig(dir))
		if err != nil {
			b.Fatal(err)
		}
		read, err := c.VerifyAll(context.Background())
		if err != nil || read != int64(n)*size || c.Stats().QuarantinedSinceOpen != 0 {
			b.Fatalf("verified %d bytes, %v, %+v", read, err, c.Stats())
		}
		c.Close()
	}
}

// BenchmarkBootFastPath is what a boot costs before the first blob can be served: Open with the size+mtime check.
func BenchmarkBootFastPath(b *testing.B) {
	dir, n, _ := benchCache(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Open(DefaultConfig(dir))
		if err != nil || c.Stats().Blobs != n {
			b.Fatalf("open: %v, %+v", err, c.Stats())
		}
		c.Close()
	}
}
