//go:build !speaker

package node

import (
	"errors"

	"github.com/gopxl/beep/v2"

	"github.com/lomuz/lomuz/player/audio"
)

func openSpeaker(beep.SampleRate) (audio.Sink, func() error, error) {
	return nil, nil, errors.New("node: this binary was built without the speaker output (build with -tags speaker)")
}
