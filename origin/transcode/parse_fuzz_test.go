package transcode

import (
	"strings"
	"testing"
)

// FuzzParseAnalysis feeds the parser ffmpeg's stderr, which also echoes the uploaded file's own metadata (tags
// are the uploader's text): it must not panic, and the cue points it leads to lie inside the file and in order.
func FuzzParseAnalysis(f *testing.F) {
	f.Fuzz(func(t *testing.T, stderr string, durMS uint32) {
		a, err := parseAnalysis(strings.NewReader(stderr))
		if err != nil {
			return
		}
		if a.silences < 0 || (a.silences > 0) != (a.first != nil) || len(a.stderrEnd) > 8*(maxLine+1) {
			t.Fatalf("analysis %+v", a)
		}
		dur := float64(durMS%(24*3600*1000)) / 1000
		in, out := cues(a.first, a.last, dur, 0.05)
		if in < 0 || out < 0 || float64(in) > dur*1000 || float64(out) > dur*1000 || (out != 0 && in >= out) {
			t.Fatalf("cues %d, %d ms for a file of %v s from first %+v last %+v", in, out, dur, a.first, a.last)
		}
	})
}
