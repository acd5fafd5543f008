package audio

import "github.com/lomuz/lomuz/player/audio/jingle"

// JingleTrack returns the built-in jingle as a Track, with its measured loudness so it plays at the target level.
// It starts without a crossfade: the chime's four notes fall in its first second, where most of its energy is, so
// a fade-in would swallow them and a jingle played over and over (nothing cached) would sound about 2 LU below the
// target. Whatever follows it still fades in over its quiet tail with its own crossfade.
func JingleTrack() Track {
	return Track{ID: jingle.ID, Open: jingle.Open, Codec: jingle.Codec, LoudnessLUFS: jingle.LoudnessLUFS,
		Crossfade: NoCrossfade}
}
