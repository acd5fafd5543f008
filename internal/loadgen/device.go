package loadgen

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

// device is one simulated device. Only its own goroutine touches it until run returns.
type device struct {
	cfg    Config
	client *api.Client
	id     string
	store  string

	// What a node keeps to ask for no-change syncs: its records' revisions and their state hash.
	revision uint64
	records  map[string]uint64
	hash     crdt.StateHash

	nextSeq uint64
	pending []api.PlayEvent // recorded, not acknowledged, in seq order
	acked   []uint64
	sent    int64

	requests                              map[string]int64
	errors                                map[string]int64
	samples                               map[string]string // the first error of each kind
	latency                               map[string][]time.Duration
	syncs, failedSyncs, uploads, failedUp int64

	lastOK      time.Time // the last successful call (the run's start before any)
	inStreak    bool
	streakFrom  time.Time // lastOK when the current streak of failures began
	longest     time.Duration
	longestFrom time.Time
	longestOpen bool
}

func newDevice(cfg Config, c *api.Client, en api.EnrollResponse) *device {
	return &device{cfg: cfg, client: c, id: en.DeviceID, store: en.StoreID, records: map[string]uint64{},
		nextSeq: 1, requests: map[string]int64{}, errors: map[string]int64{},
		samples: map[string]string{}, latency: map[string][]time.Duration{}}
}

// run operates until stop: record plays, then sync or upload them, then pause.
func (d *device) run(ctx context.Context, stop time.Time) {
	d.lastOK = time.Now()
	for i := 0; ctx.Err() == nil && time.Now().Before(stop); i++ {
		for range d.cfg.PlaysPerOp {
			d.record()
		}
		if i%2 == 0 || len(d.pending) == 0 {
			d.syncs++
			if !d.operate(ctx, "sync", d.sync) {
				d.failedSyncs++
			}
		} else {
			d.uploads++
			if !d.operate(ctx, "plays", d.upload) {
				d.failedUp++
			}
		}
		pause := d.cfg.Interval * time.Duration(75+rand.IntN(51)) / 100
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	if d.inStreak {
		d.window(time.Now(), true)
	}
}

// record appends a new play event with the next seq: (device, seq) is its unique identity.
func (d *device) record() {
	if len(d.pending) >= api.MaxPlayEvents/2 {
		return // origin has been unreachable for long: a node would keep them on disk; the result shows the gap
	}
	d.pending = append(d.pending, api.PlayEvent{DeviceID: d.id, Seq: d.nextSeq, StartedAt: time.Now().UTC(),
		DurationMS: 180_000, Fallback: "builtin"})
	d.nextSeq++
	d.sent++
}

// operate tries call until it succeeds, fails for a reason a retry does not fix, or AttemptTimeout passes.
func (d *device) operate(ctx context.Context, op string, call func(context.Context) error) bool {
	t0 := time.Now()
	defer func() { d.latency[op] = append(d.latency[op], time.Since(t0)) }()
	deadline := t0.Add(d.cfg.AttemptTimeout)
	backoff := d.cfg.Backoff
	for {
		rctx, cancel := context.WithTimeout(ctx, min(d.cfg.RequestTimeout, time.Until(deadline)))
		err := call(rctx)
		cancel()
		now := time.Now()
		d.requests[op]++
		if err == nil {
			if d.inStreak {
				d.window(now, false)
			}
			d.lastOK = now
			return true
		}
		kind := errorKind(err)
		if d.errors[kind]++; d.errors[kind] == 1 {
			d.samples[kind] = err.Error()
		}
		if !d.inStreak {
			d.inStreak, d.streakFrom = true, d.lastOK
		}
		var p *api.Problem
		if errors.As(err, &p) && p.Status < 500 && p.Status != 429 && p.Status != 408 {
			return false // the request itself is wrong: retrying sends the same thing
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if ctx.Err() != nil || now.Add(wait).After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// window closes the current error streak at end.
func (d *device) window(end time.Time, open bool) {
	if w := end.Sub(d.streakFrom); w > d.longest {
		d.longest, d.longestFrom, d.longestOpen = w, d.streakFrom, open
	}
	d.inStreak = false
}

func (d *device) sync(ctx context.Context) error {
	req := api.SyncRequest{Revision: d.revision, AppVersion: "loadgen", PlayEvents: d.batch()}
	if d.revision != 0 {
		req.StateHash = d.hash.Hex()
	}
	m, err := d.client.Sync(ctx, req)
	if err != nil {
		return err
	}
	d.apply(m)
	d.ack(m.Acks)
	return nil
}

func (d *device) upload(ctx context.Context) error {
	acks, err := d.client.UploadPlays(ctx, d.batch())
	if err != nil {
		return err
	}
	d.ack(acks)
	return nil
}

func (d *device) batch() []api.PlayEvent {
	return d.pending[:min(len(d.pending), api.MaxPlayEvents)]
}

// apply keeps the records' revisions as a node does, so that the next sync can be a no-change one; a hash that
// does not match what origin says asks for everything again.
func (d *device) apply(m *api.SyncManifest) {
	if m.Full {
		d.records, d.hash = map[string]uint64{}, crdt.StateHash{}
	}
	for _, r := range m.Records {
		if old, ok := d.records[r.Key]; ok {
			d.hash.Remove(r.Key, old)
		}
		d.records[r.Key] = r.Rev
		d.hash.Add(r.Key, r.Rev)
	}
	for _, r := range m.Tombstones {
		if old, ok := d.records[r.Key]; ok {
			d.hash.Remove(r.Key, old)
			delete(d.records, r.Key)
		}
	}
	d.revision = m.Revision
	if d.hash.Hex() != m.StateHash {
		d.revision = 0
	}
}

// ack drops acknowledged events from pending and remembers their seqs.
func (d *device) ack(acks []api.PlayAck) {
	done := make(map[uint64]bool, len(acks))
	for _, a := range acks {
		if a.DeviceID == d.id {
			done[a.Seq] = true
		}
	}
	kept := d.pending[:0]
	for _, e := range d.pending {
		if done[e.Seq] {
			d.acked = append(d.acked, e.Seq)
		} else {
			kept = append(kept, e)
		}
	}
	d.pending = kept
}

// addTo adds the device's counts to res. Run calls it after every device has stopped.
func (d *device) addTo(res *Result) {
	for k, v := range d.requests {
		res.Requests[k] += v
	}
	for k, v := range d.errors {
		res.RequestErrors[k] += v
	}
	for k, v := range d.samples {
		if _, ok := res.ErrorSamples[k]; !ok {
			res.ErrorSamples[k] = v
		}
	}
	res.Syncs += d.syncs
	res.FailedSyncs += d.failedSyncs
	res.Uploads += d.uploads
	res.FailedUploads += d.failedUp
	res.PlaysSent += d.sent
	res.PlaysAcked += int64(len(d.acked))
	if ms := d.longest.Milliseconds(); ms > res.LongestErrorWindowMS {
		res.LongestErrorWindowMS, res.LongestWindowDevice = ms, d.id
		res.LongestWindowStart, res.LongestWindowOpen = d.longestFrom, d.longestOpen
	}
	res.PerDevice = append(res.PerDevice, DeviceResult{DeviceID: d.id, StoreID: d.store, Syncs: d.syncs,
		FailedSyncs: d.failedSyncs, Uploads: d.uploads, FailedUploads: d.failedUp,
		LongestErrorWindowMS: d.longest.Milliseconds(), AckedSeqs: ranges(d.acked), Unacked: len(d.pending)})
}

// errorKind names a failed call for the result: the HTTP status of a problem, else what the network did.
func errorKind(err error) string {
	var p *api.Problem
	var ne net.Error
	switch {
	case errors.As(err, &p):
		return "status-" + strconv.Itoa(p.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, api.ErrBadSignature):
		return "bad-signature"
	}
	return "other"
}
