package origin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lomuz/lomuz/internal/loadgen"
	"github.com/lomuz/lomuz/internal/testenv"
)

// faultPlan is the load and the faults of one run. The short run is part of make test; LOMUZ_SOAK=1 runs the long
// one (scripts/soak.d/origin-faults.sh), whose length LOMUZ_FAULT_DURATION overrides.
type faultPlan struct {
	duration time.Duration // of the load; faults repeat every period from first until duration-period/2
	first    time.Duration
	period   time.Duration
	devices  int
}

func planFromEnv(t *testing.T) faultPlan {
	p := faultPlan{duration: 35 * time.Second, first: 5 * time.Second, period: 15 * time.Second, devices: 12}
	if os.Getenv("LOMUZ_SOAK") == "" {
		return p
	}
	p.duration, p.devices = 5*time.Minute, 24
	if v := os.Getenv("LOMUZ_FAULT_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOMUZ_FAULT_DURATION: %v", err)
		}
		p.duration = d
	}
	return p
}

// TestOriginUnderFaults runs two `lomuz origin` replicas on a private PostgreSQL and a `lomuz loadgen` process
// against both, and in each period restarts PostgreSQL (fast, then crash-and-recover on alternate periods),
// SIGKILLs one replica and starts it again. Every play event origin acknowledged must be stored, and no device's
// sync or upload may fail for good: each must succeed on one replica within the device's retries. Error windows
// and error counts are logged (and recorded in RELIABILITY.md), not asserted: the machine is shared.
func TestOriginUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes for about a minute")
	}
	plan := planFromEnv(t)
	pg := testenv.PrivatePostgres(t)
	dbURL := pg.CreateDatabase("lomuz")
	shared := t.TempDir()
	common := []string{"--postgres", dbURL, "--key-file", filepath.Join(shared, "key"),
		"--blob-dir", filepath.Join(shared, "blobs")}
	token := bootstrapOrigin(t, common...)
	var reps [2]*originProc
	for i := range reps {
		reps[i] = newOriginProc(t, fmt.Sprintf("origin-%d", i), common...)
		reps[i].start()
	}

	out := filepath.Join(t.TempDir(), "loadgen.json")
	logPath := filepath.Join(t.TempDir(), "loadgen.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	lg := exec.Command(testenv.Lomuz(t), "loadgen", "--origin", reps[0].URL, "--origin", reps[1].URL,
		"--token", token, "--devices", fmt.Sprint(plan.devices), "--devices-per-store", "4",
		"--duration", plan.duration.String(), "--interval", "100ms", "--plays", "2",
		"--request-timeout", "10s", "--attempt-timeout", "30s", "--out", out)
	lg.Stdout, lg.Stderr = logf, logf
	if err := lg.Start(); err != nil {
		t.Fatal(err)
	}
	lgDone := make(chan error, 1)
	go func() { lgDone <- lg.Wait() }()
	t.Cleanup(func() {
		if lg.ProcessState == nil {
			_ = lg.Process.Kill()
			<-lgDone
		}
	})
	waitUntil(t, 2*time.Minute, "loadgen to enroll its devices", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "devices enrolled")
	})
	start := time.Now()

	var faults []string
	at := func(d time.Duration) {
		time.Sleep(time.Until(start.Add(d))) // a schedule of faults, not a wait for a condition
	}
	for k, tt := 0, plan.first; tt+plan.period/2 <= plan.duration; k, tt = k+1, tt+plan.period {
		mode := []string{"fast", "immediate"}[k%2]
		at(tt)
		t0 := time.Now()
		pg.Restart(mode)
		faults = append(faults, fmt.Sprintf("%5.1fs PostgreSQL restart -m %s (%.1fs)", time.Since(start).Seconds(),
			mode, time.Since(t0).Seconds()))
		victim := reps[k%2]
		at(tt + plan.period*2/5)
		victim.kill()
		faults = append(faults, fmt.Sprintf("%5.1fs SIGKILL %s", time.Since(start).Seconds(), victim.URL))
		at(tt + plan.period*3/4)
		victim.start()
		faults = append(faults, fmt.Sprintf("%5.1fs %s serving again", time.Since(start).Seconds(), victim.URL))
	}
	if err := <-lgDone; err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("loadgen: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("loadgen result: %v\n%s", err, raw)
	}
	if p := os.Getenv("LOMUZ_FAULT_RESULT"); p != "" {
		_ = os.WriteFile(p, raw, 0o644)
	}
	t.Logf("faults:\n  %s", strings.Join(faults, "\n  "))
	t.Logf("load: %d devices for %s, %.0f ops/s; requests %v; request errors %v; tries %d, failed tries %v; "+
		"syncs %d (failed %d), uploads %d (failed %d); plays sent %d, acked %d; longest error window %d ms "+
		"(device %s, open %v); operation latency %+v",
		res.Devices, res.Ended.Sub(res.Started).Round(time.Second), res.OpsPerSecond, res.Requests, res.RequestErrors,
		res.Tries, res.TryErrors, res.Syncs, res.FailedSyncs, res.Uploads, res.FailedUploads, res.PlaysSent,
		res.PlaysAcked, res.LongestErrorWindowMS, res.LongestWindowDevice, res.LongestWindowOpen, res.OpLatency)
	for k, v := range res.ErrorSamples {
		t.Logf("error %s, e.g.: %s", k, v)
	}
	for _, r := range reps {
		b, _ := os.ReadFile(r.log)
		var errs []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, " ERROR ") {
				errs = append(errs, l)
			}
		}
		if len(errs) > 0 {
			t.Logf("%s logged %d errors, first: %s", r.URL, len(errs), strings.Join(errs[:min(len(errs), 5)], "\n  "))
		}
	}

	if res.Syncs == 0 || res.Uploads == 0 || res.PlaysAcked == 0 {
		t.Fatalf("the load did not run: %d syncs, %d uploads, %d plays acknowledged", res.Syncs, res.Uploads, res.PlaysAcked)
	}
	for _, d := range res.PerDevice {
		if d.FailedSyncs != 0 || d.FailedUploads != 0 {
			t.Errorf("device %s: %d of %d syncs and %d of %d uploads failed on both replicas", d.DeviceID,
				d.FailedSyncs, d.Syncs, d.FailedUploads, d.Uploads)
		}
	}
	lost := lostAcked(t, dbURL, res)
	t.Logf("acknowledged play events lost: %d of %d", lost, res.PlaysAcked)
	if lost != 0 {
		t.Errorf("%d acknowledged play events are not in PostgreSQL", lost)
	}
}

// lostAcked counts the play events loadgen saw acknowledged that PostgreSQL does not hold.
func lostAcked(t *testing.T, dbURL string, res loadgen.Result) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(c, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	type id struct {
		dev string
		seq int64
	}
	stored := map[id]bool{}
	rows, err := conn.Query(c, `SELECT device_id::text, seq FROM play_events WHERE tenant_id = $1`, res.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k id
		if err := rows.Scan(&k.dev, &k.seq); err != nil {
			t.Fatal(err)
		}
		stored[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost, acked := 0, 0
	for _, d := range res.PerDevice {
		for _, s := range d.AckedIDs() {
			acked++
			if !stored[id{d.DeviceID, int64(s)}] {
				lost++
				if lost <= 10 {
					t.Errorf("acknowledged play event %s/%d is not stored", d.DeviceID, s)
				}
			}
		}
	}
	if int64(acked) != res.PlaysAcked {
		t.Errorf("result lists %d acknowledged events, counts %d", acked, res.PlaysAcked)
	}
	return lost
}
