package store

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCatalog10k measures the memory a device's database costs with 10,000 assets: it writes 10,000 catalog
// records of ~600 bytes, 10,000 history entries and 1,000 play events, reopens the database and scans everything,
// then reports the process's resident memory (total and anonymous, MB) next to the figure before Open.
// The "badger-sizes" variant uses badger's own default sizes (64 MiB memtables x 5, a 256 MiB block cache) for
// comparison; run each variant in its own process (-bench 'Catalog10k/tuned') for clean figures.
func BenchmarkCatalog10k(b *testing.B) {
	b.Run("tuned", func(b *testing.B) { benchCatalog10k(b, DefaultConfig) })
	b.Run("badger-sizes", func(b *testing.B) {
		benchCatalog10k(b, func(dir string) Config {
			return Config{Dir: dir, MemTableSize: 64 << 20, NumMemtables: 5, BlockCacheSize: 256 << 20,
				IndexCacheSize: 256 << 20, ValueLogFileSize: 1<<30 - 1, NumLevelZeroTables: 5,
				NumLevelZeroTablesStall: 15, NumCompactors: 4}
		})
	})
}

func benchCatalog10k(b *testing.B, config func(dir string) Config) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		before := procStatusMB("VmRSS:")
		dir := b.TempDir()
		s, err := Open(config(dir))
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]Record, 0, 500)
		for a := 0; a < 10_000; a++ {
			recs = append(recs, Record{Key: fmt.Sprintf("asset/%08d-0000-4000-8000-000000000000", a), Rev: 1,
				Data: bytes.Repeat([]byte("x"), 600)})
			if len(recs) == cap(recs) {
				if err := s.ApplyCatalog(1, recs, nil); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
			if err := s.SetPlayed("zone", fmt.Sprintf("asset-%d", a), time.Unix(int64(a), 0)); err != nil {
				b.Fatal(err)
			}
		}
		for p := 0; p < 1000; p++ {
			if _, err := s.AppendPlay(bytes.Repeat([]byte("p"), 200)); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		s, err = Open(config(dir))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		_ = s.CatalogRecords("", func(Record) error { n++; return nil })
		if h, _ := s.LastPlayed("zone"); n != 10_000 || len(h) != 10_000 {
			b.Fatalf("scan found %d records, %d history entries", n, len(h))
		}
		// Return the benchmark's own garbage (the records it built) to the OS, so what remains is the database's.
		debug.FreeOSMemory()
		after := procStatusMB("VmRSS:")
		b.ReportMetric(procStatusMB("VmHWM:"), "rss-peak-MB")
		b.ReportMetric(before, "rss-before-MB")
		b.ReportMetric(after, "rss-MB")
		b.ReportMetric(procStatusMB("RssAnon:"), "rss-anon-MB")
		s.Close()
		b.ReportMetric(dirMB(dir), "disk-MB")
	}
}

func dirMB(dir string) float64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return float64(n) / (1 << 20)
}

// procStatusMB reads one kB field of /proc/self/status, in MB; 0 where /proc is absent.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
