package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Every setting of every command is a flag; the same setting can come from the environment (LOMUZ_ + the flag
// name in upper case with dashes as underscores) or from a YAML config file (--config or LOMUZ_CONFIG) whose keys
// are the flag names, at the top level or under a section named after the command. Precedence: flag, environment,
// file, default. A value that does not parse, or a key that names no setting, stops the command before it starts.

// maxConfigFile bounds the config file: it is read whole.
const maxConfigFile = 1 << 20

var configFile string

func init() {
	root.PersistentFlags().StringVar(&configFile, "config", "", "YAML file of settings: keys are flag names (env LOMUZ_CONFIG)")
	root.Long = "Offline-first background music for retail chains.\n\n" +
		"Every flag can also be set in the environment as LOMUZ_<FLAG> (upper case, dashes as underscores) or as a\n" +
		"key in a YAML --config file, at the top level or under a section named after the command.\n" +
		"Precedence: flag, environment, config file, default."
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applySettings(cmd) }
}

func envName(flag string) string {
	return "LOMUZ_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applySettings fills every flag the command line did not set from the environment, then from the config file.
func applySettings(cmd *cobra.Command) error {
	path := configFile
	if !cmd.Flags().Changed("config") {
		if v := os.Getenv("LOMUZ_CONFIG"); v != "" {
			path = v
		}
	}
	file, err := readSettings(path, cmd)
	if err != nil {
		return err
	}
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			delete(file, f.Name)
			if err := setFromFile(f, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s: key %s: %v", path, f.Name, err))
			}
		}
	})
	for k := range file {
		if cmd.Flags().Lookup(k) == nil {
			errs = append(errs, fmt.Sprintf("%s: key %q is not a setting of `%s` (see --help)", path, k, cmd.CommandPath()))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("bad settings:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// readSettings returns the file's settings for cmd: its top-level scalars and lists, overlaid by the section named
// after the command (sections of other commands are ignored).
func readSettings(path string, cmd *cobra.Command) (map[string]any, error) {
	out := map[string]any{}
	if path == "" {
		return out, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if fi.Size() > maxConfigFile {
		return nil, fmt.Errorf("config file %s: %d bytes, more than %d", path, fi.Size(), maxConfigFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	for k, v := range doc {
		if _, section := v.(map[string]any); !section {
			out[k] = v
		}
	}
	if sec, ok := doc[cmd.Name()].(map[string]any); ok {
		for k, v := range sec {
			out[k] = v
		}
	}
	return out, nil
}

func setFromFile(f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = fmt.Sprint(x)
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.Replace(parts)
		}
		return f.Value.Set(strings.Join(parts, ","))
	}
	return f.Value.Set(fmt.Sprint(v))
}
