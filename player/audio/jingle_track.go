package audio

import "github.com/lomuz/lomuz/player/audio/jingle"

// JingleTrack returns the built-in jingle as a Track, with its measured loudness so it plays at the target level.
func JingleTrack() Track {
	return Track{ID: jingle.ID, Open: jingle.Open, Codec: jingle.Codec, LoudnessLUFS: jingle.LoudnessLUFS}
}
