package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"time"

	"github.com/lomuz/lomuz/origin/jobs"
)

// Config says how masters become renditions.
type Config struct {
	// FFmpeg and FFprobe are the tools' paths; bare names are looked up in PATH.
	FFmpeg, FFprobe string
	// BitrateKbps is the Vorbis nominal bitrate. 80 kbps: see the package doc for the measured sizes.
	BitrateKbps int
	// SampleRate (Hz) and Channels of the rendition: 44.1 kHz stereo, what stores' sound cards play without
	// resampling and what beep's speaker is opened at.
	SampleRate, Channels int
	// SilenceDB is the level (dBFS) under which audio counts as silence for cue points; -50 dB sits below a quiet
	// fade yet above dither and codec noise.
	SilenceDB float64
	// MinSilence is the shortest leading or trailing silence worth a cue point.
	MinSilence time.Duration
	// MaxDuration rejects masters longer than this: background tracks and spots are minutes, not hours.
	MaxDuration time.Duration
	// MaxStderr bounds what is kept of a failing tool's stderr for the error message, in bytes.
	MaxStderr int
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{
		FFmpeg:      "ffmpeg",
		FFprobe:     "ffprobe",
		BitrateKbps: 80,
		SampleRate:  44100,
		Channels:    2,
		SilenceDB:   -50,
		MinSilence:  200 * time.Millisecond,
		MaxDuration: 3 * time.Hour,
		MaxStderr:   4096,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.FFmpeg == "" {
		c.FFmpeg = d.FFmpeg
	}
	if c.FFprobe == "" {
		c.FFprobe = d.FFprobe
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = d.BitrateKbps
	}
	if c.BitrateKbps < 32 || c.BitrateKbps > 320 {
		return fmt.Errorf("transcode: BitrateKbps %d outside [32, 320]", c.BitrateKbps)
	}
	if c.SampleRate == 0 {
		c.SampleRate = d.SampleRate
	}
	if c.Channels == 0 {
		c.Channels = d.Channels
	}
	if c.Channels < 1 || c.Channels > 2 || c.SampleRate < 8000 || c.SampleRate > 192000 {
		return fmt.Errorf("transcode: %d channels at %d Hz is not a delivery format", c.Channels, c.SampleRate)
	}
	if c.SilenceDB == 0 {
		c.SilenceDB = d.SilenceDB
	}
	if c.SilenceDB > -20 || c.SilenceDB < -100 {
		return fmt.Errorf("transcode: SilenceDB %v outside [-100, -20]", c.SilenceDB)
	}
	if c.MinSilence <= 0 {
		c.MinSilence = d.MinSilence
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = d.MaxDuration
	}
	if c.MaxStderr <= 0 {
		c.MaxStderr = d.MaxStderr
	}
	return nil
}

// Transcoder runs ffmpeg and ffprobe on local files. Safe for concurrent use; each call runs its own processes,
// which are killed when ctx ends.
type Transcoder struct{ cfg Config }

// NewTranscoder checks cfg and that both tools run.
func NewTranscoder(cfg Config) (*Transcoder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for _, tool := range []*string{&cfg.FFmpeg, &cfg.FFprobe} {
		p, err := exec.LookPath(*tool)
		if err != nil {
			return nil, fmt.Errorf("transcode: %s not found: %w", *tool, err)
		}
		*tool = p
	}
	return &Transcoder{cfg: cfg}, nil
}

// Errors a master can cause; they are permanent (wrapped with jobs.Permanent by the worker).
var (
	ErrNotAudio = errors.New("transcode: master has no audio stream")
	ErrTooLong  = errors.New("transcode: master is too long")
	ErrSilent   = errors.New("transcode: master is silent throughout")
)

// Media describes a probed file.
type Media struct {
	Codec      string // of the first audio stream, as ffprobe names it
	DurationMS int64
}

// Probe describes the audio of the file at path. A file that is not media, or has no audio, fails with
// ErrNotAudio; one longer than MaxDuration with ErrTooLong.
func (t *Transcoder) Probe(ctx context.Context, path string) (Media, error) {
	out, err := t.run(ctx, t.cfg.FFprobe, "-v", "error", "-show_entries",
		"format=format_name,duration,bit_rate:stream=index,codec_type,codec_name,sample_rate,channels",
		"-of", "json", "-i", path)
	if err != nil {
		if ctx.Err() != nil {
			return Media{}, err
		}
		return Media{}, fmt.Errorf("%w: %v", ErrNotAudio, err)
	}
	p, err := parseProbe(out)
	if err != nil {
		return Media{}, err
	}
	codec := p.audioStream()
	if codec == "" {
		return Media{}, ErrNotAudio
	}
	dur, err := p.durationSec()
	if err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrNotAudio, err)
	}
	if dur > t.cfg.MaxDuration.Seconds() {
		return Media{}, fmt.Errorf("%w: %.0f s, limit %.0f s", ErrTooLong, dur, t.cfg.MaxDuration.Seconds())
	}
	return Media{Codec: codec, DurationMS: int64(math.Round(dur * 1000))}, nil
}

// Encode writes the delivery rendition of the master at in to out: Ogg Vorbis at the configured nominal bitrate,
// sample rate and channels, first audio stream only, no metadata (tags and cover art would change the bytes of a
// rendition without changing its sound). Bit-exact flags make the output a function of the input alone, so a
// retried job stores the same content-addressed blob.
func (t *Transcoder) Encode(ctx context.Context, in, out string) error {
	_, err := t.run(ctx, t.cfg.FFmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-i", in, "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1",
		"-ac", strconv.Itoa(t.cfg.Channels), "-ar", strconv.Itoa(t.cfg.SampleRate),
		"-c:a", "libvorbis", "-b:a", strconv.Itoa(t.cfg.BitrateKbps)+"k",
		"-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "ogg", out)
	return err
}

// Analysis is what Analyze measures on a rendition.
type Analysis struct {
	DurationMS   int64
	LoudnessLUFS float64 // EBU R128 integrated loudness
	CueInMS      int64   // end of leading silence; 0 when the audio starts at once
	CueOutMS     int64   // start of trailing silence; 0 when the audio runs to the end
}

// Analyze measures the file at path in one decoding pass: integrated loudness with ffmpeg's ebur128 filter
// (EBU R128 / ITU-R BS.1770) and leading/trailing silence with silencedetect. A file that is silent throughout
// fails with ErrSilent.
func (t *Transcoder) Analyze(ctx context.Context, path string) (Analysis, error) {
	m, err := t.Probe(ctx, path)
	if err != nil {
		return Analysis{}, err
	}
	cmd := exec.CommandContext(ctx, t.cfg.FFmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
		"-i", path, "-map", "0:a:0",
		"-af", fmt.Sprintf("ebur128=framelog=verbose,silencedetect=n=%gdB:d=%g", t.cfg.SilenceDB, t.cfg.MinSilence.Seconds()),
		"-f", "null", "-")
	dieWithParent(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return Analysis{}, err
	}
	if err := cmd.Start(); err != nil {
		return Analysis{}, fmt.Errorf("transcode: start ffmpeg: %w", err)
	}
	a, perr := parseAnalysis(stderr)
	_, _ = io.Copy(io.Discard, stderr) // let ffmpeg finish if the parser stopped early
	if err := cmd.Wait(); err != nil {
		return Analysis{}, fmt.Errorf("transcode: ffmpeg analysis: %w: %s", err, a.stderrEnd)
	}
	if perr != nil {
		return Analysis{}, perr
	}
	if !a.loudOK {
		return Analysis{}, fmt.Errorf("transcode: ffmpeg printed no integrated loudness: %s", a.stderrEnd)
	}
	dur := float64(m.DurationMS) / 1000
	if a.loudness <= -70 || (a.first != nil && a.first.start <= 0.05 && (a.first.end < 0 || a.first.end >= dur-0.05)) {
		return Analysis{}, ErrSilent
	}
	in, out := cues(a.first, a.last, dur, 0.05)
	return Analysis{DurationMS: m.DurationMS, LoudnessLUFS: a.loudness, CueInMS: in, CueOutMS: out}, nil
}

// run runs a tool and returns its stdout (bounded), or an error carrying the end of its stderr.
func (t *Transcoder) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	dieWithParent(cmd)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: t.cfg.MaxStderr}
	cmd.Stdout = &limitWriter{w: &stdout, n: maxProbeJSON + 1}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("transcode: %s: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("transcode: %s: %w: %s", name, err, bytes.TrimSpace(stderr.buf))
	}
	return stdout.Bytes(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

// limitWriter keeps at most n bytes and drops the rest (parseProbe then rejects the output as too long).
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if int64(len(q)) > l.n {
		q = q[:l.n]
	}
	n, err := l.w.Write(q)
	l.n -= int64(n)
	if err != nil {
		return n, err
	}
	return len(p), nil
}

// permanentIfMaster marks errors caused by the master itself as permanent for the job queue.
func permanentIfMaster(err error) error {
	if errors.Is(err, ErrNotAudio) || errors.Is(err, ErrTooLong) || errors.Is(err, ErrSilent) {
		return jobs.Permanent(err)
	}
	return err
}
