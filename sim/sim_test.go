package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadT(t *testing.T, name string) Scenario {
	t.Helper()
	sc, err := LoadScenario(filepath.Join("scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runT(t *testing.T, sc Scenario, opts Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBaseline(t *testing.T) {
	sc := loadT(t, "baseline")
	r := runT(t, sc, Options{Seed: 1, ScenarioPath: "sim/scenarios/baseline.yaml"})
	t.Log(r.Summary())
	if r.Failed() {
		t.Fatal(r.Summary())
	}
	if r.Plays == 0 {
		t.Fatal("nothing played")
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(b), "<svg") {
		t.Fatalf("report.html: %v", err)
	}
}
