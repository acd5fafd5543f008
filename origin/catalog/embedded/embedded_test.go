package embedded

import (
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
}
