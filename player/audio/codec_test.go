package audio_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/audio/internal/audiotest"
)

// Every codec, at 44.1 and 48 kHz, mono and stereo, decodes and plays into the WAV sink with its own duration.
func TestCodecsPlayToWAV(t *testing.T) {
	dir := t.TempDir()
	const dur = 2.0
	for _, codec := range []audio.Codec{audio.CodecMP3, audio.CodecVorbis, audio.CodecFLAC, audio.CodecWAV} {
		for _, rate := range []int{44100, 48000} {
			for _, ch := range []int{1, 2} {
				name := fmt.Sprintf("%s-%d-%dch", codec, rate, ch)
				t.Run(name, func(t *testing.T) {
					path := audiotest.Generate(t, dir, name, audiotest.Spec{Source: "sine", Rate: rate, Channels: ch, Seconds: dur, Codec: codec})
					events, frames, _ := playToWAV(t, audio.DefaultEngineConfig(), []audio.Track{fileTrack(name, path)})
					// MP3 frames carry the encoder's delay and padding (about 50 ms with LAME), which beep keeps.
					tol := 0.01
					if codec == audio.CodecMP3 {
						tol = 0.08
					}
					near(t, "output seconds", seconds(len(frames)), dur, tol)
					one(t, events, audio.EventTrackStarted, name)
					end := one(t, events, audio.EventTrackEnded, name)
					if end.Reason != audio.EndFinished {
						t.Errorf("end reason %v", end.Reason)
					}
					near(t, "ended position", end.Position.Seconds(), seconds(len(frames)), 0.001)
					if len(find(events, audio.EventDecodeFailed, "")) > 0 {
						t.Errorf("decode failed: %v", events)
					}
					// ffmpeg's sine is 440 Hz at 1/8 full scale, and -ac 2 spreads it at -3 dB on each channel; it
					// must come out as that tone at that level (no loudness figure given: unity gain).
					want := 0.125
					if ch == 2 {
						want /= math.Sqrt2
					}
					mid := frames[len(frames)/4 : 3*len(frames)/4]
					near(t, "440 Hz amplitude", tone(mid, 440), want, 0.01)
				})
			}
		}
	}
}

// Tags and cover art (ID3 with a picture, FLAC PICTURE and VORBIS_COMMENT blocks, Vorbis comments) pass the
// header checks and play in full.
func TestTaggedFilesPlay(t *testing.T) {
	dir := t.TempDir()
	for _, codec := range []audio.Codec{audio.CodecMP3, audio.CodecVorbis, audio.CodecFLAC, audio.CodecWAV} {
		name := "tagged-" + string(codec)
		path := audiotest.Generate(t, dir, name, audiotest.Spec{Source: "sine", Seconds: 1, Codec: codec, Tagged: true})
		events, frames, _ := playToWAV(t, audio.DefaultEngineConfig(), []audio.Track{fileTrack(name, path)})
		if f := find(events, audio.EventDecodeFailed, ""); len(f) > 0 {
			t.Fatalf("%s: %v", name, f)
		}
		tol := 0.01
		if codec == audio.CodecMP3 {
			tol = 0.08
		}
		near(t, name+" seconds", seconds(len(frames)), 1, tol)
	}
}
