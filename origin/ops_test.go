package origin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Readiness follows the catalog, and the metrics count requests by class and code.
func TestReadyzAndMetrics(t *testing.T) {
	b := postgresBackend()
	e := newEnv(t, b.open(t), nil)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d with the catalog up", code)
	}
	if _, err := e.admin.Tenant(ctx(t)); err != nil {
		t.Fatal(err)
	}
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, `lomuz_origin_requests_total{class="admin",code="200"}`) {
		t.Fatalf("/metrics = %d without the admin request:\n%.2000s", code, body)
	}
	if err := e.cat.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d with the catalog closed, want 503", code)
	}
}
