package audio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopxl/beep/v2"
)

// Engine plays what it is told: one current track, at most one prepared next track, and an outgoing track while
// a crossfade lasts. It decides nothing about what plays; it reports what happened as Events.
//
// Prepare, Play, Stop and Drain are safe for concurrent use and do not wait for the render loop: they open the
// track in the caller's goroutine (file I/O and header parsing), queue a command and return. Serve runs the render
// loop; its output time advances only by the frames it writes to the sink, so an unpaced sink runs as fast as the
// CPU allows and a paced one at its clock's rate.
type Engine struct {
	cfg    EngineConfig
	sink   Sink
	rate   beep.SampleRate
	events chan Event

	mu       sync.Mutex
	cmds     []command
	stopped  bool
	wake     chan struct{} // capacity 1: a command is waiting
	serving  atomic.Bool
	rendered atomic.Int64 // output frames written, for Stats
	limited  atomic.Int64 // frames the limiter reduced, for Stats
	silent   atomic.Int64 // frames of the current silent run, for Stats

	// Owned by the Serve goroutine.
	cur, out, next *voice
	decided        bool  // the caller has said what follows cur (Prepare, Play, Stop or Drain since cur started)
	frame          int64 // output frame at the start of the block being rendered
	pending        []Event
	lim            limiter
	wd             watchdog
	gain           outputGain
	mix, tmp       [][2]float64
	maxXF          int // EngineConfig.MaxCrossfade in frames
}

type cmdKind int

const (
	cmdPrepare cmdKind = iota + 1
	cmdPlay
	cmdStop
	cmdDrain
	cmdOutput
)

type command struct {
	kind cmdKind
	v    *voice // prepare, play: the opened track, or nil with err
	id   string
	err  error
	out  Output // cmdOutput
}

// NewEngine returns an engine that renders into sink at the sink's rate. The caller keeps the sink: it closes it
// (finalising a WAV file) after Serve returns.
func NewEngine(cfg EngineConfig, sink Sink) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("audio: nil sink")
	}
	rate := sink.SampleRate()
	if rate < minRate || rate > maxRate {
		return nil, fmt.Errorf("audio: sink rate %d outside [%d, %d]", rate, minRate, maxRate)
	}
	return &Engine{
		cfg:    cfg,
		sink:   sink,
		rate:   rate,
		events: make(chan Event, cfg.EventBuffer),
		wake:   make(chan struct{}, 1),
		lim:    newLimiter(cfg.LimiterCeilingDBFS, cfg.LimiterRelease, rate),
		wd:     newWatchdog(cfg.SilenceThresholdDBFS, cfg.SilenceAfter, rate),
		gain:   newOutputGain(),
		mix:    make([][2]float64, cfg.BlockFrames),
		tmp:    make([][2]float64, cfg.BlockFrames),
		maxXF:  rate.N(cfg.MaxCrossfade),
	}, nil
}

// Events delivers the engine's reports in output order. It is closed when Serve returns. The reader must keep up:
// a full channel holds the render loop (except for position events, which are dropped), and on a real-time sink
// that is dead air.
func (e *Engine) Events() <-chan Event { return e.events }

// Stats are counters for status pages and metrics.
type Stats struct {
	// Output is the output time rendered so far: the engine's clock.
	Output time.Duration
	// Limited is the output time during which the limiter reduced the gain.
	Limited time.Duration
	// Silent is the length of the current run of silence on the output (0 while there is sound).
	Silent time.Duration
}

// Stats returns the current counters. Safe for concurrent use.
func (e *Engine) Stats() Stats {
	return Stats{
		Output:  e.rate.D(int(e.rendered.Load())),
		Limited: e.rate.D(int(e.limited.Load())),
		Silent:  e.rate.D(int(e.silent.Load())),
	}
}

// SampleRate is the output rate (the sink's).
func (e *Engine) SampleRate() beep.SampleRate { return e.rate }

// Prepare opens t and makes it the next track, replacing a prepared one that has not started. It starts when the
// current track reaches its end (crossfading over t's crossfade), or at once when nothing plays. A file that
// cannot be opened or decoded is reported as EventDecodeFailed, in order with the other events; the error result
// is only for an invalid track or a stopped engine, and then nothing changes. On an unpaced sink a Prepare that
// failed to open is no answer to "what follows": the engine keeps waiting for another command.
func (e *Engine) Prepare(t Track) error { return e.submit(cmdPrepare, t) }

// Play opens t and starts it now, crossfading out whatever plays over t's crossfade; a prepared track is dropped.
// Errors as for Prepare.
func (e *Engine) Play(t Track) error { return e.submit(cmdPlay, t) }

// Stop fades out what plays over EngineConfig.StopFade and drops the prepared track.
func (e *Engine) Stop() error { return e.push(command{kind: cmdStop}) }

// Drain says that nothing follows the current track: on an unpaced sink the engine lets it end without waiting
// for a Prepare. On a paced sink it changes nothing.
func (e *Engine) Drain() error { return e.push(command{kind: cmdDrain}) }

func (e *Engine) submit(kind cmdKind, t Track) error {
	if err := t.validate(&e.cfg); err != nil {
		return err
	}
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return ErrClosed
	}
	v, err := newVoice(t, &e.cfg, e.rate)
	if err != nil {
		err = fmt.Errorf("audio: track %q: %w", t.ID, err)
	}
	if err := e.push(command{kind: kind, v: v, id: t.ID, err: err}); err != nil {
		if v != nil {
			v.close()
		}
		return err
	}
	return nil
}

func (e *Engine) push(c command) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrClosed
	}
	e.cmds = append(e.cmds, c)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}

// Serve renders until ctx is done or the sink fails, then closes every open track and the Events channel. It
// returns nil when stopped by ctx. It may be called once.
func (e *Engine) Serve(ctx context.Context) error {
	if !e.serving.CompareAndSwap(false, true) {
		return errors.New("audio: Serve called twice")
	}
	defer e.shutdown()
	paced := e.sink.Paced()
	for {
		if ctx.Err() != nil {
			return nil
		}
		e.apply()
		n, wait := e.render(e.mix, paced)
		if paced {
			n, wait = len(e.mix), false // a paced sink hears the silence after the last track too
		}
		if n > 0 {
			buf := e.mix[:n]
			e.lim.process(buf)
			if e.gain.muted {
				// A wanted silence is not dead air; the watchdog starts afresh when the mute ends.
				e.wd.reset()
			} else {
				// It hears the programme before the volume: music turned down on purpose is not dead air.
				e.wd.observe(buf, e.frame, func(kind EventKind, at int64, silent int) {
					e.pending = append(e.pending, Event{Kind: kind, At: e.rate.D(int(at)), Duration: e.rate.D(silent)})
				})
			}
			e.gain.process(buf)
			if err := e.sink.Write(ctx, buf); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("audio: sink: %w", err)
			}
			e.frame += int64(n)
			e.rendered.Store(e.frame)
			e.limited.Store(e.lim.limited)
			e.silent.Store(int64(e.wd.silent))
		}
		if !e.deliver(ctx) {
			return nil
		}
		if wait {
			select {
			case <-e.wake:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// apply takes the queued commands, in order.
func (e *Engine) apply() {
	e.mu.Lock()
	cmds := e.cmds
	e.cmds = nil
	e.mu.Unlock()
	for _, c := range cmds {
		switch c.kind {
		case cmdPrepare, cmdPlay:
			if c.err != nil {
				e.emit(Event{Kind: EventDecodeFailed, TrackID: c.id, Err: c.err}, 0)
				continue
			}
			if e.next != nil {
				e.next.close()
			}
			e.next, e.decided = c.v, true
			if c.kind == cmdPlay {
				// Start it now, at the head of the coming block, so that a Prepare queued behind it in the same
				// batch becomes its successor rather than replacing it.
				e.start(0, true)
			}
		case cmdStop:
			if e.next != nil {
				e.next.close()
				e.next = nil
			}
			if e.cur != nil {
				if e.out != nil {
					e.finish(e.out, 0)
				}
				e.cur.startFadeOut(e.rate.N(e.cfg.StopFade), EndStopped)
				e.out, e.cur = e.cur, nil
			}
			e.decided = true
		case cmdDrain:
			e.decided = true
		case cmdOutput:
			e.gain.set(c.out)
		}
	}
}

// emit queues an event at offset frames into the current block.
func (e *Engine) emit(ev Event, offset int) {
	ev.At = e.rate.D(int(e.frame) + offset)
	e.pending = append(e.pending, ev)
}

// deliver sends the queued events; false when ctx ended first.
func (e *Engine) deliver(ctx context.Context) bool {
	for _, ev := range e.pending {
		if ev.Kind == EventPosition {
			select {
			case e.events <- ev:
			default:
			}
			continue
		}
		select {
		case e.events <- ev:
		case <-ctx.Done():
			return false
		}
	}
	clear(e.pending)
	e.pending = e.pending[:0]
	return true
}

// finish ends a voice at offset frames into the block and reports it.
func (e *Engine) finish(v *voice, offset int) {
	v.close()
	if v.err != nil {
		e.emit(Event{Kind: EventDecodeFailed, TrackID: v.track.ID, Err: fmt.Errorf("audio: track %q: %w", v.track.ID, v.err)}, offset)
		v.endReason = EndFailed
	}
	e.emit(Event{Kind: EventTrackEnded, TrackID: v.track.ID, Position: e.rate.D(v.pos), Reason: v.endReason}, offset)
}

func (e *Engine) shutdown() {
	e.mu.Lock()
	e.stopped = true
	cmds := e.cmds
	e.cmds = nil
	e.mu.Unlock()
	for _, c := range cmds {
		if c.v != nil {
			c.v.close()
		}
	}
	for _, v := range []*voice{e.cur, e.out, e.next} {
		if v != nil {
			v.close()
		}
	}
	e.cur, e.out, e.next = nil, nil, nil
	close(e.events)
}
