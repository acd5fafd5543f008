package audio_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lomuz/lomuz/player/audio/jingle"
)

func writeJingle(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "jingle.ogg")
	if err := os.WriteFile(p, jingle.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
