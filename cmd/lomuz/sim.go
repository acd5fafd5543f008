package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lomuz/lomuz/sim"
)

func init() {
	var scenario, report, trace string
	var seed uint64
	var quiet bool
	cmd := &cobra.Command{
		Use:   "sim --scenario FILE --seed N [--report DIR]",
		Short: "Run a deterministic simulation of stores of real node cores against an in-process origin",
		Long: "Runs the scenario with the given seed: the same seed gives the same run. Writes report.json and " +
			"report.html into --report, prints a summary, and exits non-zero when an invariant broke.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := sim.LoadScenario(scenario)
			if err != nil {
				return err
			}
			opts := sim.Options{Seed: seed, ScenarioPath: scenario}
			if !quiet {
				opts.Progress = os.Stderr
			}
			if trace != "" {
				f, err := os.Create(trace)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.Trace = f
			}
			r, err := sim.Run(cmd.Context(), sc, opts)
			if err != nil {
				return err
			}
			if report != "" {
				if err := r.Write(report); err != nil {
					return err
				}
			}
			fmt.Print(r.Summary())
			if report != "" {
				fmt.Printf("report: %s/report.html\n", report)
			}
			if r.Failed() {
				return errors.New("invariants broken; reproduce with: " + r.Command)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "", "scenario YAML file (see sim/scenarios)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed that drives the whole run")
	cmd.Flags().StringVar(&report, "report", "", "directory for report.json and report.html")
	cmd.Flags().StringVar(&trace, "trace", "", "write the event trace to this file")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress line on stderr")
	_ = cmd.MarkFlagRequired("scenario")
	root.AddCommand(cmd)
}
