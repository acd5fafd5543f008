//go:build speaker

package audio

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/speaker"
)

// SpeakerSink plays the output on the sound card through beep's speaker (oto, ALSA on Linux; needs cgo, hence
// the build tag `speaker`). It is paced by the card: Write blocks while its ring buffer is full, and fails with
// ErrSinkStalled when the card stops pulling. beep's speaker is process-global, so there is at most one
// SpeakerSink per process.
type SpeakerSink struct {
	rate beep.SampleRate
	ring *frameRing
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
	// Half the latency in the card's buffer, half in the ring; a card silent for ten buffers has stalled.
	s := &SpeakerSink{rate: rate, ring: newFrameRing(rate.N(buffer/2), 10*buffer+time.Second)}
	if err := speaker.Init(rate, max(rate.N(buffer/2), 64)); err != nil {
		return nil, fmt.Errorf("audio: speaker: %w", err)
	}
	speaker.Play(beep.StreamerFunc(s.ring.pull))
	return s, nil
}

func (s *SpeakerSink) SampleRate() beep.SampleRate { return s.rate }
func (s *SpeakerSink) Paced() bool                 { return true }

// Underruns counts the card's pulls that found the buffer short (heard as a gap). Safe for concurrent use.
func (s *SpeakerSink) Underruns() int64 { return s.ring.underruns.Load() }

func (s *SpeakerSink) Write(ctx context.Context, frames [][2]float64) error {
	return s.ring.write(ctx, frames)
}

// Close stops playback. The card's driver context stays open (beep cannot close it).
func (s *SpeakerSink) Close() error {
	speaker.Clear()
	speaker.Close()
	return nil
}
