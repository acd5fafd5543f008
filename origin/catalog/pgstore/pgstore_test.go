package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/catalogtest"
)

func open(t testing.TB, url string, replicas ...string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := DefaultConfig(url)
	cfg.ReplicaURLs = replicas
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store { return open(t, testenv.Postgres(t)) })
}

// BenchmarkCatalog runs the shared catalog benchmarks on PostgreSQL; Baseline is one SELECT 1 round trip on the
// same pool, the floor under every lookup.
func BenchmarkCatalog(b *testing.B) {
	s := open(b, testenv.Postgres(b))
	catalogtest.Bench(b, s, func(b *testing.B) {
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var one int
				if err := s.w.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
