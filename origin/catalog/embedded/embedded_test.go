package embedded

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/catalogtest"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(DefaultConfig(dir))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store { return open(t, t.TempDir()) })
}

// BenchmarkCatalog runs the shared catalog benchmarks on badger; Baseline is one badger Get in a read
// transaction, the floor under every lookup.
func BenchmarkCatalog(b *testing.B) {
	s := open(b, b.TempDir())
	k := []byte("bench/baseline")
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, []byte("v")) }); err != nil {
		b.Fatal(err)
	}
	catalogtest.Bench(b, s, func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.db.View(func(txn *badger.Txn) error { _, err := txn.Get(k); return err }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// Resident memory of this process after loading and reading 100,000 records: what the small badger
	// configuration costs.
	b.Run("PeakRSS", func(b *testing.B) {
		for b.Loop() {
		}
		debug.FreeOSMemory() // what stays resident, not garbage the runtime has yet to return
		st, err := os.ReadFile("/proc/self/status")
		if err != nil {
			b.Skip("no /proc/self/status")
		}
		for _, line := range strings.Split(string(st), "\n") {
			// VmHWM includes badger's tables, which are mapped files the kernel can drop; RssAnon is the memory
			// the process itself holds (Go heap, memtables, caches).
			f := strings.Fields(line)
			if len(f) == 3 && (f[0] == "VmHWM:" || f[0] == "RssAnon:") {
				kb, _ := strconv.Atoi(f[1])
				unit := map[string]string{"VmHWM:": "peak-rss-MB", "RssAnon:": "anon-rss-MB"}[f[0]]
				b.ReportMetric(float64(kb)/1024, unit)
			}
		}
	})
}
