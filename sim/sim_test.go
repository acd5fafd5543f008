package sim

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/player/schedule"
)

var seedFlag = flag.Uint64("sim.seed", 1, "seed for the scenario library test")

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

// TestScenarios runs the committed library: every invariant must hold for each scenario.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			sc := loadT(t, name)
			r := runT(t, sc, Options{Seed: *seedFlag, ScenarioPath: "sim/scenarios/" + name + ".yaml"})
			t.Log(r.Summary())
			if r.Failed() {
				t.Fatalf("invariants broken:\n%s", r.Summary())
			}
			if r.Plays == 0 {
				t.Fatal("nothing played")
			}
		})
	}
}

// swarmSeeds is the short simulator campaign of make test; scripts/soak.d/sim.sh runs 1,000.
const swarmSeeds = 20

// TestSwarmCampaign runs the swarm scenario (every fault kind, drawn from the seed) over swarmSeeds seeds: no
// invariant may break in any of them.
func TestSwarmCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("the swarm campaign is the long part of the simulator's tests")
	}
	sc := loadT(t, "swarm")
	for seed := uint64(1); seed <= swarmSeeds; seed++ {
		r := runT(t, sc, Options{Seed: seed, ScenarioPath: "sim/scenarios/swarm.yaml"})
		if r.Failed() {
			t.Errorf("seed %d: invariants broken:\n%s", seed, r.Summary())
		}
	}
}

// TestSameSeedSameTrace hashes the traces of two runs of one seed, and checks another seed differs.
func TestSameSeedSameTrace(t *testing.T) {
	sc := loadT(t, "swarm")
	sc.Chaos, sc.Heal = sc.Chaos/4, sc.Heal/2
	a := runT(t, sc, Options{Seed: 7})
	b := runT(t, sc, Options{Seed: 7})
	if a.TraceHash != b.TraceHash || a.Events != b.Events {
		t.Fatalf("same seed, different traces: %s (%d events) vs %s (%d events)", a.TraceHash, a.Events, b.TraceHash, b.Events)
	}
	c := runT(t, sc, Options{Seed: 8})
	if c.TraceHash == a.TraceHash {
		t.Fatal("seeds 7 and 8 gave the same trace: the seed does not drive the run")
	}
	if len(a.Knobs) == 0 {
		t.Fatal("swarm drew no knobs")
	}
}

// TestBrokenRuleIsCaught runs the windows scenario with node cores whose assets lose valid_until: spots that
// expired mid-run go on playing, and the window invariant must fire.
func TestBrokenRuleIsCaught(t *testing.T) {
	sc := loadT(t, "windows")
	r := runT(t, sc, Options{Seed: 1, AssetHook: func(a *schedule.Asset) { a.ValidUntil = time.Time{} }})
	found := false
	for _, v := range r.Violations {
		found = found || v.Rule == RuleWindow
	}
	if !found {
		t.Fatalf("a core ignoring valid_until was not caught:\n%s", r.Summary())
	}
	if !strings.Contains(r.Summary(), "lomuz sim --scenario") {
		t.Fatal("a failing run must print the command that reproduces it")
	}
}

func TestReportFiles(t *testing.T) {
	sc := loadT(t, "baseline")
	sc.Chaos, sc.Heal = sc.Chaos/4, sc.Heal/2
	r := runT(t, sc, Options{Seed: 3})
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "report.html"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if n := strings.Count(string(b), "<svg"); n < 3 {
		t.Fatalf("report.html has %d plots, want at least 3", n)
	}
}

func TestParseScenarioRejectsNonsense(t *testing.T) {
	for _, bad := range []string{
		"topology: {stores: 0}",
		"timeline: [{at: 1m, do: explode}]",
		"chaos: 1h\ntimeline: [{at: 2h, do: crash}]",
		"topology: {nodes: 2}\ntimeline: [{at: 1m, do: crash, node: 5}]",
		"bogus_field: 1",
		"swarm: {kinds: [meteor]}",
		"timeline: [{at: 1m, do: clock, set: yesterday}]",
	} {
		if _, err := ParseScenario([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
