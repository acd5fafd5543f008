// Package jingle holds the built-in jingle, the last-resort sound a player makes when nothing valid is cached:
// a 3.5 s four-note chime (C5 E5 G5 C6 with decaying harmonics), mono Ogg Vorbis, about 16 KB, compiled into the
// binary. It owns the bytes and their measured figures; it must not decode or play them (package audio does).
//
// chime.ogg was made once, at development time, with ffmpeg 5.1:
//
//	ffmpeg -y -f lavfi -i "aevalsrc='0.18*(gte(t,0)*exp(-2.5*(t-0))*(sin(2*PI*523.25*t)+0.3*sin(4*PI*523.25*t)+0.1*sin(6*PI*523.25*t))+gte(t,0.3)*exp(-2.5*(t-0.3))*(sin(2*PI*659.25*t)+0.3*sin(4*PI*659.25*t)+0.1*sin(6*PI*659.25*t))+gte(t,0.6)*exp(-2.5*(t-0.6))*(sin(2*PI*783.99*t)+0.3*sin(4*PI*783.99*t)+0.1*sin(6*PI*783.99*t))+gte(t,0.9)*exp(-2.5*(t-0.9))*(sin(2*PI*1046.5*t)+0.3*sin(4*PI*1046.5*t)+0.1*sin(6*PI*1046.5*t)))':s=44100:d=3.5" \
//	  -af afade=t=out:st=3:d=0.5 -ac 1 -c:a libvorbis -q:a 3 -map_metadata -1 -fflags +bitexact chime.ogg
//
// and measured with `ffmpeg -i chime.ogg -af ebur128=framelog=verbose -f null -` (integrated loudness).
package jingle

import (
	"bytes"
	_ "embed"
	"io"
	"time"
)

//go:embed chime.ogg
var chime []byte

const (
	// ID names the built-in jingle in play events.
	ID = "builtin-jingle"
	// Codec is the container/codec of the bytes (the audio package's name for it).
	Codec = "vorbis"
	// LoudnessLUFS is the integrated loudness ffmpeg's ebur128 filter measures on the file as it is (mono).
	LoudnessLUFS = -21.0
	// Duration is the length of the chime.
	Duration = 3500 * time.Millisecond
)

// Open returns a reader over the embedded bytes; Close is a no-op. Safe for concurrent use: each call has its
// own reader.
func Open() (io.ReadSeekCloser, error) {
	return nopCloser{bytes.NewReader(chime)}, nil
}

// Bytes returns a copy of the encoded jingle.
func Bytes() []byte { return bytes.Clone(chime) }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
