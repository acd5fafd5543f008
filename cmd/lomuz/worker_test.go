package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lomuz/lomuz/internal/testenv"
)

// lomuzProc is one `lomuz` process of the test.
type lomuzProc struct {
	name, log string
	cmd       *exec.Cmd
	exited    chan struct{}
}

func startLomuz(t *testing.T, bin, name string, env []string, args ...string) *lomuzProc {
	t.Helper()
	p := &lomuzProc{name: name, log: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

// waitFor polls cond every 20 ms, failing the test with what after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(limit); !cond(); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
	}
}

// childrenMention reports whether a running process's command line mentions s (a worker's encoder).
func childrenMention(s string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil &&
			strings.Contains(string(b), s) && strings.HasPrefix(filepath.Base(strings.SplitN(string(b), "\x00", 2)[0]), "ff") {
			return true
		}
	}
	return false
}

// TestWorkersShareQueueAndSurviveAKill runs the real binary: origin on PostgreSQL enqueueing transcodes, two
// `lomuz worker` processes on the same queue, an upload through the admin API, and a SIGKILL of the worker that is
// encoding it. The other worker must finish the job and the asset must become ready with the Vorbis rendition.
func TestWorkersShareQueueAndSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for river to rescue a dead worker's job (about a minute)")
	}
	goTool, ffmpeg := testenv.Tool(t, "go"), testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	pg := testenv.Postgres(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "lomuz")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	env := []string{"LOMUZ_ORIGIN_KEY=" + base64.StdEncoding.EncodeToString(seed)}
	blobs := filepath.Join(dir, "blobs")
	stores := func(data string) []string {
		return []string{"--postgres", pg, "--data", filepath.Join(dir, data), "--blob-dir", blobs}
	}

	out, err := exec.Command(bin, append([]string{"origin", "bootstrap"}, stores("origin")...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	var token string
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "token" {
			token = f[1]
		}
	}
	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startLomuz(t, bin, "origin", env, append([]string{"origin", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, stores("origin")...)...)
	workers := map[string]*lomuzProc{}
	tmps := map[string]string{}
	for _, id := range []string{"worker-a", "worker-b"} {
		tmps[id] = filepath.Join(dir, "tmp-"+id)
		if err := os.MkdirAll(tmps[id], 0o755); err != nil {
			t.Fatal(err)
		}
		workers[id] = startLomuz(t, bin, id, env, append([]string{"worker", "--id", id, "--temp-dir", tmps[id],
			"--job-timeout", "20s", "--rescue-after", "21s"}, stores(id)...)...)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path string, body io.Reader, into any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if into != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(b, into); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		if resp.StatusCode >= 300 {
			t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	waitFor(t, 30*time.Second, "origin did not come up", func() bool { return call("GET", "/healthz", nil, nil) == 200 })

	// A master long enough that encoding takes seconds.
	master := filepath.Join(dir, "master.flac")
	gen := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:r=44100:d=150",
		"-af", "pan=stereo|c0=c0|c1=c0,adelay=1000|1000,apad=pad_dur=1", "-c:a", "flac", master)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate master: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(master)
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	if code := call("PUT", "/v1/uploads/"+sha, bytes.NewReader(b), nil); code != 200 && code != 201 {
		t.Fatalf("upload: %d", code)
	}
	var asset struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		SHA256     string `json:"sha256"`
		Codec      string `json:"codec"`
		DurationMS int64  `json:"duration_ms"`
	}
	body := fmt.Sprintf(`{"kind":"music","title":"Long tone","artist":"Test","master_sha256":%q}`, sha)
	if code := call("POST", "/v1/assets", strings.NewReader(body), &asset); code != 201 {
		t.Fatalf("create asset: %d", code)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var state string
	var attempt int
	var by []string
	readJob := func() {
		err := conn.QueryRow(ctx, `SELECT state, attempt, coalesce(attempted_by, '{}') FROM river_job WHERE kind = 'lomuz_job'`).
			Scan(&state, &attempt, &by)
		if err != nil && err != pgx.ErrNoRows {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "no worker took the job", func() bool { readJob(); return state == "running" })
	victim := by[len(by)-1]
	waitFor(t, 15*time.Second, "the worker holding the job never started ffmpeg", func() bool { return childrenMention(tmps[victim]) })
	if err := workers[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-workers[victim].exited
	if readJob(); state != "running" {
		t.Fatalf("job was %s when its worker died: not mid-job", state)
	}

	waitFor(t, 150*time.Second, "the asset did not become ready after its worker was killed", func() bool {
		call("GET", "/v1/assets/"+asset.ID, nil, &asset)
		return asset.Status == "ready"
	})
	// River records the completion asynchronously, just after the handler returns.
	waitFor(t, 15*time.Second, "the job was not marked completed", func() bool { readJob(); return state == "completed" })
	survivor := "worker-a"
	if victim == survivor {
		survivor = "worker-b"
	}
	if state != "completed" || attempt != 2 || !slices.Equal(by, []string{victim, survivor}) {
		t.Fatalf("job %s, attempt %d, attempted by %v; want completed at attempt 2 by %s then %s", state, attempt, by, victim, survivor)
	}
	if asset.Codec != "vorbis" || asset.DurationMS < 151_900 || asset.DurationMS > 152_100 || asset.SHA256 == sha {
		t.Fatalf("asset %+v: want the Vorbis rendition of the 152 s master", asset)
	}
	if _, err := os.Stat(filepath.Join(blobs, "data", "sha256", asset.SHA256)); err != nil {
		t.Fatalf("rendition blob: %v", err)
	}
}
