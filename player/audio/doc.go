// Package audio is the player's audio engine: it decodes tracks (MP3, Ogg Vorbis, FLAC, WAV through beep/v2),
// resamples them to the output rate, brings them to a loudness target, crossfades consecutive tracks, limits
// peaks, watches the output for dead air and writes it to a sink: a WAV file, a null sink, or the sound card
// (build tag `speaker`, which needs cgo and ALSA).
//
// It owns how a track sounds and when its frames reach the output. It must not decide what plays or when to
// prepare the next track: the node core does, through Prepare, Play, Stop and Drain, and learns what happened from
// Events (track started, track ended, decode failed, output silent or restored, position). It reads no wall clock:
// output time is the count of frames written to the sink, so a WAV or unpaced null sink runs as fast as the CPU
// allows, a null sink with a virtual Clock runs in virtual time, and the speaker in real time.
//
// Contract with the caller:
//   - Track.LoudnessLUFS is ffmpeg ebur128's integrated loudness of the file as it is; the gain is
//     target - loudness (+3.01 dB for a mono file, which plays on both channels), clamped to [MinGainDB, MaxGainDB].
//   - A prepared track starts when the current one reaches its end minus the crossfade, or at once when idle.
//   - On an unpaced sink the engine waits, MaxCrossfade before the current track's end, until the caller has said
//     what follows it (Prepare, Play, Stop or Drain): the output is then the same whatever the scheduling.
//   - A file that fails to open or decode, or a decoder that panics, is an EventDecodeFailed; the engine goes on
//     with whatever it is told next, and never panics.
//   - SetOutput sets the zone's volume and mute (its override) after the limiter; while muted the watchdog is off.
//
// Subpackage jingle holds the built-in jingle compiled into the binary.
package audio
