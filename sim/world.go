package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/player/schedule"
)

// Options are the knobs of one run that are not part of the scenario.
type Options struct {
	// Seed drives everything: faults, network, every node's random source, origin's ids.
	Seed uint64
	// ScenarioPath is only used to print the command that reproduces a failure.
	ScenarioPath string
	// Progress, when set, receives a progress line (carriage-return updated) about every ProgressEvery of wall time.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Trace, when set, receives the event trace, one line per event (the trace is hashed either way).
	Trace io.Writer
	// AssetHook is handed to every node core (node.Config.AssetHook): a deliberately broken rule, to prove the
	// invariants catch it. Nil in every real run.
	AssetHook func(*schedule.Asset)
	// MaxViolations stops recording (not the run) after this many; 0 means 100.
	MaxViolations int
	// DataDir holds origin's embedded stores; empty uses a temporary directory removed at the end.
	DataDir string
}

// event is one thing due at a virtual instant; seq breaks ties in scheduling order, so a run is a pure function of
// its seed.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// world is one run: virtual time, the event queue, origin, stores and nodes. Single-goroutine (origin's sync-log
// batcher is the only other goroutine, and the world waits for each request it makes).
type world struct {
	sc   Scenario
	opts Options
	ctx  context.Context
	now  time.Duration // since the start
	q    eventQueue
	seq  uint64

	org    *simOrigin
	stores []*simStore
	nodes  []*simNode
	byID   map[string]*simNode
	cat    catalogModel

	rndFaults *rand.Rand
	rndNet    *rand.Rand

	originDown bool
	origin5xx  time.Duration // Retry-After while origin answers 503; 0 when healthy
	healing    bool
	healAt     time.Duration

	trace      hash.Hash
	events     uint64
	knobs      []string
	violations []Violation
	met        metrics
}

// subSeed derives a component's seed from the run's seed and the component's name.
func subSeed(seed uint64, name string) uint64 {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%s", seed, name))
	return binary.BigEndian.Uint64(h[:8])
}

func (w *world) rng(name string) *rand.Rand {
	s := subSeed(w.opts.Seed, name)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// after schedules fn d from now.
func (w *world) after(d time.Duration, fn func()) { w.at(w.now+max(d, 0), fn) }

func (w *world) at(t time.Duration, fn func()) {
	w.seq++
	heap.Push(&w.q, &event{at: max(t, w.now), seq: w.seq, fn: fn})
}

// trueTime is the true wall time now.
func (w *world) trueTime() time.Time { return w.sc.Start.Add(w.now) }

// tracef appends one line to the trace (and its hash).
func (w *world) tracef(format string, args ...any) {
	line := fmt.Sprintf("%12.3f ", w.now.Seconds()) + fmt.Sprintf(format, args...) + "\n"
	w.trace.Write([]byte(line))
	if w.opts.Trace != nil {
		io.WriteString(w.opts.Trace, line)
	}
}

// knob logs a value drawn from the seed.
func (w *world) knob(format string, args ...any) {
	k := fmt.Sprintf(format, args...)
	w.knobs = append(w.knobs, k)
	w.tracef("knob %s", k)
}

// uuidMu serialises runs: origin names tenants, stores, assets and devices with google/uuid, whose random source
// is process-wide; a run points it at its seed while it sets up and runs, so that ids (and with them rendezvous
// ranks) are the same for the same seed.
var uuidMu sync.Mutex

type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	return len(b), nil
}

// Run runs sc with opts and returns its report. The error is for runs that could not be carried out (bad
// scenario, origin failure); a run that breaks an invariant returns a report with Violations and a nil error.
func Run(ctx context.Context, sc Scenario, opts Options) (*Report, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	if opts.MaxViolations <= 0 {
		opts.MaxViolations = 100
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 2 * time.Second
	}
	uuidMu.Lock()
	defer uuidMu.Unlock()
	w := &world{sc: sc, opts: opts, ctx: ctx, byID: map[string]*simNode{}, trace: sha256.New()}
	uuid.SetRand(seededReader{w.rng("uuid")})
	defer uuid.SetRand(nil)
	w.rndFaults, w.rndNet = w.rng("faults"), w.rng("net")
	dir := opts.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "lomuz-sim-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	org, err := openOrigin(ctx, dir, w.trueTime)
	if err != nil {
		return nil, fmt.Errorf("sim: origin: %w", err)
	}
	defer org.close()
	w.org = org
	w.met.init(&w.sc)
	if err := w.setup(); err != nil {
		return nil, fmt.Errorf("sim: setup: %w", err)
	}
	w.scheduleTimeline()
	w.scheduleSwarm()
	w.at(sc.Chaos, w.heal)
	end := sc.Chaos + sc.Heal
	wallStart := time.Now()
	lastProgress := wallStart
	for w.q.Len() > 0 {
		e := heap.Pop(&w.q).(*event)
		if e.at > end {
			break
		}
		w.now = e.at
		w.events++
		e.fn()
		if w.events&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if opts.Progress != nil && time.Since(lastProgress) >= opts.ProgressEvery {
				lastProgress = time.Now()
				w.progress(wallStart)
			}
		}
	}
	w.now = end
	if opts.Progress != nil {
		w.progress(wallStart)
		fmt.Fprintln(opts.Progress)
	}
	w.finalChecks()
	return w.report(time.Since(wallStart)), nil
}

func (w *world) progress(start time.Time) {
	total := w.sc.Chaos + w.sc.Heal
	fmt.Fprintf(w.opts.Progress, "\rsim %s seed %d: %5.1f%% simulated %v of %v, %d events, %d violations, wall %v   ",
		w.sc.Name, w.opts.Seed, 100*float64(w.now)/float64(total), w.now.Truncate(time.Second), total,
		w.events, len(w.violations), time.Since(start).Truncate(time.Second))
}

// TraceHash is the hex sha256 of a run's trace.
func (w *world) traceHash() string { return hex.EncodeToString(w.trace.Sum(nil)) }
