package embedded

import (
	"testing"

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
