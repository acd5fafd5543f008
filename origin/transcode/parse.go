package transcode

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// interval is a stretch of silence in seconds; end < 0 means it runs to the end of the file.
type interval struct{ start, end float64 }

// analysis is what one ffmpeg pass with ebur128 and silencedetect reports.
type analysis struct {
	loudness  float64 // integrated loudness, LUFS; -70 or below means silence
	loudOK    bool
	first     *interval // the first silence
	last      *interval // the last silence
	silences  int
	stderrEnd string // the last lines, for error messages
}

var (
	reSilenceStart = regexp.MustCompile(`silence_start: (-?[0-9.e+-]+)`)
	reSilenceEnd   = regexp.MustCompile(`silence_end: (-?[0-9.e+-]+)`)
	reIntegrated   = regexp.MustCompile(`^\s*I:\s+(-?[0-9.]+|-inf) LUFS`)
)

// maxLine bounds one stderr line; ffmpeg's are short, and a longer one is cut, not buffered.
const maxLine = 64 << 10

// parseAnalysis reads ffmpeg's stderr from a pass with `ebur128,silencedetect`, streaming: memory stays bounded
// whatever the number of silences (only the first and last are kept).
func parseAnalysis(r io.Reader) (analysis, error) {
	var a analysis
	br := bufio.NewReaderSize(r, maxLine)
	var open *interval
	inIntegrated := false
	tail := make([]string, 0, 8)
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return a, err
		}
		if len(tail) == cap(tail) {
			copy(tail, tail[1:])
			tail = tail[:len(tail)-1]
		}
		tail = append(tail, line)
		if m := reSilenceStart.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return a, fmt.Errorf("transcode: silencedetect start %q: %w", m[1], err)
			}
			open = &interval{start: max(v, 0), end: -1}
			a.silences++
			if a.first == nil {
				a.first = open
			}
			a.last = open
			continue
		}
		if m := reSilenceEnd.FindStringSubmatch(line); m != nil && open != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return a, fmt.Errorf("transcode: silencedetect end %q: %w", m[1], err)
			}
			open.end, open = v, nil
			continue
		}
		if strings.Contains(line, "Integrated loudness:") {
			inIntegrated = true
			continue
		}
		if inIntegrated {
			if m := reIntegrated.FindStringSubmatch(line); m != nil {
				if m[1] == "-inf" {
					a.loudness = math.Inf(-1)
				} else {
					a.loudness, _ = strconv.ParseFloat(m[1], 64)
				}
				a.loudOK, inIntegrated = true, false
			}
		}
	}
	a.stderrEnd = strings.Join(tail, "\n")
	return a, nil
}

// readLine returns the next line without its newline, cut at maxLine bytes (the rest of an overlong line is
// skipped), or io.EOF after the last line.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	line := strings.TrimRight(string(b), "\r\n")
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	if errors.Is(err, io.EOF) && line != "" {
		return line, nil
	}
	return line, err
}

// cues turns the silences of a file of dur seconds into cue points in ms: cue in at the end of a silence that
// starts the file, cue out at the start of a silence that ends it (0: play to the end). tol (seconds) absorbs the
// decoder's rounding at both ends.
func cues(first, last *interval, dur, tol float64) (cueIn, cueOut int64) {
	if first != nil && first.start <= tol && first.end >= 0 && first.end < dur-tol {
		cueIn = int64(math.Round(first.end * 1000))
	}
	if last != nil && (last.end < 0 || last.end >= dur-tol) && last.start > tol {
		cueOut = int64(math.Round(last.start * 1000))
	}
	// ffmpeg reports silences in order, but its stderr also echoes the file's own tags, which are the uploader's
	// text: lines that claim silences may lie. Cues past the end, or crossed, would leave nothing to play; the whole
	// file plays instead.
	if limit := int64(math.Floor(dur * 1000)); cueIn > limit || cueOut > limit || (cueOut != 0 && cueOut <= cueIn) {
		return 0, 0
	}
	return cueIn, cueOut
}

// probe is the part of ffprobe's JSON we read.
type probe struct {
	Streams []struct {
		Index      int    `json:"index"`
		CodecType  string `json:"codec_type"`
		CodecName  string `json:"codec_name"`
		SampleRate string `json:"sample_rate"`
		Channels   int    `json:"channels"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// maxProbeJSON bounds ffprobe's output; a file with thousands of streams is not a master.
const maxProbeJSON = 1 << 20

func parseProbe(b []byte) (probe, error) {
	var p probe
	if len(b) > maxProbeJSON {
		return p, fmt.Errorf("transcode: ffprobe output over %d bytes", maxProbeJSON)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("transcode: ffprobe output: %w", err)
	}
	return p, nil
}

// audioStream returns the codec of the first audio stream, or "".
func (p probe) audioStream() string {
	for _, s := range p.Streams {
		if s.CodecType == "audio" {
			return s.CodecName
		}
	}
	return ""
}

// durationSec is the container's duration, or an error when ffprobe could not tell.
func (p probe) durationSec() (float64, error) {
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil || d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
		return 0, fmt.Errorf("transcode: no usable duration (%q)", p.Format.Duration)
	}
	return d, nil
}
