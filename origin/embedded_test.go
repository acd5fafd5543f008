package origin_test

import (
	"testing"

	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/embedded"
)

// extraBackends lists catalog backends beyond Postgres: the embedded one needs nothing installed.
func extraBackends() []backend {
	return []backend{{"embedded", func(t *testing.T) catalog.Store {
		t.Helper()
		s, err := embedded.Open(embedded.DefaultConfig(t.TempDir()))
		if err != nil {
			t.Fatalf("open embedded catalog: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}}}
}
