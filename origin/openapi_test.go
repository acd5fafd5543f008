package origin_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIMatchesRoutes holds openapi.yaml against the live router both ways: every route the server
// registers is documented, every documented operation is registered, and each documented operation, requested
// for real, reaches a handler (not the fallback "no route" answer, not 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	documented := documentedRoutes(t)
	e := newEnv(t, postgresBackend().open(t), nil)
	served := e.srv.Routes()
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.yaml documents %q, which the server does not register", r)
		}
	}
	admin := credOf(t, e.admin)
	for _, r := range documented {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "00000000-0000-4000-8000-000000000000", "{sha256}", strings.Repeat("0", 64)).Replace(path)
		status, p := e.raw(method, path, admin, "", nil)
		if status == http.StatusMethodNotAllowed || (p != nil && strings.HasPrefix(p.Detail, "no route")) {
			t.Errorf("%s: the live router does not serve it (status %d, %+v)", r, status, p)
		}
	}
}

// documentedRoutes lists "METHOD /path/{param}" for every operation in openapi.yaml.
func documentedRoutes(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", spec.OpenAPI)
	}
	var documented []string
	for path, ops := range spec.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "head", "patch":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(documented)
	return documented
}
