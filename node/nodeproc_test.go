package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/store"
)

// nodeProc is a real `lomuz node` process with its status server on a loopback port, for the reliability tests.
type nodeProc struct {
	cmd    *exec.Cmd
	status string
	done   chan error
	// lastStatus is when Status last asked.
	lastStatus time.Time
}

// startNodeProc starts `lomuz node` with args (plus --status-listen on a free loopback port), its output appended
// to logPath. The process is killed when the test ends if it still runs.
func startNodeProc(t *testing.T, logPath string, args ...string) *nodeProc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(testenv.Lomuz(t), append(append([]string{"node"}, args...), "--status-listen", addr)...)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &nodeProc{cmd: cmd, status: "http://" + addr, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.done
		n.done <- nil
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if i := crashStart.FindIndex(b); i != nil {
				// A Go crash prints its cause first and then every goroutine: show the cause.
				t.Logf("node crash in %s:\n%s", logPath, head(string(b[i[0]:]), 4000))
			}
			t.Logf("node log %s:\n%s", logPath, tail(string(b), 6000))
		}
	})
	return n
}

// statusEvery spaces the test's /status reads: each one plans a week ahead on the node's loop, and reading it every
// 50 ms on a loaded 2-core machine took the loop from playback long enough for the watchdog to report dead air.
const statusEvery = 500 * time.Millisecond

// Status reads the node's /status, at most once per statusEvery.
func (n *nodeProc) Status() (Status, error) {
	if d := statusEvery - time.Since(n.lastStatus); d > 0 {
		time.Sleep(d)
	}
	n.lastStatus = time.Now()
	var st Status
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(n.status + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Exited reports whether the process has ended, without waiting.
func (n *nodeProc) Exited() bool {
	select {
	case err := <-n.done:
		n.done <- err
		return true
	default:
		return false
	}
}

// Stop ends the node with SIGTERM (a clean shutdown, as systemd does) and returns how it exited.
func (n *nodeProc) Stop(t *testing.T) error {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("node did not stop within 30 s of SIGTERM")
	}
	return nil
}

// crashStart finds the beginning of a Go crash report in a process's output.
var crashStart = regexp.MustCompile(`(?m)^(panic: |fatal error: |unexpected fault|SIGBUS|SIGSEGV)`)

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// nodeArgs are the flags of the reliability tests' node runs: null output paced in real time, syncs every 2 s.
func nodeArgs(data, origin string) []string {
	return []string{"--data", data, "--origin", origin, "--output", "null", "--sync-interval", "2s"}
}

// waitContent waits until the node holds everything it needs (at least needed blobs) and has played twice, and
// returns its device id.
func waitContent(t *testing.T, n *nodeProc, needed int) string {
	t.Helper()
	var device string
	waitFor(t, 2*time.Minute, "the node to hold its content and play", func() bool {
		st, err := n.Status()
		device = st.Device
		return err == nil && st.Cache.Needed >= needed && st.Cache.Present == st.Cache.Needed &&
			st.Counters.Plays[schedule.LevelScheduled] >= 2
	})
	return device
}

// lastPlaySeq opens a stopped node's database and returns the last play sequence number it handed out.
func lastPlaySeq(t *testing.T, data string) uint64 {
	t.Helper()
	db, err := store.Open(store.DefaultConfig(filepath.Join(data, "db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, err := db.LastPlaySeq()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// originPlays lists every play event origin holds for device, all pages.
func originPlays(t *testing.T, ctx context.Context, o originProc, device string) []api.Play {
	t.Helper()
	var out []api.Play
	for cursor := ""; ; {
		var page api.Page[api.Play]
		q := "/v1/plays?device_id=" + device + "&limit=1000"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := o.Admin.Do(ctx, "GET", q, nil, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if cursor = page.Next; cursor == "" {
			return out
		}
	}
}

// originDevice returns the device as origin's fleet view lists it.
func originDevice(ctx context.Context, o originProc, store, device string) (api.Device, error) {
	devs, err := o.Admin.ListDevices(ctx, store)
	if err != nil {
		return api.Device{}, err
	}
	for _, d := range devs {
		if d.ID == device {
			return d, nil
		}
	}
	return api.Device{}, fmt.Errorf("device %s not listed", device)
}
