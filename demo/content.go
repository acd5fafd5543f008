package demo

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"

	"github.com/gopxl/beep/v2"

	"github.com/lomuz/lomuz/player/audio"
)

// demoRate is the sample rate of the generated content.
const demoRate = beep.SampleRate(44100)

// tune is a short generated piece: a chord progression played as arpeggios over a bass note, so that each demo
// track is recognisably different and none is a bare test tone.
type tune struct {
	title, artist string
	root          float64 // Hz
	bpm           float64
	seconds       float64
	progression   []int // semitone offsets of each bar's chord root
	gain          float64
}

// render synthesises t as stereo frames in [-1, 1].
func (t tune) render() [][2]float64 {
	n := int(t.seconds * float64(demoRate))
	out := make([][2]float64, n)
	beat := 60 / t.bpm
	bar := 4 * beat
	for i := range out {
		ts := float64(i) / float64(demoRate)
		chord := t.progression[int(ts/bar)%len(t.progression)]
		rootHz := t.root * math.Pow(2, float64(chord)/12)
		// Arpeggio: root, third, fifth, octave, one per eighth note.
		step := int(ts / (beat / 2))
		arp := []int{0, 4, 7, 12}[step%4]
		noteT := math.Mod(ts, beat/2)
		env := math.Exp(-noteT * 6)
		lead := math.Sin(2*math.Pi*rootHz*2*math.Pow(2, float64(arp)/12)*ts) * env
		bass := math.Sin(2*math.Pi*rootHz/2*ts) * 0.6
		// Fade the whole piece in and out over half a second.
		fade := math.Min(1, math.Min(ts/0.5, (t.seconds-ts)/0.5))
		l := (0.6*lead + 0.4*bass) * t.gain * fade
		r := (0.4*lead + 0.6*bass) * t.gain * fade
		out[i] = [2]float64{l, r}
	}
	return out
}

// writeWAV encodes frames as a 16-bit stereo WAV file.
func writeWAV(path string, frames [][2]float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	s, err := audio.NewWAVSink(f, demoRate)
	if err != nil {
		f.Close()
		return err
	}
	if err := s.Write(context.Background(), frames); err != nil {
		f.Close()
		return err
	}
	return s.Close()
}

// readAll returns a file's bytes and a reader over them.
func readAll(path string) ([]byte, io.Reader, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, bytes.NewReader(b), nil
}

// demoTunes is the generated catalogue: six music tracks, one spot, one emergency track.
var demoTunes = []tune{
	{title: "Manhã na Praça", artist: "Trio Lomuz", root: 220, bpm: 96, seconds: 40, progression: []int{0, 5, 7, 5}, gain: 0.35},
	{title: "Café Coado", artist: "Trio Lomuz", root: 247, bpm: 88, seconds: 36, progression: []int{0, 9, 5, 7}, gain: 0.35},
	{title: "Vitrine", artist: "Os Corredores", root: 196, bpm: 110, seconds: 42, progression: []int{0, 7, 9, 5}, gain: 0.35},
	{title: "Fim de Tarde", artist: "Os Corredores", root: 262, bpm: 80, seconds: 38, progression: []int{0, 3, 8, 10}, gain: 0.35},
	{title: "Caixa Rápido", artist: "Banda do Estoque", root: 233, bpm: 120, seconds: 34, progression: []int{0, 5, 0, 7}, gain: 0.35},
	{title: "Provador", artist: "Banda do Estoque", root: 208, bpm: 92, seconds: 44, progression: []int{0, 4, 9, 7}, gain: 0.35},
}

var (
	demoSpot      = tune{title: "Promoção de Verão (spot)", artist: "Loja", root: 523, bpm: 140, seconds: 8, progression: []int{0, 7}, gain: 0.4}
	demoEmergency = tune{title: "Sempre no Ar (emergency)", artist: "Lomuz", root: 294, bpm: 72, seconds: 30, progression: []int{0, 5}, gain: 0.3}
)
