package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/blob/s3blob"
	"github.com/lomuz/lomuz/origin/ingest"
)

// originFlags are the flags shared by `lomuz origin` and `lomuz origin bootstrap`.
type originFlags struct {
	deploy    origin.DeployConfig
	s3Prefix  string
	s3Path    bool
	cfg       origin.Config
	tenant    string
	tokenName string
	transcode bool
}

func (f *originFlags) storeFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.deploy.DataDir, "data", "lomuz-data", "data directory: embedded catalog, blobs and signing key")
	fl.StringVar(&f.deploy.PostgresURL, "postgres", "", "PostgreSQL URL of the catalog (default: embedded catalog in --data)")
	fl.StringSliceVar(&f.deploy.ReplicaURLs, "postgres-replica", nil, "read-replica URLs (repeatable)")
	fl.StringVar(&f.deploy.KeyFile, "key-file", "", "signing key file (default DATA/"+origin.KeyFileName+"; "+origin.KeyEnv+" overrides)")
	fl.StringVar(&f.deploy.BlobDir, "blob-dir", "", "blob directory (default DATA/blobs) when no --s3-bucket")
	fl.StringVar(&f.deploy.S3.Bucket, "s3-bucket", "", "S3 bucket for blobs")
	fl.StringVar(&f.deploy.S3.Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (empty: AWS)")
	fl.StringVar(&f.deploy.S3.Region, "s3-region", "us-east-1", "S3 region")
	fl.StringVar(&f.s3Prefix, "s3-prefix", "", "key prefix inside the bucket, ending in /")
	fl.BoolVar(&f.s3Path, "s3-path-style", true, "path-style bucket addressing (S3-compatible servers)")
	fl.StringVar(&f.deploy.S3.AccessKey, "s3-access-key", os.Getenv("LOMUZ_S3_ACCESS_KEY"), "S3 access key (env LOMUZ_S3_ACCESS_KEY)")
	fl.StringVar(&f.deploy.S3.SecretKey, "s3-secret-key", os.Getenv("LOMUZ_S3_SECRET_KEY"), "S3 secret key (env LOMUZ_S3_SECRET_KEY)")
}

func (f *originFlags) deployConfig() origin.DeployConfig {
	dc := f.deploy
	if dc.S3.Bucket != "" {
		s3 := s3blob.DefaultConfig(dc.S3.Bucket)
		s3.Endpoint, s3.Region, s3.AccessKey, s3.SecretKey = dc.S3.Endpoint, dc.S3.Region, dc.S3.AccessKey, dc.S3.SecretKey
		s3.KeyPrefix, s3.UsePathStyle = f.s3Prefix, f.s3Path
		dc.S3 = s3
	}
	return dc
}

func init() {
	f := &originFlags{cfg: origin.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "origin",
		Short: "Run the origin service (device and admin API)",
		Long: "Runs origin on the embedded catalog and a blob directory in --data by default, or on PostgreSQL\n" +
			"(--postgres) and S3 (--s3-bucket). Create the first tenant with `lomuz origin bootstrap`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f.transcode {
				return ingest.RunOrigin(ctx, f.cfg, f.deployConfig())
			}
			return origin.Run(ctx, f.cfg, f.deployConfig())
		},
	}
	f.storeFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.cfg.Listen, "listen", f.cfg.Listen, "address to serve on")
	fl.StringVar(&f.cfg.CDNPrefix, "cdn-prefix", "", "download URLs point at PREFIX<sha256> (a CDN in front of origin or the bucket)")
	fl.BoolVar(&f.cfg.Presign, "presign", false, "download URLs are presigned S3 GETs (needs --s3-bucket)")
	fl.IntVar(&f.cfg.MaxInFlight, "max-inflight", f.cfg.MaxInFlight, "device requests served at once before answering 429 (0: no limit)")
	fl.BoolVar(&f.transcode, "transcode", true, "transcode uploads to Ogg Vorbis (in-process; with --postgres, by `lomuz worker`s)")
	fl.Int64Var(&f.cfg.MaxUploadBytes, "max-upload", f.cfg.MaxUploadBytes, "largest asset upload in bytes")
	fl.IntVar(&f.cfg.MaxConns, "max-conns", f.cfg.MaxConns, "connections served at once; more wait to be accepted (-1: no limit)")
	fl.DurationVar(&f.cfg.ReadHeaderTimeout, "read-header-timeout", f.cfg.ReadHeaderTimeout, "time a client has to send a request's headers")
	fl.DurationVar(&f.cfg.ReadTimeout, "read-timeout", f.cfg.ReadTimeout, "time a client has to send a whole request (uploads: while they keep a minimum pace)")

	boot := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create a tenant and its first admin (director) token, printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			d, err := origin.Open(ctx, f.deployConfig())
			if err != nil {
				return err
			}
			defer d.Close()
			id, tok, err := origin.Bootstrap(ctx, d.Catalog, f.tenant, f.tokenName)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s\ntoken  %s\n", id, tok)
			return nil
		},
	}
	f.storeFlags(boot)
	boot.Flags().StringVar(&f.tenant, "tenant", "My chain", "tenant (chain) name")
	boot.Flags().StringVar(&f.tokenName, "token-name", "bootstrap", "name recorded with the admin token")
	cmd.AddCommand(boot)
	root.AddCommand(cmd)
}
