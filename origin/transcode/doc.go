// Package transcode turns uploaded masters (mp3, flac, wav, anything ffmpeg reads) into the delivery rendition
// devices download, measures it, and reports the outcome to origin. It owns the "transcode" job: Ingester enqueues
// one per uploaded master on a jobs queue; Worker, the job's handler, fetches the master from the blob store, runs
// ffmpeg, stores the rendition content-addressed (blob.ContentKey of its sha256) and calls the Completer that
// origin implements to mark the asset ready (sha256, md5, size, duration, loudness, cue points) or failed.
//
// The rendition: Ogg Vorbis, nominal 80 kbps (libvorbis' ABR, which ffmpeg maps to VBR quality ~1), 44.1 kHz
// stereo, no tags. Why: the seed delivered AAC-HE v2 at 64 kbps, but the player decodes with beep/v2, which has
// mp3, vorbis, flac and wav and no AAC (nor Opus). Vorbis is the only one of those in AAC-HE's size class. Measured
// on a generated 3-minute track (tones with tremolo over pink noise, 184 s, 44.1 kHz stereo; ffmpeg 5.1; the
// Debian ffmpeg has no libfdk_aac, so AAC is its native LC encoder at the same 64 kbps, which sets the same size):
//
//	rendition                 bytes       average kbps   vs AAC 64k
//	AAC (LC) 64 kbps          1,483,409   64.5           1.00
//	Vorbis nominal 64 kbps    1,212,980   52.7           0.82
//	Vorbis nominal 80 kbps    1,483,819   64.5           1.00   <- chosen (Encode's own output)
//	Opus 64 kbps              1,265,782   55.0           0.85   (beep cannot play it)
//	MP3 320 kbps              7,362,395   320.1          4.96
//
// Vorbis' VBR spends fewer bits on simple material than its nominal rate, so at a nominal 80 kbps it lands in the
// same bytes as AAC at 64 kbps and a fifth of the seed's MP3 320 masters; real music is closer to nominal. The
// AAC, MP3 and the chosen rendition are re-measured by `make bench` (BenchmarkRendition, scripts/bench.d/12-blob.sh);
// the other two rows were measured once with the same ffmpeg. Encoding ran at 11-60x real time on the shared
// 2-core machine, the loudness/silence pass at 44x or more.
//
// Measurements come from one decoding pass over the rendition (what devices play): integrated loudness by
// ffmpeg's ebur128 filter (EBU R128 / BS.1770, LUFS), leading and trailing silence by silencedetect (below
// -50 dBFS for at least 200 ms) for cue in / cue out, duration by ffprobe. Players normalise loudness with the
// figure; the rendition itself is not gain-adjusted.
//
// Idempotence: ffmpeg runs with bit-exact flags, so the same master always gives the same rendition bytes and a
// retried job stores the same blob (a Stat skips the upload) and reports the same result. A master ffmpeg cannot
// read, with no audio, longer than Config.MaxDuration, or silent throughout fails permanently (jobs.Permanent) and
// is reported as failed; other errors are retried by the queue, and the last attempt reports failure too.
//
// ffmpeg runs as a child process killed with its context and, on Linux, with its parent (a worker killed mid-job
// leaves no encoder running). Tool output is read bounded (ffprobe JSON at most 1 MiB, stderr lines 64 KiB, only
// the first and last silence kept).
//
// It must not know origin's HTTP or catalog code: origin reaches it through Ingester and implements Completer.
package transcode
