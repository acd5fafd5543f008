//go:build race

package audio_test

// raceEnabled: the race detector slows decoding about tenfold, so long playlists are cut short under it.
const raceEnabled = true
