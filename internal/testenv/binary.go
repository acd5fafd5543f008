package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Lomuz builds the lomuz binary once per test process (the build cache makes later builds cheap) and returns its
// path. Tests that run the real processes (origin, node, worker) use it.
func Lomuz(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = err
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "lomuz-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lomuz")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/lomuz")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{out: string(b), err: err}
		}
	})
	if binErr != nil {
		t.Fatalf("building lomuz: %v", binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
