package audio

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSinkStalled is returned by a real-time sink's Write when its device has not taken a frame for the stall
// timeout: with no sound card, beep's speaker initialises without error and then never pulls.
var ErrSinkStalled = errors.New("audio: output device stalled (no sound card pulling samples?)")

// frameRing hands frames from the render loop to a device callback that pulls in real time. Write blocks while
// the ring is full; pull never blocks and fills a shortfall with silence. Safe for one writer and one puller.
type frameRing struct {
	stall     time.Duration
	mu        sync.Mutex
	buf       [][2]float64
	r, n      int           // read index and frames buffered
	space     chan struct{} // capacity 1: the device took frames
	underruns atomic.Int64
}

func newFrameRing(frames int, stall time.Duration) *frameRing {
	return &frameRing{stall: stall, buf: make([][2]float64, frames), space: make(chan struct{}, 1)}
}

// write copies frames into the ring, waiting for room; ErrSinkStalled when no room comes for the stall timeout.
func (g *frameRing) write(ctx context.Context, frames [][2]float64) error {
	timer := time.NewTimer(g.stall)
	defer timer.Stop()
	for {
		g.mu.Lock()
		k := min(len(g.buf)-g.n, len(frames))
		for i := range k {
			g.buf[(g.r+g.n+i)%len(g.buf)] = frames[i]
		}
		g.n += k
		g.mu.Unlock()
		frames = frames[k:]
		if len(frames) == 0 {
			return nil
		}
		select {
		case <-g.space:
			timer.Reset(g.stall)
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return ErrSinkStalled
		}
	}
}

// pull fills out from the ring, silence for what is missing (counted as an underrun), and always reports a full
// buffer: the device must never see the stream end.
func (g *frameRing) pull(out [][2]float64) (int, bool) {
	g.mu.Lock()
	k := min(g.n, len(out))
	for i := range k {
		out[i] = g.buf[(g.r+i)%len(g.buf)]
	}
	g.r = (g.r + k) % len(g.buf)
	g.n -= k
	g.mu.Unlock()
	if k < len(out) {
		clear(out[k:])
		g.underruns.Add(1)
	}
	select {
	case g.space <- struct{}{}:
	default:
	}
	return len(out), true
}
