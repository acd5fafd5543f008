package transcode

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/jobs/jobstest"
)

// outcomes records what a Completer was told.
type outcomes struct {
	mu    sync.Mutex
	calls []outcome
	fail  int // fail this many calls first, as a catalog outage would
}

type outcome struct {
	tenant, asset string
	r             Result
	failure       error
}

func (o *outcomes) FinishTranscode(_ context.Context, tenant, asset string, r Result, failure error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail > 0 {
		o.fail--
		return errors.New("catalog unavailable")
	}
	o.calls = append(o.calls, outcome{tenant, asset, r, failure})
	return nil
}

func (o *outcomes) all() []outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]outcome(nil), o.calls...)
}

// waitUntil polls cond every 20 ms and fails the test with what if it is still false after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(limit); !cond(); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
	}
}

func putFile(t *testing.T, s blob.Store, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	key := blob.ContentKey(hex.EncodeToString(sum[:]))
	if _, err := s.Put(context.Background(), key, bytes.NewReader(b), blob.PutOptions{SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	return key
}

// pipeline wires an in-process queue, a directory blob store and a recording completer around a Worker.
func pipeline(t *testing.T, done Completer) (blob.Store, jobs.Queue) {
	t.Helper()
	blobs, err := dirblob.New(dirblob.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FFmpeg, cfg.FFprobe = testenv.Tool(t, "ffmpeg"), testenv.Tool(t, "ffprobe")
	w, err := NewWorker(WorkerConfig{Transcode: cfg, Blobs: blobs, Completer: done, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	qc := jobs.DefaultLocalConfig("", w.Handlers())
	qc.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	qc.MaxAttempts = 3
	q, err := jobs.NewLocal(qc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- q.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	return blobs, q
}

func TestIngestTranscodesStoresAndReports(t *testing.T) {
	done := &outcomes{fail: 1} // the first report fails: the job retries and reports again
	blobs, q := pipeline(t, done)
	masterKey := putFile(t, blobs, genMaster(t, t.TempDir(), defaultMaster))
	in := Ingester{Queue: q}
	const tenant, asset = "6f1c2a3e-0000-4000-8000-000000000001", "6f1c2a3e-0000-4000-8000-0000000000aa"
	if err := in.Ingest(context.Background(), tenant, asset, masterKey); err != nil {
		t.Fatal(err)
	}
	// The same upload ingested twice while its job is unfinished is one job.
	if err := in.Ingest(context.Background(), tenant, asset, masterKey); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, jobstest.Timeout, "no outcome reported", func() bool { return len(done.all()) > 0 })
	calls := done.all()
	if len(calls) != 1 {
		t.Fatalf("%d outcomes, want 1", len(calls))
	}
	c := calls[0]
	if c.failure != nil || c.tenant != tenant || c.asset != asset {
		t.Fatalf("outcome %+v", c)
	}
	r := c.r
	if r.Codec != "vorbis" || r.MasterKey != masterKey || r.BitrateKbps != 80 || r.Size == 0 {
		t.Fatalf("result %+v", r)
	}
	// The rendition is stored under its content key, and the reported hashes are of its bytes.
	rc, info, err := blobs.Get(context.Background(), blob.ContentKey(r.SHA256), 0, -1)
	if err != nil {
		t.Fatalf("rendition not stored: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	sum, m := sha256.Sum256(b), md5.Sum(b)
	if hex.EncodeToString(sum[:]) != r.SHA256 || hex.EncodeToString(m[:]) != r.MD5 || info.Size != r.Size {
		t.Fatal("reported sha256/md5/size do not describe the stored rendition")
	}
	if r.DurationMS < 11_900 || r.DurationMS > 12_100 || r.CueInMS < 1350 || r.CueInMS > 1650 ||
		r.CueOutMS < 9350 || r.CueOutMS > 9650 || r.LoudnessLUFS < -21 || r.LoudnessLUFS > -19 {
		t.Fatalf("measurements %+v", r)
	}
}

func TestBadMasterIsReportedFailedOnce(t *testing.T) {
	done := &outcomes{}
	blobs, q := pipeline(t, done)
	key := "masters/not-audio"
	if _, err := blobs.Put(context.Background(), key, bytes.NewReader([]byte("<html>not a song</html>")), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := q.Enqueue(context.Background(), JobKind, "", []byte(`{"tenant_id":"t1","asset_id":"a1","master_key":"masters/not-audio"}`))
	if err != nil {
		t.Fatal(err)
	}
	info := jobstest.WaitState(t, q, id, jobs.StateFailed)
	if info.Attempt != 1 {
		t.Fatalf("a master that is not audio was attempted %d times; it is a permanent failure", info.Attempt)
	}
	calls := done.all()
	if len(calls) != 1 || !errors.Is(calls[0].failure, ErrNotAudio) || calls[0].asset != "a1" {
		t.Fatalf("outcomes %+v, want one ErrNotAudio failure", calls)
	}
}

func TestMalformedPayloadsArePermanent(t *testing.T) {
	done := &outcomes{}
	_, q := pipeline(t, done)
	for _, p := range []string{`not json`, `{"tenant_id":"t 1","asset_id":"a","master_key":"k"}`,
		`{"tenant_id":"t","asset_id":"a","master_key":"../etc/passwd"}`} {
		id, err := q.Enqueue(context.Background(), JobKind, "", []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		if info := jobstest.WaitState(t, q, id, jobs.StateFailed); info.Attempt != 1 {
			t.Fatalf("payload %s attempted %d times", p, info.Attempt)
		}
	}
	if err := (Ingester{Queue: q}).Ingest(context.Background(), "t", "a", "../up"); !errors.Is(err, blob.ErrInvalidKey) {
		t.Fatalf("Ingest with a bad master key = %v", err)
	}
}

func TestJobKeyFitsTheQueue(t *testing.T) {
	long := payload{TenantID: strings.Repeat("t", 64), AssetID: strings.Repeat("a", 64), MasterKey: strings.Repeat("k/", 200) + "m"}
	if err := long.check(); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Check(JobKind, jobKey(long), nil); err != nil {
		t.Fatalf("job key of a long master key: %v", err)
	}
	other := long
	other.MasterKey += "2"
	if jobKey(long) == jobKey(other) {
		t.Fatal("two masters of one asset share a job key")
	}
}
