package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/node"
)

func init() {
	cfg := node.DefaultDeviceConfig()
	var origins string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a store node: one player for one sound zone",
		Long: "Runs one player. On its first start it enrolls with origin using a one-time token (--token) and keeps\n" +
			"its credentials in --data; later starts need only --data and --origin.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Origins = strings.Split(origins, ",")
			cfg.Logger = newLogger()
			return node.RunDevice(ctx, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&origins, "origin", "http://127.0.0.1:8080", "origin base URL(s), comma-separated, tried in order")
	fl.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: database, blob cache, credentials")
	fl.StringVar(&cfg.Token, "token", "", "one-time enrollment token (first start only)")
	fl.StringVar(&cfg.Name, "name", "", "device name shown in the panel (default: host name)")
	fl.StringVar(&cfg.Output, "output", cfg.Output, "audio output: null, wav:PATH or speaker (needs -tags speaker)")
	fl.StringVar(&cfg.StatusListen, "status-listen", cfg.StatusListen, "status and metrics address (empty: off)")
	fl.Int64Var(&cfg.CacheQuota, "cache-quota", 0, "blob cache quota in bytes (0: the disk is the limit)")
	fl.Int64Var(&cfg.BytesPerSec, "bandwidth", 0, "download rate cap in bytes per second (0: none)")
	fl.StringVar(&cfg.Core.AppVersion, "app-version", "dev", "version reported to origin")
	root.AddCommand(cmd)
}
