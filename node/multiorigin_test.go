package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// replica is one `lomuz origin` process of a multi-replica deployment (shared Postgres, key and blobs).
type replica struct {
	t    *testing.T
	args []string
	url  string
	cmd  *exec.Cmd
	log  string
}

func (r *replica) start() {
	r.t.Helper()
	bin := testenv.Lomuz(r.t)
	r.cmd = exec.Command(bin, r.args...)
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	waitFor(r.t, 30*time.Second, "origin replica "+r.url, func() bool {
		resp, err := http.Get(r.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// TestNodeFailsOverBetweenOriginReplicas runs two origin replicas on one PostgreSQL, a node that knows both, kills
// the one in use, and checks that syncs go on through the other and then come back when it returns.
func TestNodeFailsOverBetweenOriginReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	pg := testenv.Postgres(t)
	bin := testenv.Lomuz(t)
	shared := t.TempDir()
	common := []string{"--postgres", pg, "--key-file", filepath.Join(shared, "key"), "--blob-dir",
		filepath.Join(shared, "blobs")}
	out, err := exec.Command(bin, append([]string{"origin", "bootstrap", "--data", t.TempDir()}, common...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	token := string(regexp.MustCompile(`token\s+(\S+)`).FindSubmatch(out)[1])
	var reps [2]*replica
	for i := range reps {
		port := testenv.FreePort(t)
		r := &replica{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port),
			log: filepath.Join(t.TempDir(), fmt.Sprintf("origin-%d.log", i))}
		r.args = append([]string{"origin", "--data", t.TempDir(), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--transcode=false"}, common...)
		r.start()
		reps[i] = r
		t.Cleanup(r.kill)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range reps {
				b, _ := os.ReadFile(r.log)
				t.Logf("%s:\n%s", r.url, tail(string(b), 3000))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: []string{reps[1].url}, Credential: token})
	if err != nil {
		t.Fatal(err)
	}
	st, err := admin.CreateStore(ctx, api.StoreInput{Name: "Loja", TimeZone: "Europe/Lisbon"})
	if err != nil {
		t.Fatal(err)
	}
	zone, err := admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: "Z"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: st.ID, ZoneID: zone.ID})
	if err != nil {
		t.Fatal(err)
	}

	cfg := DefaultDeviceConfig()
	cfg.DataDir, cfg.Token, cfg.StatusListen = t.TempDir(), tok.Token, ""
	cfg.Origins = []string{reps[0].url, reps[1].url}
	cfg.Core.SyncInterval, cfg.Core.SyncJitter = 500*time.Millisecond, 100*time.Millisecond
	cfg.Core.BackoffMin, cfg.Core.BackoffMax = 200*time.Millisecond, time.Second
	r, stop := runDevice(t, ctx, cfg)
	defer stop()
	syncsOK := func() int { c := r.Counters(); return c.Syncs - c.SyncFailures }
	waitSyncs := func(what string, n int) {
		t.Helper()
		base := syncsOK()
		waitFor(t, 30*time.Second, what, func() bool { return syncsOK() >= base+n })
	}
	waitSyncs("syncs through the first replica", 3)

	reps[0].kill()
	waitSyncs("syncs through the second replica after the first died", 5)

	reps[0].start()
	reps[1].kill()
	waitSyncs("syncs back through the first replica after the second died", 5)

	// Every sync went somewhere that answered: the devices table shows this device with a recent sync.
	admin2, err := api.NewClient(api.ClientConfig{BaseURLs: []string{reps[0].url}, Credential: token})
	if err != nil {
		t.Fatal(err)
	}
	devs, err := admin2.ListDevices(ctx, st.ID)
	if err != nil || len(devs) != 1 || devs[0].LastSyncAt == nil || time.Since(*devs[0].LastSyncAt) > time.Minute {
		t.Fatalf("device list after failovers: %+v, %v", devs, err)
	}
}
