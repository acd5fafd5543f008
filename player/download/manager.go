package download

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/lomuz/lomuz/player/cache"
)

// Priority orders downloads; lower values go first.
type Priority int

const (
	// Current: content of the playlist that plays now (or is about to).
	Current Priority = iota
	// Emergency: emergency-eligible content, the fallback when nothing scheduled can play.
	Emergency
	// Future: content of schedules that start later.
	Future
)

func (p Priority) String() string {
	switch p {
	case Current:
		return "current"
	case Emergency:
		return "emergency"
	case Future:
		return "future"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// Request asks for one blob.
type Request struct {
	SHA256   string // lowercase hex
	MD5      string // lowercase hex, checked too when not empty
	Size     int64  // bytes, as the manifest says
	Priority Priority
	// Source to fetch from; nil means Config.Source.
	Source Source
}

// Sentinel errors.
var (
	ErrInvalid = errors.New("download: invalid request")
	ErrStalled = errors.New("download: no bytes received within the stall timeout")
	ErrGaveUp  = errors.New("download: too many attempts without progress")
)

// Config tunes a Manager. Zero fields are filled by validate from DefaultConfig.
type Config struct {
	// Concurrency is how many blobs transfer at once. A store uplink is slow and shared: 2 keeps one big file from
	// blocking the queue without splitting the link too thin.
	Concurrency int
	// BytesPerSec caps the total transfer rate of the manager (0: no cap). At least 1 KiB/s when set.
	BytesPerSec int64
	// MaxAttempts is how many consecutive attempts may fail without a byte of progress (or with bad content)
	// before the download is dropped and reported Failed; negative retries forever.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the exponential backoff between failed attempts (with jitter in [d/2, d]).
	BackoffMin, BackoffMax time.Duration
	// StallTimeout aborts an attempt that receives no byte for this long (real time: it measures the network).
	StallTimeout time.Duration
	// EventBuffer is the capacity of the Events channel. When it is full, transfers wait for the reader.
	EventBuffer int
	// Source is used for requests that name none.
	Source Source

	clock clock // test hook: drives the bandwidth limiter and backoff; nil is the real clock
}

// DefaultConfig is the configuration for a store device.
func DefaultConfig() Config {
	return Config{
		Concurrency:  2,
		MaxAttempts:  10,
		BackoffMin:   time.Second,
		BackoffMax:   5 * time.Minute,
		StallTimeout: time.Minute,
		EventBuffer:  256,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = d.BackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(d.BackoffMax, c.BackoffMin)
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = d.StallTimeout
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = d.EventBuffer
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 64:
		return fmt.Errorf("%w: Concurrency %d (want 1..64)", ErrInvalid, c.Concurrency)
	case c.BytesPerSec < 0 || (c.BytesPerSec > 0 && c.BytesPerSec < 1024):
		return fmt.Errorf("%w: BytesPerSec %d (want 0 or >= 1024)", ErrInvalid, c.BytesPerSec)
	case c.BackoffMin < 0 || c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: backoff [%v, %v]", ErrInvalid, c.BackoffMin, c.BackoffMax)
	case c.StallTimeout < 0 || c.EventBuffer < 0:
		return fmt.Errorf("%w: negative StallTimeout or EventBuffer", ErrInvalid)
	}
	return nil
}

// EventKind says how a download ended, or that an attempt failed.
type EventKind int

const (
	// Done: the blob is installed and verified (or was already present).
	Done EventKind = iota + 1
	// Retrying: an attempt failed (Err says why: a hash mismatch means the source served bad bytes); the download
	// stays queued.
	Retrying
	// Failed: the download was dropped after MaxAttempts attempts without progress; enqueue it again to retry.
	Failed
)

func (k EventKind) String() string {
	switch k {
	case Done:
		return "done"
	case Retrying:
		return "retrying"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a download's outcome. Source is the source of the attempt, so the caller can drop a peer that serves
// bad bytes.
type Event struct {
	Kind    EventKind
	SHA256  string
	Err     error
	Source  Source
	Fetched int64 // bytes received over the network for this blob so far
}

// State of a download in Progress.
type State string

const (
	Queued  State = "queued"
	Active  State = "active"
	Backoff State = "backoff"
)

// Progress is a snapshot of one download, for status pages and the progress bar.
type Progress struct {
	SHA256      string
	Priority    Priority
	State       State
	Bytes       int64   // bytes on disk so far (resumed ones included)
	Total       int64   // declared size
	BytesPerSec float64 // average over the current attempt; 0 when not active
	Attempts    int     // attempts so far
	LastErr     string  // the last attempt's error, if any
}

type item struct {
	req       Request
	seq       uint64 // enqueue order, the tie-break within a priority
	state     State
	notBefore time.Time
	failures  int // consecutive attempts without progress
	attempts  int
	fetched   int64
	bytes     int64
	started   time.Time // of the current attempt
	startOff  int64
	lastErr   string
	cancel    context.CancelCauseFunc // of the current attempt
	preempted bool
	cancelled bool
}

// Manager runs downloads into a cache. Its methods are safe for concurrent use and never block on the network.
type Manager struct {
	cfg    Config
	cache  *cache.Cache
	events chan Event
	wake   chan struct{}
	lim    *limiter

	mu      sync.Mutex
	items   map[string]*item
	seq     uint64
	active  int
	serving bool
}

var (
	errPreempted  = errors.New("download: pre-empted by a higher priority")
	errRedirected = errors.New("download: moved to another source")
)
var errCancelled = errors.New("download: cancelled")
var errAwaitVerify = errors.New("download: blob awaits the cache's boot verification")

// New returns a manager that installs into c. Run Serve to start transfers.
func New(c *cache.Cache, cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Manager{
		cfg:    cfg,
		cache:  c,
		events: make(chan Event, cfg.EventBuffer),
		wake:   make(chan struct{}, 1),
		lim:    newLimiter(cfg.BytesPerSec, cfg.clock),
		items:  map[string]*item{},
	}, nil
}

// Events delivers outcomes. The caller must keep draining it while Serve runs; it is never closed.
func (m *Manager) Events() <-chan Event { return m.events }

// SetBandwidth changes the rate cap (bytes per second, 0 = none) for transfers from now on.
func (m *Manager) SetBandwidth(bps int64) error {
	if bps < 0 || (bps > 0 && bps < 1024) {
		return fmt.Errorf("%w: bandwidth %d (want 0 or >= 1024)", ErrInvalid, bps)
	}
	m.lim.setRate(bps)
	return nil
}

func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Enqueue adds requests, or updates the priority and source of ones already queued or active. Blobs the cache holds
// are skipped (no event: the caller can ask the cache). The whole call is rejected if any request is invalid.
func (m *Manager) Enqueue(reqs ...Request) error {
	for _, r := range reqs {
		if !cache.ValidSHA256(r.SHA256) || r.Size <= 0 || r.Size > cache.MaxBlobSize ||
			r.Priority < Current || r.Priority > Future || (r.Source == nil && m.cfg.Source == nil) ||
			(r.MD5 != "" && !validMD5(r.MD5)) {
			return fmt.Errorf("%w: %+v", ErrInvalid, r)
		}
	}
	m.mu.Lock()
	for _, r := range reqs {
		if r.Source == nil {
			r.Source = m.cfg.Source
		}
		if it := m.items[r.SHA256]; it != nil {
			it.req.Priority, it.req.Source = r.Priority, r.Source
			continue
		}
		if m.cache.Has(r.SHA256) {
			continue
		}
		m.seq++
		m.items[r.SHA256] = &item{req: r, seq: m.seq, state: Queued, bytes: m.cache.PartialSize(r.SHA256)}
	}
	m.mu.Unlock()
	m.kick()
	return nil
}

// validMD5 reports whether s is an md5 in lowercase hex, the form the cache checks against.
func validMD5(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 16 && hex.EncodeToString(b) == s
}

// SetPriority re-prioritises a queued or active download; false if it is unknown.
func (m *Manager) SetPriority(sha string, p Priority) bool {
	m.mu.Lock()
	it := m.items[sha]
	if it != nil {
		it.req.Priority = p
	}
	m.mu.Unlock()
	m.kick()
	return it != nil
}

// Redirect moves a queued, backing-off or active download to another source: an active attempt stops and the
// download resumes at once from its partial file with src, with its failure count cleared (a new source has not
// failed yet). It reports false when the download is unknown (finished, failed or never enqueued).
func (m *Manager) Redirect(sha string, src Source) bool {
	if src == nil {
		return false
	}
	m.mu.Lock()
	it := m.items[sha]
	if it != nil {
		it.req.Source = src
		it.failures = 0
		if it.state == Backoff {
			it.state = Queued
		}
		if it.state == Active && it.cancel != nil && !it.preempted {
			it.preempted = true // run() puts it back in the queue, keeping its bytes
			it.cancel(errRedirected)
		}
	}
	m.mu.Unlock()
	m.kick()
	return it != nil
}

// Cancel drops a download; an active transfer stops and its partial file stays for a later resume.
func (m *Manager) Cancel(sha string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it := m.items[sha]
	if it == nil {
		return
	}
	delete(m.items, sha)
	it.cancelled = true
	if it.cancel != nil {
		it.cancel(errCancelled)
	}
}

// Progress returns every queued, active or backing-off download, in the order they would run.
func (m *Manager) Progress() []Progress {
	now := m.cfg.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Progress, 0, len(m.items))
	for _, it := range m.sortedLocked() {
		p := Progress{SHA256: it.req.SHA256, Priority: it.req.Priority, State: it.state, Bytes: it.bytes,
			Total: it.req.Size, Attempts: it.attempts, LastErr: it.lastErr}
		if it.state == Active {
			if el := now.Sub(it.started).Seconds(); el > 0 {
				p.BytesPerSec = float64(it.bytes-it.startOff) / el
			}
		}
		out = append(out, p)
	}
	return out
}

func (m *Manager) sortedLocked() []*item {
	its := make([]*item, 0, len(m.items))
	for _, it := range m.items {
		its = append(its, it)
	}
	slices.SortFunc(its, func(a, b *item) int {
		if a.req.Priority != b.req.Priority {
			return int(a.req.Priority - b.req.Priority)
		}
		return int(int64(a.seq) - int64(b.seq))
	})
	return its
}

// Serve runs transfers until ctx ends, then stops them (partial files stay) and returns ctx's error once every
// goroutine it started has returned. Only one Serve may run.
func (m *Manager) Serve(ctx context.Context) error {
	m.mu.Lock()
	if m.serving {
		m.mu.Unlock()
		return errors.New("download: Serve already running")
	}
	m.serving = true
	m.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		wait := m.dispatch(ctx, &wg)
		var timer <-chan time.Time
		if wait > 0 {
			timer = m.cfg.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.wake:
		case <-timer:
		}
	}
}

// dispatch starts eligible downloads in priority order while slots are free, pre-empts the lowest-priority active
// transfer when a strictly higher priority waits and no slot is free, and returns how long until the next backoff
// ends (0: nothing to wait for).
func (m *Manager) dispatch(ctx context.Context, wg *sync.WaitGroup) time.Duration {
	now := m.cfg.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Duration
	var actives []*item
	for _, it := range m.items {
		if it.state == Active && !it.preempted {
			actives = append(actives, it)
		}
	}
	for _, it := range m.sortedLocked() {
		if it.state == Active {
			continue
		}
		if it.state == Backoff {
			if d := it.notBefore.Sub(now); d > 0 {
				if next == 0 || d < next {
					next = d
				}
				continue
			}
			it.state = Queued
		}
		if m.active >= m.cfg.Concurrency {
			// Pre-empt the worst active transfer if this one outranks it; it resumes later from its partial file.
			var worst *item
			for _, a := range actives {
				if worst == nil || a.req.Priority > worst.req.Priority ||
					(a.req.Priority == worst.req.Priority && a.seq > worst.seq) {
					worst = a
				}
			}
			if worst != nil && worst.req.Priority > it.req.Priority {
				worst.preempted = true
				worst.cancel(errPreempted)
				actives = slices.DeleteFunc(actives, func(a *item) bool { return a == worst })
			}
			continue
		}
		m.active++
		it.state = Active
		it.attempts++
		it.started = now
		it.startOff = it.bytes
		actx, cancel := context.WithCancelCause(ctx)
		it.cancel = cancel
		actives = append(actives, it)
		req := it.req // the attempt's own copy: Enqueue and SetPriority change it.req under m.mu
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel(nil)
			m.run(actx, it, req)
		}()
	}
	return next
}

// run performs one attempt with req (a copy of it.req taken under m.mu) and files its outcome.
func (m *Manager) run(ctx context.Context, it *item, req Request) {
	sha := req.SHA256
	fetched, err := m.attempt(ctx, it, req)
	now := m.cfg.clock.Now()

	m.mu.Lock()
	m.active--
	it.fetched += fetched
	it.cancel = nil
	var ev *Event
	switch {
	case it.cancelled:
		// Cancel removed it already.
	case err == nil:
		delete(m.items, sha)
		ev = &Event{Kind: Done, SHA256: sha, Source: req.Source, Fetched: it.fetched}
	case it.preempted:
		it.preempted = false
		it.state = Queued
		it.attempts--
	case ctx.Err() != nil:
		// Serve is stopping: leave it queued for the next Serve.
		it.state = Queued
		it.attempts--
	case errors.Is(err, errAwaitVerify):
		it.state = Backoff
		it.notBefore = now.Add(m.cfg.BackoffMin)
		it.lastErr = err.Error()
	default:
		progressed := fetched > 0 && !errors.Is(err, cache.ErrHashMismatch)
		if progressed {
			it.failures = 0
		}
		it.failures++
		it.lastErr = err.Error()
		if m.cfg.MaxAttempts > 0 && it.failures >= m.cfg.MaxAttempts {
			delete(m.items, sha)
			ev = &Event{Kind: Failed, SHA256: sha, Err: fmt.Errorf("%w (%d): %w", ErrGaveUp, it.failures, err),
				Source: req.Source, Fetched: it.fetched}
			break
		}
		it.state = Backoff
		it.notBefore = now.Add(m.backoff(it.failures, err))
		ev = &Event{Kind: Retrying, SHA256: sha, Err: err, Source: req.Source, Fetched: it.fetched}
	}
	if errors.Is(err, cache.ErrHashMismatch) {
		it.bytes = 0 // the cache dropped the partial file
	}
	m.mu.Unlock()
	m.kick()
	if ev != nil {
		select {
		case m.events <- *ev:
		case <-ctx.Done():
			// Serve is stopping; an undelivered outcome is found again from the cache on the next start.
		}
	}
}

// backoff is min * 2^(failures-1), capped, with jitter in [d/2, d], and at least the server's Retry-After.
func (m *Manager) backoff(failures int, err error) time.Duration {
	d := m.cfg.BackoffMin
	for i := 1; i < failures && d < m.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, m.cfg.BackoffMax)
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	var he *HTTPError
	if errors.As(err, &he) && he.RetryAfter > d {
		d = he.RetryAfter
	}
	return d
}

// attempt opens the blob's writer at its partial offset, fetches the rest and commits. It returns the bytes
// received.
func (m *Manager) attempt(ctx context.Context, it *item, req Request) (int64, error) {
	w, err := m.cache.Create(req.SHA256, req.Size, req.MD5)
	if errors.Is(err, cache.ErrExists) {
		if m.cache.Has(req.SHA256) {
			return 0, nil
		}
		// On disk but not yet re-hashed by the cache's boot verification: wait for its verdict (present, or
		// quarantined and then ours to fetch) without counting a failure.
		return 0, errAwaitVerify
	}
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	it.bytes, it.startOff = w.Offset(), w.Offset()
	m.mu.Unlock()
	if w.Offset() == w.Size() {
		return 0, w.Commit()
	}
	sctx, stop := m.watchStall(ctx)
	pw := &progressWriter{m: m, it: it, w: w, ctx: sctx}
	n, ferr := req.Source.Fetch(sctx, req.SHA256, w.Offset(), pw)
	stop()
	if ctx.Err() != nil {
		w.Close()
		return pw.n, context.Cause(ctx)
	}
	if ferr != nil {
		w.Close()
		if cause := context.Cause(sctx); errors.Is(cause, ErrStalled) {
			ferr = fmt.Errorf("%w: %w", ErrStalled, ferr)
		}
		return pw.n, ferr
	}
	if pw.n != n {
		w.Close()
		return pw.n, fmt.Errorf("download: source reported %d bytes, wrote %d", n, pw.n)
	}
	return pw.n, w.Commit()
}
