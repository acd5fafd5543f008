package transcode

import (
	"math"
	"strings"
	"testing"
)

// ffmpeg 5.1's stderr for a pass with ebur128 (framelog=verbose) and silencedetect, trimmed.
const stderr51 = `Input #0, ogg, from 'rendition.ogg':
  Duration: 00:01:05.00, start: 0.000000, bitrate: 81 kb/s
[silencedetect @ 0x562694298b40] silence_start: 0
[silencedetect @ 0x562694298b40] silence_end: 2.00025 | silence_duration: 2.00025
[silencedetect @ 0x562694298b40] silence_start: 30.5
[silencedetect @ 0x562694298b40] silence_end: 31 | silence_duration: 0.5
[silencedetect @ 0x562694298b40] silence_start: 62.001
size=N/A time=00:01:05.00 bitrate=N/A speed=91.2x
[Parsed_ebur128_0 @ 0x5626942985c0] Summary:

  Integrated loudness:
    I:         -21.8 LUFS
    Threshold: -31.9 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold: -42.0 LUFS
[silencedetect @ 0x562694298b40] silence_end: 65 | silence_duration: 2.999
`

func TestParseAnalysis(t *testing.T) {
	a, err := parseAnalysis(strings.NewReader(stderr51))
	if err != nil {
		t.Fatal(err)
	}
	if !a.loudOK || a.loudness != -21.8 {
		t.Fatalf("loudness %v (ok %v), want -21.8", a.loudness, a.loudOK)
	}
	if a.silences != 3 || *a.first != (interval{0, 2.00025}) || *a.last != (interval{62.001, 65}) {
		t.Fatalf("silences %d first %+v last %+v", a.silences, a.first, a.last)
	}
	in, out := cues(a.first, a.last, 65, 0.05)
	if in != 2000 || out != 62001 {
		t.Fatalf("cues %d, %d; want 2000, 62001", in, out)
	}
}

func TestParseAnalysisOpenTrailingSilenceAndInf(t *testing.T) {
	// Older ffmpeg versions print no silence_end at the end of the file; silence gives -inf loudness.
	a, err := parseAnalysis(strings.NewReader("silence_start: 10.25\n  Integrated loudness:\n    I:  -inf LUFS\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(a.loudness, -1) || a.last.end >= 0 {
		t.Fatalf("got %+v last %+v", a, a.last)
	}
	if in, out := cues(a.first, a.last, 20, 0.05); in != 0 || out != 10250 {
		t.Fatalf("cues %d, %d; want 0, 10250", in, out)
	}
}

func TestCues(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, last *interval
		in, out     int64
	}{
		{"none", nil, nil, 0, 0},
		{"middle only", &interval{5, 6}, &interval{5, 6}, 0, 0},
		{"leading only", &interval{0, 1.5}, &interval{0, 1.5}, 1500, 0},
		{"trailing only", &interval{8, 10}, &interval{8, 10}, 0, 8000},
		{"both", &interval{0.01, 0.7}, &interval{9.2, -1}, 700, 9200},
	} {
		if in, out := cues(tc.first, tc.last, 10, 0.05); in != tc.in || out != tc.out {
			t.Errorf("%s: cues %d, %d; want %d, %d", tc.name, in, out, tc.in, tc.out)
		}
	}
}

func TestParseAnalysisBoundsLines(t *testing.T) {
	long := strings.Repeat("x", 10*maxLine)
	a, err := parseAnalysis(strings.NewReader("silence_start: 1\n" + long + "\nsilence_end: 2\n"))
	if err != nil {
		t.Fatalf("an overlong line must not fail the parse: %v", err)
	}
	if a.first == nil || *a.first != (interval{1, 2}) {
		t.Fatalf("lost lines around the long one: %+v", a.first)
	}
}

func TestParseProbe(t *testing.T) {
	p, err := parseProbe([]byte(`{"streams":[{"index":0,"codec_type":"video","codec_name":"mjpeg"},
		{"index":1,"codec_type":"audio","codec_name":"mp3","sample_rate":"44100","channels":2}],
		"format":{"format_name":"mp3","duration":"183.500000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.audioStream() != "mp3" {
		t.Fatalf("audio stream %q", p.audioStream())
	}
	if d, err := p.durationSec(); err != nil || d != 183.5 {
		t.Fatalf("duration %v, %v", d, err)
	}
	for _, bad := range []string{`{"format":{"duration":"N/A"}}`, `{"format":{"duration":"-1"}}`, `{}`} {
		p, err := parseProbe([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.durationSec(); err == nil {
			t.Fatalf("duration of %s accepted", bad)
		}
	}
	if _, err := parseProbe([]byte(strings.Repeat(" ", maxProbeJSON+1))); err == nil {
		t.Fatal("oversized ffprobe output accepted")
	}
	if _, err := parseProbe([]byte("not json")); err == nil {
		t.Fatal("malformed ffprobe output accepted")
	}
}
