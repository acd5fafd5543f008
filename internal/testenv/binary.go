package testenv

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

// StartLogged starts bin with args, its output appended to logPath, and returns the running command; the caller
// stops it by its PID.
func StartLogged(t testing.TB, logPath, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// WaitHealthy polls GET url every 50 ms until it answers 200, failing the test after limit.
func WaitHealthy(t testing.TB, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after %s: %v", url, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
