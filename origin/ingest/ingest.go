// Package ingest composes the transcode pipeline with origin: the in-process pipeline of an embedded origin, the
// enqueue-only ingester of an origin on PostgreSQL, and the `lomuz worker` process that takes jobs from the
// PostgreSQL queue. It owns no rule of its own: transcoding is origin/transcode's, the queues are origin/jobs', and
// the asset's completion is origin.FinishIngest.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/jobs/pgjobs"
	"github.com/lomuz/lomuz/origin/transcode"
)

// WorkerConfig configures a `lomuz worker` process.
type WorkerConfig struct {
	// ID names this worker in the queue's records.
	ID string
	// Concurrency is how many jobs run at once.
	Concurrency int
	// TempDir holds masters and renditions in progress ("" is the system's).
	TempDir string
	// JobTimeout bounds one transcode; RescueAfter (default JobTimeout + 1 min, must exceed it) is when a running
	// job is taken for a dead worker's and retried.
	JobTimeout, RescueAfter time.Duration
	// BitrateKbps is the Vorbis nominal bitrate.
	BitrateKbps int
	// MetricsListen serves Prometheus metrics (and /healthz) there when set; loopback by default in the CLI.
	MetricsListen string
}

// RunWorker takes transcode jobs from the PostgreSQL queue of dc until ctx ends.
func RunWorker(ctx context.Context, dc origin.DeployConfig, wc WorkerConfig) error {
	if dc.PostgresURL == "" {
		return errors.New("worker: --postgres is required (the queue lives there); the embedded origin transcodes in-process")
	}
	if err := requireSigningKey(dc); err != nil {
		return err
	}
	d, err := origin.Open(ctx, dc)
	if err != nil {
		return err
	}
	defer d.Close()
	pool, err := pgxpool.New(ctx, dc.PostgresURL)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer pool.Close()
	if err := pgjobs.Migrate(ctx, pool); err != nil {
		return err
	}
	tc := transcode.DefaultConfig()
	if wc.BitrateKbps != 0 {
		tc.BitrateKbps = wc.BitrateKbps
	}
	m := newWorkerMetrics()
	w, err := transcode.NewWorker(transcode.WorkerConfig{Transcode: tc, Blobs: d.Blobs,
		Completer: m.count(catalogCompleter(d)), TempDir: wc.TempDir})
	if err != nil {
		return err
	}
	qc := pgjobs.DefaultConfig(pool, w.Handlers())
	qc.ID, qc.Workers, qc.JobTimeout, qc.RescueAfter = wc.ID, wc.Concurrency, wc.JobTimeout, wc.RescueAfter
	if qc.RescueAfter == 0 {
		qc.RescueAfter = wc.JobTimeout + time.Minute
	}
	q, err := pgjobs.New(qc)
	if err != nil {
		return err
	}
	slog.Info("worker: serving transcode jobs", "id", wc.ID, "concurrency", wc.Concurrency, "s3", dc.S3.Bucket != "")
	if wc.MetricsListen == "" {
		return q.Serve(ctx)
	}
	ln, err := net.Listen("tcp", wc.MetricsListen)
	if err != nil {
		return fmt.Errorf("worker: metrics: %w", err)
	}
	return serveBoth(ctx, q.Serve, func(ctx context.Context) error { return m.serve(ctx, ln) })
}

// requireSigningKey refuses to start a worker that would sign records with a key of its own: origin.LoadKey makes
// a new key when none exists, and devices would reject every record such a worker publishes.
func requireSigningKey(dc origin.DeployConfig) error {
	if os.Getenv(origin.KeyEnv) != "" {
		return nil
	}
	path := dc.KeyFile
	if path == "" {
		path = filepath.Join(dc.DataDir, origin.KeyFileName)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("worker: origin's signing key is needed (set %s or --key-file): %w", origin.KeyEnv, err)
	}
	return nil
}

// catalogCompleter reports transcode outcomes through origin.FinishIngest, which marks the asset ready (and
// publishes its signed record) or failed.
func catalogCompleter(d *origin.Deployment) transcode.Completer {
	return transcode.CompleterFunc(func(ctx context.Context, tenantID, assetID string, r transcode.Result, failure error) error {
		return origin.FinishIngest(ctx, d.Catalog, d.Key, tenantID, assetID, origin.Rendition{
			SHA256: r.SHA256, Size: r.Size, Codec: r.Codec, DurationMS: r.DurationMS, LoudnessLUFS: r.LoudnessLUFS,
		}, failure)
	})
}

// RunOrigin is `lomuz origin --transcode`: origin.Run with the transcode pipeline as its ingest step.
// Without ffmpeg on the embedded default it warns and keeps origin's direct ingest, so a laptop without ffmpeg
// still runs the whole system.
func RunOrigin(ctx context.Context, cfg origin.Config, dc origin.DeployConfig) error {
	d, err := origin.Open(ctx, dc)
	if err != nil {
		return err
	}
	defer d.Close()
	in, serve, closeQueue, err := Pipeline(ctx, d, dc)
	var opts []origin.Option
	switch {
	case err == nil:
		defer closeQueue()
		opts = append(opts, origin.WithIngester(in))
	case dc.PostgresURL == "" && errors.Is(err, exec.ErrNotFound):
		slog.Warn("origin: ffmpeg not found; uploads are served as uploaded, not transcoded", "err", err)
		serve = func(ctx context.Context) error { <-ctx.Done(); return nil }
	default:
		return err
	}
	s, err := origin.New(cfg, d.Catalog, d.Blobs, d.Key, opts...)
	if err != nil {
		return err
	}
	slog.Info("origin: serving", "listen", cfg.Listen, "postgres", dc.PostgresURL != "", "s3", dc.S3.Bucket != "",
		"transcode", in != nil)
	return serveBoth(ctx, s.Serve, serve)
}

// Pipeline is the transcoding ingest for `lomuz origin` over an opened deployment, for the origin command
// to pass to origin.New with origin.WithIngester. With PostgreSQL it only enqueues (`lomuz worker` processes do
// the work) and serve just waits; on the embedded default the jobs run in-process from a durable queue in
// DATA/jobs, and serve runs them until ctx ends. Close releases the queue's connections.
func Pipeline(ctx context.Context, d *origin.Deployment, dc origin.DeployConfig) (in origin.Ingester,
	serve func(context.Context) error, closeFn func(), err error) {
	if dc.PostgresURL != "" {
		pool, err := pgxpool.New(ctx, dc.PostgresURL)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("origin: job queue: %w", err)
		}
		if err := pgjobs.Migrate(ctx, pool); err != nil {
			pool.Close()
			return nil, nil, nil, err
		}
		q, err := pgjobs.New(pgjobs.DefaultConfig(pool, nil))
		if err != nil {
			pool.Close()
			return nil, nil, nil, err
		}
		wait := func(ctx context.Context) error { <-ctx.Done(); return nil }
		return transcode.Ingester{Queue: q}, wait, pool.Close, nil
	}
	w, err := transcode.NewWorker(transcode.WorkerConfig{Transcode: transcode.DefaultConfig(), Blobs: d.Blobs,
		Completer: catalogCompleter(d)})
	if err != nil {
		return nil, nil, nil, err
	}
	q, err := jobs.NewLocal(jobs.DefaultLocalConfig(filepath.Join(dc.DataDir, "jobs"), w.Handlers()))
	if err != nil {
		return nil, nil, nil, err
	}
	return transcode.Ingester{Queue: q}, q.Serve, func() {}, nil
}

// serveBoth runs two services until ctx ends or one fails, then stops the other and returns the first error.
func serveBoth(ctx context.Context, a, b func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []func(context.Context) error{a, b} {
		wg.Go(func() {
			errs <- s(ctx)
			cancel()
		})
	}
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if first == nil && err != nil {
			first = err
		}
	}
	return first
}

// workerMetrics counts finished transcodes for Prometheus.
type workerMetrics struct {
	reg      *prometheus.Registry
	finished *prometheus.CounterVec
}

func newWorkerMetrics() *workerMetrics {
	m := &workerMetrics{reg: prometheus.NewRegistry(),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lomuz_worker_transcodes_total",
			Help: "Transcodes finished, by outcome (ready or failed)."}, []string{"outcome"})}
	m.reg.MustRegister(m.finished, prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// count wraps a completer so every reported outcome is counted.
func (m *workerMetrics) count(c transcode.Completer) transcode.Completer {
	return transcode.CompleterFunc(func(ctx context.Context, tenantID, assetID string, r transcode.Result, failure error) error {
		outcome := "ready"
		if failure != nil {
			outcome = "failed"
		}
		err := c.FinishTranscode(ctx, tenantID, assetID, r, failure)
		if err == nil {
			m.finished.WithLabelValues(outcome).Inc()
		}
		return err
	})
}

// serve answers /metrics and /healthz on ln until ctx ends.
func (m *workerMetrics) serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
