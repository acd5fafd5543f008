package testenv

import (
	"os"
	"testing"
)

// FuzzTally returns a function that counts one execution of a fuzz target, when LOMUZ_FUZZ_TALLY names a file
// (scripts/fuzz.sh sets it): one byte appended per execution, by every worker process. go test counts a worker's
// executions only when its batch returns, so for a target of milliseconds per execution it reports a handful in a
// 30 s run; the file's size is the true count. Without the variable it does nothing. Call it before f.Fuzz.
func FuzzTally(f *testing.F) func() {
	p := os.Getenv("LOMUZ_FUZZ_TALLY")
	if p == "" {
		return func() {}
	}
	file, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { file.Close() })
	return func() { _, _ = file.Write([]byte{'.'}) }
}
