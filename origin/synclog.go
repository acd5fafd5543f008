package origin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lomuz/lomuz/origin/catalog"
)

// errBatcherStopped: the server is shutting down and takes no more sync reports.
var errBatcherStopped = errors.New("origin: sync-log writer stopped")

// syncLogBatcher is a group commit for sync logs and telemetry: reports from concurrent syncs are written by one
// RecordSyncs call, and each sync answers only after its report is durable. One goroutine (Serve) writes; submit
// is safe for concurrent use and blocks until the report's batch is written or ctx ends.
type syncLogBatcher struct {
	cat      catalog.Store
	max      int
	window   time.Duration
	flushers int
	in       chan *pendingReport
	stopped  chan struct{}
}

type pendingReport struct {
	rep  catalog.SyncReport
	done chan error // buffered 1
}

func newSyncLogBatcher(cat catalog.Store, max int, window time.Duration, flushers int) *syncLogBatcher {
	return &syncLogBatcher{cat: cat, max: max, window: window, flushers: flushers,
		in: make(chan *pendingReport, 4*max), stopped: make(chan struct{})}
}

func (b *syncLogBatcher) submit(ctx context.Context, rep catalog.SyncReport) error {
	p := &pendingReport{rep: rep, done: make(chan error, 1)}
	select {
	case b.in <- p:
	case <-b.stopped:
		return errBatcherStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The report may still be written; the device did not get an answer and will sync again.
		return ctx.Err()
	}
}

// Serve writes batches until ctx ends, then writes what was already queued and stops. One goroutine collects
// batches; `flushers` goroutines write them (Config.SyncLogFlushers says why one is the default). While every
// flusher is busy, reports pile up and the next batch is larger: throughput grows with load instead of latency.
func (b *syncLogBatcher) Serve(ctx context.Context) error {
	work := make(chan []*pendingReport)
	var wg sync.WaitGroup
	for i := 0; i < b.flushers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range work {
				b.flush(batch)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch := make([]*pendingReport, 0, 16)
		select {
		case p := <-b.in:
			batch = append(batch, p)
		case <-ctx.Done():
			close(b.stopped)
			for {
				select {
				case p := <-b.in:
					b.flush([]*pendingReport{p})
				default:
					return nil
				}
			}
		}
		if b.window > 0 {
			timer.Reset(b.window)
		}
	collect:
		for len(batch) < b.max {
			if b.window <= 0 {
				select {
				case p := <-b.in:
					batch = append(batch, p)
					continue
				default:
					break collect
				}
			}
			select {
			case p := <-b.in:
				batch = append(batch, p)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		// Hand the batch to a free flusher; while none is free, keep adding to it (up to max).
	handoff:
		for {
			if len(batch) >= b.max {
				work <- batch
				break
			}
			select {
			case work <- batch:
				break handoff
			case p := <-b.in:
				batch = append(batch, p)
			}
		}
	}
}

// flush writes one batch. If the batch fails, each report is retried alone so one bad report (a device deleted
// meanwhile) fails only its own sync.
func (b *syncLogBatcher) flush(batch []*pendingReport) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reps := make([]catalog.SyncReport, len(batch))
	for i, p := range batch {
		reps[i] = p.rep
	}
	err := b.cat.RecordSyncs(ctx, reps)
	if err == nil || len(batch) == 1 {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	slog.Warn("origin: sync-log batch failed; writing one by one", "n", len(batch), "err", err)
	for _, p := range batch {
		p.done <- b.cat.RecordSyncs(ctx, []catalog.SyncReport{p.rep})
	}
}
