package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
)

// The example configuration files must hold only settings the commands know, with values they accept.
func TestDeployExamplesAreValidSettings(t *testing.T) {
	for _, name := range []string{"node", "origin", "worker"} {
		t.Run(name, func(t *testing.T) {
			cmd, _, err := root.Find([]string{name})
			if err != nil || cmd.Name() != name {
				t.Fatalf("no %s command: %v", name, err)
			}
			saved := configFile
			t.Cleanup(func() { configFile = saved })
			configFile = filepath.Join("..", "..", "deploy", "examples", name+".yaml")
			if err := applySettings(cmd); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The node's systemd unit must verify cleanly: systemd-analyze prints nothing for a unit it fully understands.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testenv.Tool(t, "systemd-analyze")
	bin := testenv.Lomuz(t)
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "lomuz-node.service"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "lomuz-node.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/lomuz", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Origin and worker ship as a static binary: it must build without cgo.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "lomuz"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
}
