package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/ingest"
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
	metrics    string
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
			return ingest.RunWorker(ctx, f.origin.deployConfig(), ingest.WorkerConfig{ID: f.id,
				Concurrency: f.workers, TempDir: f.tempDir, JobTimeout: f.jobTimeout, RescueAfter: f.rescue,
				BitrateKbps: f.bitrate, MetricsListen: f.metrics})
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
	fl.StringVar(&f.metrics, "metrics-listen", "", "Prometheus metrics and /healthz address, e.g. 127.0.0.1:9465 (empty: off)")
	fl.IntVar(&f.bitrate, "bitrate", transcode.DefaultConfig().BitrateKbps, "Vorbis nominal bitrate, kbps")
	root.AddCommand(cmd)
}
