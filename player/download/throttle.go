package download

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/lomuz/lomuz/player/cache"
)

// clock is what the bandwidth limiter and the backoff read. The real one is time; tests use a virtual one.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// limiter is a token bucket shared by every transfer of a manager. It reserves on the injected clock
// (rate.Limiter.ReserveN takes the time as an argument), so a virtual clock drives it exactly.
type limiter struct {
	clk clock
	mu  sync.Mutex
	l   *rate.Limiter // nil: unlimited
	bps int64
}

func newLimiter(bps int64, clk clock) *limiter {
	l := &limiter{clk: clk}
	l.setRate(bps)
	return l
}

// chunk is the largest single reservation, in bytes: an eighth of a second of the rate, between 1 and 32 KiB, so
// that one wait stays short (the stall watchdog sees progress) and the burst stays small.
func (l *limiter) chunk() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.l == nil {
		return 32 << 10
	}
	return int(min(max(l.bps/8, 1024), 32<<10))
}

func (l *limiter) setRate(bps int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bps = bps
	if bps == 0 {
		l.l = nil
		return
	}
	burst := int(min(max(bps/8, 1024), 32<<10))
	if l.l == nil {
		l.l = rate.NewLimiter(rate.Limit(bps), burst)
		return
	}
	now := l.clk.Now()
	l.l.SetLimitAt(now, rate.Limit(bps))
	l.l.SetBurstAt(now, burst)
}

// wait blocks until n bytes (n <= chunk) may pass.
func (l *limiter) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	lim := l.l
	l.mu.Unlock()
	if lim == nil {
		return nil
	}
	now := l.clk.Now()
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return nil // n above the burst after a rate change: let it through rather than block forever
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	select {
	case <-l.clk.After(d):
		return nil
	case <-ctx.Done():
		r.CancelAt(l.clk.Now())
		return context.Cause(ctx)
	}
}

// progressWriter passes a source's bytes to the cache writer in limiter-sized pieces, counting them for Progress and
// marking progress for the stall watchdog.
type progressWriter struct {
	m   *Manager
	it  *item
	w   *cache.Writer
	ctx context.Context
	n   int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		piece := b[:min(len(b), p.m.lim.chunk())]
		markProgress(p.ctx)
		if err := p.m.lim.wait(p.ctx, len(piece)); err != nil {
			return written, err
		}
		n, err := p.w.Write(piece)
		written += n
		p.n += int64(n)
		p.m.mu.Lock()
		p.it.bytes += int64(n)
		p.m.mu.Unlock()
		markProgress(p.ctx)
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

type stallKey struct{}

// markProgress records "a byte moved now" for the watchdog of ctx, if any.
func markProgress(ctx context.Context) {
	if last, ok := ctx.Value(stallKey{}).(*atomic.Int64); ok {
		last.Store(time.Now().UnixNano())
	}
}

// watchStall returns a context cancelled with ErrStalled when no progress is marked for StallTimeout (real time),
// and a stop function that ends the watchdog.
func (m *Manager) watchStall(parent context.Context) (context.Context, func()) {
	last := new(atomic.Int64)
	last.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancelCause(context.WithValue(parent, stallKey{}, last))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(m.cfg.StallTimeout/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if now.UnixNano()-last.Load() > int64(m.cfg.StallTimeout) {
					cancel(ErrStalled)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		wg.Wait()
		cancel(nil)
	}
}
