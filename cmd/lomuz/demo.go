package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/demo"
	"github.com/lomuz/lomuz/origin/ingest"
)

func init() {
	cfg := demo.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run origin and a store of zones in one process, on embedded defaults",
		Long: "Starts origin on loopback with a fresh tenant and generated content (music, a spot valid for 30 minutes,\n" +
			"an emergency track), and one store whose zones are nodes on an in-memory LAN. Prints the origin URL, the\n" +
			"admin token and a live line of what each zone plays. Ctrl-C stops everything.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Out, cfg.Logger, cfg.Ingest = cmd.OutOrStdout(), newLogger(), ingest.Pipeline
			return demo.Run(ctx, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.DataDir, "data", "", "directory for the demo's data (default: a new temporary directory)")
	fl.StringVar(&cfg.Listen, "listen", cfg.Listen, "origin address")
	fl.IntVar(&cfg.Zones, "zones", cfg.Zones, "number of sound zones (nodes)")
	fl.StringVar(&cfg.Output, "output", cfg.Output, "null, wav (one file per zone in --data) or speaker (zone 1; -tags speaker)")
	root.AddCommand(cmd)
}
