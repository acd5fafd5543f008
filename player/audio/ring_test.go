package audio

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// The ring hands frames over in order, blocks the writer while full, fills a short pull with silence, and
// reports a device that stops pulling; in virtual time (synctest), so the stall timeout costs nothing.
func TestFrameRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newFrameRing(4, time.Second)
		frames := func(from, n int) [][2]float64 {
			f := make([][2]float64, n)
			for i := range f {
				f[i] = [2]float64{float64(from + i), -float64(from + i)}
			}
			return f
		}
		done := make(chan error, 1)
		go func() { done <- g.write(context.Background(), frames(0, 6)) }() // 2 more than fit
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("write of 6 into a ring of 4 returned early: %v", err)
		default:
		}
		out := make([][2]float64, 3)
		g.pull(out)
		if out[0][0] != 0 || out[2][0] != 2 {
			t.Fatalf("pulled %v", out)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out = make([][2]float64, 5)
		g.pull(out) // 3 buffered: 3, 4, 5, then silence
		if out[0][0] != 3 || out[2][0] != 5 || out[3] != [2]float64{} || out[4] != [2]float64{} {
			t.Fatalf("pulled %v", out)
		}
		if g.underruns.Load() != 1 {
			t.Fatalf("underruns = %d, want 1", g.underruns.Load())
		}
		// Nobody pulls any more: the writer gives up after the stall timeout, not never.
		start := time.Now()
		err := g.write(context.Background(), frames(0, 10))
		if !errors.Is(err, ErrSinkStalled) || time.Since(start) != time.Second {
			t.Fatalf("write to a stalled device: %v after %v", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.write(ctx, frames(0, 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("write with a cancelled context: %v", err)
		}
	})
}
