// Command lomuz is the one binary of Lomuz: origin, worker, node, admin, sim and demo are its subcommands.
// It holds no logic: each subcommand parses its configuration and hands it to the package that owns the work.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var root = &cobra.Command{
	Use:           "lomuz",
	Short:         "Offline-first background music for retail chains",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lomuz:", err)
		os.Exit(1)
	}
}
