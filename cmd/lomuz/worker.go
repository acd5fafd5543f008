package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/jobs/pgjobs"
	"github.com/lomuz/lomuz/origin/transcode"
)

// workerFlags are `lomuz worker`'s own flags; the stores come from originFlags.storeFlags.
type workerFlags struct {
	origin     originFlags
	workers    int
	id         string
	tempDir    string
	jobTimeout time.Duration
	rescue     time.Duration
	bitrate    int
}

func init() {
	f := &workerFlags{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run transcode jobs from the PostgreSQL queue",
		Long: "Takes transcode jobs from the queue in --postgres, fetches masters from the blob store (--s3-bucket or\n" +
			"--blob-dir), stores Ogg Vorbis renditions there and marks assets ready in the catalog. Run as many as\n" +
			"needed, on any machines: a worker killed mid-job leaves the job to another. Needs ffmpeg and origin's\n" +
			"signing key (" + origin.KeyEnv + " or --key-file); the embedded origin transcodes in-process instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runWorker(ctx, f)
		},
	}
	f.origin.storeFlags(cmd)
	fl := cmd.Flags()
	host, _ := os.Hostname()
	fl.IntVar(&f.workers, "concurrency", 1, "jobs run at once (one per core is the usual choice)")
	fl.StringVar(&f.id, "id", fmt.Sprintf("%s-%d", host, os.Getpid()), "name of this worker in the queue's records")
	fl.StringVar(&f.tempDir, "temp-dir", "", "room for masters and renditions in progress (default: the system's)")
	fl.DurationVar(&f.jobTimeout, "job-timeout", 30*time.Minute, "longest one transcode may run")
	fl.DurationVar(&f.rescue, "rescue-after", 0, "a job running this long is taken for a dead worker's and retried (default job-timeout + 1m; must exceed it)")
	fl.IntVar(&f.bitrate, "bitrate", transcode.DefaultConfig().BitrateKbps, "Vorbis nominal bitrate, kbps")
	root.AddCommand(cmd)
}

func runWorker(ctx context.Context, f *workerFlags) error {
	dc := f.origin.deployConfig()
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
	tc.BitrateKbps = f.bitrate
	w, err := transcode.NewWorker(transcode.WorkerConfig{Transcode: tc, Blobs: d.Blobs, Completer: catalogCompleter(d),
		TempDir: f.tempDir})
	if err != nil {
		return err
	}
	qc := pgjobs.DefaultConfig(pool, w.Handlers())
	qc.ID, qc.Workers, qc.JobTimeout, qc.RescueAfter = f.id, f.workers, f.jobTimeout, f.rescue
	if qc.RescueAfter == 0 {
		qc.RescueAfter = f.jobTimeout + time.Minute
	}
	q, err := pgjobs.New(qc)
	if err != nil {
		return err
	}
	slog.Info("worker: serving transcode jobs", "id", f.id, "concurrency", f.workers, "s3", dc.S3.Bucket != "")
	return q.Serve(ctx)
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

// runOriginTranscoding is `lomuz origin --transcode`: origin.Run with the transcode pipeline as its ingest step.
// Without ffmpeg on the embedded default it warns and keeps origin's direct ingest, so a laptop without ffmpeg
// still runs the whole system.
func runOriginTranscoding(ctx context.Context, cfg origin.Config, dc origin.DeployConfig) error {
	d, err := origin.Open(ctx, dc)
	if err != nil {
		return err
	}
	defer d.Close()
	in, serve, closeQueue, err := transcodeOrigin(ctx, d, dc)
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

// transcodeOrigin is the transcoding ingest for `lomuz origin` over an opened deployment, for the origin command
// to pass to origin.New with origin.WithIngester. With PostgreSQL it only enqueues (`lomuz worker` processes do
// the work) and serve just waits; on the embedded default the jobs run in-process from a durable queue in
// DATA/jobs, and serve runs them until ctx ends. Close releases the queue's connections.
func transcodeOrigin(ctx context.Context, d *origin.Deployment, dc origin.DeployConfig) (in origin.Ingester,
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
