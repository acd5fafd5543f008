//go:build speaker

package node

import (
	"time"

	"github.com/gopxl/beep/v2"

	"github.com/lomuz/lomuz/player/audio"
)

// speakerBuffer is the sound card's ring buffer: long enough to ride over a GC pause or a busy disk.
const speakerBuffer = 500 * time.Millisecond

func openSpeaker(rate beep.SampleRate) (audio.Sink, func() error, error) {
	s, err := audio.NewSpeakerSink(rate, speakerBuffer)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
