package origin_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
)

// originProc is one real `lomuz origin` process on loopback, started and stopped by the test that owns it.
type originProc struct {
	t    *testing.T
	args []string
	URL  string
	log  string
	cmd  *exec.Cmd
}

// newOriginProc prepares (does not start) an origin on a free loopback port; extra are flags after the port's.
func newOriginProc(t *testing.T, name string, extra ...string) *originProc {
	port := testenv.FreePort(t)
	p := &originProc{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		log: filepath.Join(t.TempDir(), name+".log")}
	p.args = append([]string{"origin", "--data", t.TempDir(), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--transcode=false"}, extra...)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log (tail):\n%s", name, tailString(string(b), 4000))
		}
	})
	return p
}

// start runs the process and waits until /healthz answers.
func (p *originProc) start() {
	p.t.Helper()
	p.cmd = testenv.StartLogged(p.t, p.log, testenv.Lomuz(p.t), p.args...)
	testenv.WaitHealthy(p.t, p.URL+"/healthz", 60*time.Second)
}

// kill sends SIGKILL: nothing of the process gets to run, as in a crash or an OOM kill.
func (p *originProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// rssKB is the process's resident set size, from /proc, in KiB.
func (p *originProc) rssKB() int {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		p.t.Fatalf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// bootstrapOrigin runs `lomuz origin bootstrap` with flags and returns the director token it prints.
func bootstrapOrigin(t *testing.T, flags ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.Lomuz(t), append([]string{"origin", "bootstrap", "--data", t.TempDir()},
		flags...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`token\s+(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no token:\n%s", out)
	}
	return string(m[1])
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, limit, what, cond)
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[strings.IndexByte(s[len(s)-n:], '\n')+len(s)-n+1:]
}
