package schedule

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Selection and trusted time are pure: the node core, the panel's preview and the simulator run them under their own
// clocks and random sources. This test fails if either package (non-test code) imports I/O, logging or a global
// random source, reads the clock, sleeps or starts a goroutine.
func TestPure(t *testing.T) {
	banned := map[string]bool{"os": true, "net": true, "net/http": true, "io/fs": true, "syscall": true, "log": true,
		"log/slog": true, "math/rand": true, "crypto/rand": true, "os/exec": true}
	forbidden := regexp.MustCompile(`time\.(Now|Since|Until|Sleep|After|AfterFunc|Tick|NewTimer|NewTicker)\(|` +
		`\bgo (func|[a-zA-Z_.]+\()|\brand\.(Int|IntN|Int64|Int64N|Uint32|Uint64|Float64|N|Perm|Shuffle)\(`)
	for _, dir := range []string{".", "../trustedtime"} {
		out, err := exec.Command("go", "list", "-json", dir).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", dir, err)
		}
		var p struct {
			ImportPath string
			Imports    []string
			GoFiles    []string
		}
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			if banned[imp] {
				t.Errorf("%s imports %s", p.ImportPath, imp)
			}
		}
		for _, f := range p.GoFiles {
			src, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(src), "\n") {
				if code, _, _ := strings.Cut(line, "//"); forbidden.MatchString(code) {
					t.Errorf("%s/%s:%d: %s", p.ImportPath, f, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}
