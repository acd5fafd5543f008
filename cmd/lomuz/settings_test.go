package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// newTestCmd builds a throwaway command with flags of each kind applySettings must handle.
func newTestCmd(t *testing.T) (*cobra.Command, *string, *int64, *[]string) {
	t.Helper()
	var s string
	var n int64
	var list []string
	c := &cobra.Command{Use: "node"}
	c.Flags().StringVar(&s, "output", "null", "")
	c.Flags().Int64Var(&n, "cache-quota", 0, "")
	c.Flags().StringSliceVar(&list, "postgres-replica", nil, "")
	c.Flags().StringVar(&configFile, "config", "", "")
	return c, &s, &n, &list
}

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("cache-quota: 5\npostgres-replica: [a, b]\nnode:\n  output: wav:/x.wav\norigin:\n  listen: 1.2.3.4:5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, out, quota, list := newTestCmd(t)
	if err := c.ParseFlags([]string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOMUZ_CACHE_QUOTA", "7")
	if err := applySettings(c); err != nil {
		t.Fatal(err)
	}
	if *out != "wav:/x.wav" || *quota != 7 || strings.Join(*list, ",") != "a,b" {
		t.Fatalf("got output %q quota %d replicas %v; want the section's output, env over file, the file's list", *out, *quota, *list)
	}
	// A flag on the command line beats both.
	c, out, _, _ = newTestCmd(t)
	if err := c.ParseFlags([]string{"--config", file, "--output", "null"}); err != nil {
		t.Fatal(err)
	}
	if err := applySettings(c); err != nil || *out != "null" {
		t.Fatalf("flag lost to the file: %q, %v", *out, err)
	}
}

func TestSettingsRejectBadValuesAndUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("nosuch: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, _, _ := newTestCmd(t)
	_ = c.ParseFlags([]string{"--config", file})
	if err := applySettings(c); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("unknown key not rejected: %v", err)
	}
	c, _, _, _ = newTestCmd(t)
	_ = c.ParseFlags(nil)
	configFile = ""
	t.Setenv("LOMUZ_CACHE_QUOTA", "lots")
	if err := applySettings(c); err == nil || !strings.Contains(err.Error(), "LOMUZ_CACHE_QUOTA") {
		t.Fatalf("bad env value not rejected: %v", err)
	}
}
