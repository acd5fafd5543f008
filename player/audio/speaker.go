//go:build speaker

package audio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/speaker"
)

// ErrSpeakerStalled is returned by SpeakerSink.Write when the sound card has not taken a frame for the stall
// timeout: with no sound card, beep's speaker initialises without error and then never pulls.
var ErrSpeakerStalled = errors.New("audio: speaker stalled (no sound card pulling samples?)")

// SpeakerSink plays the output on the sound card through beep's speaker (oto, ALSA on Linux; needs cgo, hence
// the build tag `speaker`). It is paced by the card: Write blocks while its ring buffer is full. beep's speaker
// is process-global, so there is at most one SpeakerSink per process.
type SpeakerSink struct {
	rate      beep.SampleRate
	stall     time.Duration
	mu        sync.Mutex
	ring      [][2]float64
	r, n      int           // read index and frames buffered
	space     chan struct{} // capacity 1: the card took frames
	underruns atomic.Int64
}

var speakerUsed atomic.Bool

// NewSpeakerSink opens the sound card at rate with about buffer of latency (bounds [20 ms, 2 s]).
func NewSpeakerSink(rate beep.SampleRate, buffer time.Duration) (*SpeakerSink, error) {
	if rate < minRate || rate > maxRate {
		return nil, fmt.Errorf("audio: speaker rate %d outside [%d, %d]", rate, minRate, maxRate)
	}
	if buffer < 20*time.Millisecond || buffer > 2*time.Second {
		return nil, fmt.Errorf("audio: speaker buffer %v outside [20ms, 2s]", buffer)
	}
	if !speakerUsed.CompareAndSwap(false, true) {
		return nil, errors.New("audio: the speaker is already open in this process")
	}
	s := &SpeakerSink{
		rate:  rate,
		stall: 10*buffer + time.Second,
		ring:  make([][2]float64, rate.N(buffer)),
		space: make(chan struct{}, 1),
	}
	// Half the latency in the card's buffer, half in ours.
	if err := speaker.Init(rate, max(rate.N(buffer/2), 64)); err != nil {
		return nil, fmt.Errorf("audio: speaker: %w", err)
	}
	speaker.Play(beep.StreamerFunc(s.pull))
	return s, nil
}

func (s *SpeakerSink) SampleRate() beep.SampleRate { return s.rate }
func (s *SpeakerSink) Paced() bool                 { return true }

// Underruns counts the card's pulls that found the buffer short (heard as a gap). Safe for concurrent use.
func (s *SpeakerSink) Underruns() int64 { return s.underruns.Load() }

func (s *SpeakerSink) Write(ctx context.Context, frames [][2]float64) error {
	timer := time.NewTimer(s.stall)
	defer timer.Stop()
	for len(frames) > 0 {
		s.mu.Lock()
		free := len(s.ring) - s.n
		k := min(free, len(frames))
		for i := range k {
			s.ring[(s.r+s.n+i)%len(s.ring)] = frames[i]
		}
		s.n += k
		s.mu.Unlock()
		frames = frames[k:]
		if len(frames) == 0 {
			return nil
		}
		select {
		case <-s.space:
			timer.Reset(s.stall)
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return ErrSpeakerStalled
		}
	}
	return nil
}

// pull is called by the speaker's goroutine; it never blocks, and fills a shortfall with silence.
func (s *SpeakerSink) pull(out [][2]float64) (int, bool) {
	s.mu.Lock()
	k := min(s.n, len(out))
	for i := range k {
		out[i] = s.ring[(s.r+i)%len(s.ring)]
	}
	s.r = (s.r + k) % len(s.ring)
	s.n -= k
	s.mu.Unlock()
	if k < len(out) {
		clear(out[k:])
		s.underruns.Add(1)
	}
	select {
	case s.space <- struct{}{}:
	default:
	}
	return len(out), true
}

// Close stops playback. The card's driver context stays open (beep cannot close it).
func (s *SpeakerSink) Close() error {
	speaker.Clear()
	speaker.Close()
	return nil
}
