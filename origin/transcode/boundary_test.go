package transcode

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
)

// TestBoundaries keeps blob, jobs and transcode free of origin's HTTP server, API and catalog: origin depends on
// them through small interfaces (Ingester, Completer), never the other way round.
func TestBoundaries(t *testing.T) {
	const m = "github.com/lomuz/lomuz/"
	goTool := testenv.Tool(t, "go")
	out, err := exec.Command(goTool, "list", "-deps", m+"origin/blob/...", m+"origin/jobs/...", m+"origin/transcode").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"origin", "origin/api", "origin/catalog", "player", "peer", "node", "sim", "cmd"} {
			if dep == m+banned || strings.HasPrefix(dep, m+banned+"/") && banned != "origin" {
				t.Errorf("blob/jobs/transcode depend on %s", dep)
			}
		}
	}
}
