package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/lomuz/lomuz"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func under(path, prefix string) bool {
	return path == module+"/"+prefix || strings.HasPrefix(path, module+"/"+prefix+"/")
}

// rule: packages under From must not depend (transitively, non-test code) on any of Banned.
type rule struct {
	from   string
	banned []string // Lomuz package prefixes (relative) or standard library paths (absolute, no dot)
	direct bool     // only direct imports (for std packages reached legitimately through allowed deps)
}

func TestBoundaries(t *testing.T) {
	rules := []rule{
		{from: "crdt", banned: []string{"peer", "player", "node", "origin", "sim"}},
		{from: "crdt", banned: []string{"net", "os", "net/http", "math/rand", "math/rand/v2", "log", "log/slog"}, direct: true},
		{from: "player", banned: []string{"peer", "node", "sim"}},
		{from: "peer", banned: []string{"player", "node", "crdt", "origin", "sim"}},
		{from: "origin", banned: []string{"peer", "node", "sim"}},
	}
	pkgs := listPackages(t)
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.from) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				for _, b := range r.banned {
					if d == b || under(d, b) {
						t.Errorf("%s depends on %s: %s must not", p.ImportPath, d, r.from)
					}
				}
			}
		}
		// Only the composition roots import node.
		if !under(p.ImportPath, "cmd") && !under(p.ImportPath, "sim") && !under(p.ImportPath, "node") &&
			!under(p.ImportPath, "demo") {
			for _, d := range p.Imports {
				if under(d, "node") {
					t.Errorf("%s imports %s: only cmd/lomuz, demo and sim may import node", p.ImportPath, d)
				}
			}
		}
	}
}

// TestCRDTReadsNoClock bans time.Now and time.Since in crdt's non-test sources: logic takes now as a parameter.
func TestCRDTReadsNoClock(t *testing.T) {
	out, err := exec.Command("sh", "-c", `grep -rnE 'time\.(Now|Since|Until|Sleep|After|Tick|NewTimer|NewTicker)\(' --include='*.go' ../../crdt | grep -v '_test.go' || true`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("crdt reads the clock or sleeps:\n%s", s)
	}
	out, err = exec.Command("sh", "-c", `grep -rnE '\bgo (func|[a-zA-Z_.]+\()' --include='*.go' ../../crdt | grep -v '_test.go' || true`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("crdt starts goroutines:\n%s", s)
	}
}
