package transcode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/jobs/pgjobs"
)

// The worker helper: the test binary re-executed with workerEnv set runs as one transcode worker process on a
// shared Postgres queue and blob directory, reporting outcomes into test tables. It is a real separate process, so
// the test can SIGKILL it mid-job.
const (
	workerEnv    = "LOMUZ_TRANSCODE_TEST_WORKER"
	workerPG     = "LOMUZ_TRANSCODE_TEST_PG"
	workerBlobs  = "LOMUZ_TRANSCODE_TEST_BLOBS"
	workerTmp    = "LOMUZ_TRANSCODE_TEST_TMP"
	killJobLimit = 20 * time.Second // JobTimeout of the helper workers; a 150 s master encodes in a few seconds
)

func TestMain(m *testing.M) {
	if id := os.Getenv(workerEnv); id != "" {
		if err := workerMain(id); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const completionTables = `
CREATE TABLE test_completions (n serial PRIMARY KEY, asset text NOT NULL, sha256 text NOT NULL, worker text NOT NULL);
CREATE TABLE test_assets (asset text PRIMARY KEY, sha256 text NOT NULL, duration_ms bigint NOT NULL, loudness double precision NOT NULL);`

func workerMain(id string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	pool, err := pgxpool.New(ctx, os.Getenv(workerPG))
	if err != nil {
		return err
	}
	defer pool.Close()
	blobs, err := dirblob.New(dirblob.DefaultConfig(os.Getenv(workerBlobs)))
	if err != nil {
		return err
	}
	// The completer does what origin's does in effect: an idempotent upsert of the asset's state. Each call is also
	// logged, so the test can count them.
	done := CompleterFunc(func(ctx context.Context, tenant, asset string, r Result, failure error) error {
		if failure != nil {
			return failure
		}
		_, err := pool.Exec(ctx, `INSERT INTO test_completions (asset, sha256, worker) VALUES ($1, $2, $3)`, asset, r.SHA256, id)
		if err != nil {
			return err
		}
		_, err = pool.Exec(ctx, `INSERT INTO test_assets VALUES ($1, $2, $3, $4) ON CONFLICT (asset) DO UPDATE
			SET sha256 = excluded.sha256, duration_ms = excluded.duration_ms, loudness = excluded.loudness`,
			asset, r.SHA256, r.DurationMS, r.LoudnessLUFS)
		return err
	})
	w, err := NewWorker(WorkerConfig{Transcode: DefaultConfig(), Blobs: blobs, Completer: done, TempDir: os.Getenv(workerTmp)})
	if err != nil {
		return err
	}
	cfg := pgjobs.DefaultConfig(pool, w.Handlers())
	cfg.ID, cfg.JobTimeout, cfg.RescueAfter = id, killJobLimit, killJobLimit+time.Second
	cfg.PollInterval, cfg.ShutdownGrace = 100*time.Millisecond, 5*time.Second
	q, err := pgjobs.New(cfg)
	if err != nil {
		return err
	}
	return q.Serve(ctx)
}

type workerProc struct {
	id, tmp, log string
	cmd          *exec.Cmd
	exited       chan error
}

func startWorker(t *testing.T, id, pgURL, blobDir string) *workerProc {
	t.Helper()
	w := &workerProc{id: id, tmp: t.TempDir(), log: filepath.Join(t.TempDir(), id+".log"), exited: make(chan error, 1)}
	logf, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(os.Args[0], "-test.run=^$")
	w.cmd.Env = append(os.Environ(), workerEnv+"="+id, workerPG+"="+pgURL, workerBlobs+"="+blobDir, workerTmp+"="+w.tmp)
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.exited <- w.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(20 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(w.log)
			t.Logf("worker %s log:\n%s", id, b)
		}
	})
	return w
}

// processesUnder lists running processes whose command line mentions dir (the encoder children of a worker).
func processesUnder(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

// TestWorkerKilledMidJobIsRetriedElsewhere runs two worker processes on one Postgres queue, SIGKILLs the one that
// took the job while it is encoding, and checks that the other completes it, with the effect of one completion.
func TestWorkerKilledMidJobIsRetriedElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("takes up to a minute: river rescues a dead worker's job after RescueAfter plus its 30 s sweep")
	}
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	pgURL := testenv.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgjobs.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, completionTables); err != nil {
		t.Fatal(err)
	}
	blobDir := t.TempDir()
	blobs, err := dirblob.New(dirblob.DefaultConfig(blobDir))
	if err != nil {
		t.Fatal(err)
	}
	// Long enough that encoding takes seconds: the kill lands mid-job.
	masterKey := putFile(t, blobs, genMaster(t, t.TempDir(),
		master{lead: 1, body: 150, tail: 1, amp: 0.1, codecArgs: []string{"-c:a", "flac"}, ext: "flac"}))

	workers := map[string]*workerProc{}
	for _, id := range []string{"worker-a", "worker-b"} {
		workers[id] = startWorker(t, id, pgURL, blobDir)
	}
	producer, err := pgjobs.New(pgjobs.DefaultConfig(pool, nil))
	if err != nil {
		t.Fatal(err)
	}
	const asset = "3d7e0c52-0000-4000-8000-00000000beef"
	if err := (Ingester{Queue: producer}).Ingest(ctx, "tenant-1", asset, masterKey); err != nil {
		t.Fatal(err)
	}

	type row struct {
		state       string
		attempt     int
		attemptedBy []string
	}
	read := func() row {
		var r row
		err := pool.QueryRow(ctx, `SELECT state, attempt, coalesce(attempted_by, '{}') FROM river_job WHERE kind = 'lomuz_job'`).
			Scan(&r.state, &r.attempt, &r.attemptedBy)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	poll := func(limit time.Duration, what string, cond func(row) bool) row {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.Now().Add(limit)
		for {
			if r := read(); cond(r) {
				return r
			} else if time.Now().After(deadline) {
				t.Fatalf("after %v: %s; job row %+v", limit, what, r)
			}
			<-tick.C
		}
	}

	running := poll(30*time.Second, "no worker took the job", func(r row) bool { return r.state == "running" })
	victim := workers[running.attemptedBy[len(running.attemptedBy)-1]]
	// Wait until the victim's encoder is at work, then kill the worker as a reclaimed Spot instance dies.
	waitUntil(t, 10*time.Second, "the worker holding the job never started ffmpeg",
		func() bool { return len(processesUnder(victim.tmp)) > 0 })
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.exited
	victim.exited <- nil // for the cleanup
	killedAt := time.Now()
	if r := read(); r.state != "running" {
		t.Fatalf("the job was %s when its worker died; the kill did not land mid-job", r.state)
	}
	// The kernel takes the encoder down with the worker.
	waitUntil(t, 10*time.Second, "the encoder outlived its killed worker",
		func() bool { return len(processesUnder(victim.tmp)) == 0 })

	done := poll(2*time.Minute, "the job was not completed after its worker died",
		func(r row) bool { return r.state == "completed" })
	t.Logf("completed %v after the kill, attempted by %v", time.Since(killedAt).Round(time.Second), done.attemptedBy)
	survivor := "worker-a"
	if victim.id == survivor {
		survivor = "worker-b"
	}
	if done.attempt != 2 || !slices.Equal(done.attemptedBy, []string{victim.id, survivor}) {
		t.Fatalf("job row %+v; want attempt 2 by %s then %s", done, victim.id, survivor)
	}

	var completions int
	var completer, sha string
	if err := pool.QueryRow(ctx, `SELECT count(*), min(worker), min(sha256) FROM test_completions`).Scan(&completions, &completer, &sha); err != nil {
		t.Fatal(err)
	}
	if completions != 1 || completer != survivor {
		t.Fatalf("%d completions (by %s); want exactly 1, by %s", completions, completer, survivor)
	}
	var assets int
	var dur int64
	if err := pool.QueryRow(ctx, `SELECT count(*), max(duration_ms) FROM test_assets WHERE sha256 = $1`, sha).Scan(&assets, &dur); err != nil {
		t.Fatal(err)
	}
	if assets != 1 || dur < 151_900 || dur > 152_100 {
		t.Fatalf("asset rows %d, duration %d ms", assets, dur)
	}
	// One rendition blob besides the master: the killed attempt published nothing.
	var keys []string
	for info, err := range blobs.List(ctx, blob.ContentPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if len(keys) != 2 || !slices.Contains(keys, blob.ContentKey(sha)) {
		t.Fatalf("blobs %v; want the master and rendition %s", keys, sha)
	}
}
