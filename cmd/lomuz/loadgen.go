package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/internal/loadgen"
)

func init() {
	cfg := loadgen.DefaultConfig()
	var out string
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Enroll simulated devices and put sync and proof-of-play load on origin replicas",
		Long: "Enrolls --devices devices in new stores of the token's tenant, then has each sync and deliver play\n" +
			"events through the device client (failing over across every --origin) for --duration, and writes a JSON\n" +
			"result: requests, errors by kind, failed operations per device, the longest error window and the ids of\n" +
			"every acknowledged play event. Run it as its own process, on another machine for real figures.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fleet, err := loadgen.Enroll(ctx, cfg)
			if err != nil {
				return err
			}
			// Tools that start this process wait for this line before they inject faults.
			fmt.Fprintf(cmd.ErrOrStderr(), "loadgen: %d devices enrolled; running for %s\n", cfg.Devices, cfg.Duration)
			res := fleet.Run(ctx)
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&cfg.Origins, "origin", nil, "origin base URL (repeatable, tried in order)")
	fl.StringVar(&cfg.AdminToken, "token", os.Getenv("LOMUZ_TOKEN"), "director token of the tenant (env LOMUZ_TOKEN)")
	fl.IntVar(&cfg.Devices, "devices", cfg.Devices, "simulated devices")
	fl.IntVar(&cfg.DevicesPerStore, "devices-per-store", cfg.DevicesPerStore, "devices sharing one store")
	fl.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long devices keep operating")
	fl.DurationVar(&cfg.Interval, "interval", cfg.Interval, "pause between a device's operations (+-25%)")
	fl.IntVar(&cfg.PlaysPerOp, "plays", cfg.PlaysPerOp, "play events recorded before each operation")
	fl.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "bound of one HTTP call")
	fl.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", cfg.AttemptTimeout, "how long one sync or upload is retried")
	fl.StringVar(&out, "out", "-", "result file (- for stdout)")
	root.AddCommand(cmd)
}
