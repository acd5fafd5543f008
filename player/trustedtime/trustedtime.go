package trustedtime

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config tunes the interval model. Build it with DefaultConfig and change what you need; New validates it.
type Config struct {
	// DriftPPM bounds how fast or slow the monotonic clock may run, in parts per million. Cheap crystals are within
	// +-50 ppm; 100 leaves a margin. Bounds: 0..10,000.
	DriftPPM float64
	// Slack widens Hi after a direct sync beyond the measured round trip, to cover skew between origin replicas'
	// clocks and the time origin spends between stamping and sending. Bounds: 0..1 minute.
	Slack time.Duration
	// Epoch is a time before which this binary cannot be running (its release date): Lo never goes below it, even on a
	// first boot with a clock reset to 1970. Zero means no such bound.
	Epoch time.Time
}

// DefaultConfig returns the contract's parameters: 100 ppm and 2 s.
func DefaultConfig() Config {
	return Config{DriftPPM: 100, Slack: 2 * time.Second}
}

func (c *Config) validate() error {
	if c.DriftPPM < 0 || c.DriftPPM > 10000 {
		return fmt.Errorf("trustedtime: DriftPPM %v outside 0..10000", c.DriftPPM)
	}
	if c.Slack < 0 || c.Slack > time.Minute {
		return fmt.Errorf("trustedtime: Slack %v outside 0..1m", c.Slack)
	}
	return nil
}

// Reading is what the caller read from its clocks at one instant.
type Reading struct {
	Wall time.Time     // the wall clock, possibly wrong by years; only its absolute instant is used
	Mono time.Duration // monotonic time since an arbitrary point of this boot; never goes backwards within a boot
}

// State is what survives a reboot: the caller persists it (e.g. every minute and at shutdown) and passes it to New.
// Monotonic anchors are meaningless after a reboot and are not part of it.
type State struct {
	Floor time.Time // largest lower bound of true time ever computed; zero when none
}

// ErrBadSample rejects a sync sample whose monotonic readings are inconsistent.
var ErrBadSample = errors.New("trustedtime: received before sent")

// anchor is a known time at a monotonic reading of this boot.
type anchor struct {
	at   time.Time
	mono time.Duration
	ok   bool
}

// Clock holds the signals of this boot. The zero value is not usable: call New.
type Clock struct {
	cfg   Config
	floor time.Time
	lo    anchor // best lower-bound anchor: true time at lo.mono was >= lo.at
	hi    anchor // best upper-bound anchor from a direct sync: true time at hi.mono was <= hi.at
}

// New starts a boot from the persisted state.
func New(cfg Config, st State) (*Clock, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Clock{cfg: cfg, floor: st.Floor}
	if cfg.Epoch.After(c.floor) {
		c.floor = cfg.Epoch
	}
	return c, nil
}

// drift is the largest error the monotonic clock may have accumulated over d.
func (c *Clock) drift(d time.Duration) time.Duration {
	if d < 0 {
		d = -d
	}
	// Rounded up: a bound that is a nanosecond too generous is safe, one a nanosecond too tight is not.
	return time.Duration(math.Ceil(float64(d) * c.cfg.DriftPPM / 1e6))
}

func (c *Clock) loAt(a anchor, mono time.Duration) time.Time {
	d := mono - a.mono
	return a.at.Add(d - c.drift(d))
}

func (c *Clock) hiAt(a anchor, mono time.Duration) time.Time {
	d := mono - a.mono
	return a.at.Add(d + c.drift(d))
}

// ObserveSync records origin's verified signed time from the answer to this node's own request, sent at monotonic
// reading sent and received at recv. It tightens both bounds.
func (c *Clock) ObserveSync(origin time.Time, sent, recv time.Duration) error {
	if recv < sent {
		return ErrBadSample
	}
	c.raiseLo(origin, recv)
	hi := anchor{at: origin.Add(recv - sent + c.drift(recv-sent) + c.cfg.Slack), mono: recv, ok: true}
	if !c.hi.ok || hi.at.Before(c.hiAt(c.hi, recv)) {
		c.hi = hi
	}
	return nil
}

// ObserveRelayed records a verified signed origin time learned from a peer (or any source whose delay is unknown),
// received at monotonic reading recv. It can only raise the lower bound.
func (c *Clock) ObserveRelayed(origin time.Time, recv time.Duration) {
	c.raiseLo(origin, recv)
}

func (c *Clock) raiseLo(t time.Time, mono time.Duration) {
	if !c.lo.ok || t.After(c.loAt(c.lo, mono)) {
		c.lo = anchor{at: t, mono: mono, ok: true}
	}
}

// Synced reports whether a direct sync in this boot bounds true time from above.
func (c *Clock) Synced() bool { return c.hi.ok }

// Interval computes the bounds at reading r.
func (c *Clock) Interval(r Reading) Interval {
	lo := c.floor
	if c.lo.ok {
		if l := c.loAt(c.lo, r.Mono); l.After(lo) {
			lo = l
		}
	}
	iv := Interval{Lo: lo, Wall: r.Wall}
	switch {
	case c.hi.ok:
		iv.Hi = c.hiAt(c.hi, r.Mono)
		iv.Synced = true
	case !lo.IsZero() && !r.Wall.Before(lo):
		// Unproven but the best there is: a clock set back past the floor is caught, one set back less is not
		// (ARCHITECTURE.md accepts this for boots without a sync). With no floor at all it is not believed.
		iv.Hi = r.Wall
	}
	if !iv.Hi.IsZero() && iv.Hi.Before(lo) {
		// Only possible when origin's clock stepped back below a floor it gave earlier: Lo is proven, so trust it.
		iv.Hi = lo
	}
	return iv
}

// State returns what to persist at reading r: the floor raised to the current lower bound.
func (c *Clock) State(r Reading) State {
	return State{Floor: c.Interval(r).Lo}
}

// Interval is what the device can prove about true time at one instant: Lo <= true time <= Hi. A zero Lo means
// nothing is known from below (no floor, no Epoch, no signed time); a zero Hi means nothing is known from above.
type Interval struct {
	Lo, Hi time.Time
	Wall   time.Time // the wall clock read at the same instant, for Now and Status
	Synced bool      // Hi comes from a direct sync in this boot rather than from the wall clock
}

// Exact is an interval for a clock known to be right, as the panel's preview and the simulator's oracle use.
func Exact(t time.Time) Interval { return Interval{Lo: t, Hi: t, Wall: t, Synced: true} }

// Eligible reports whether every instant of [Lo, Hi] lies in the inclusive window [validFrom, validUntil], compared
// to the whole second (a window ending at 12:00:00 admits 12:00:00.999). A zero bound is open. With Hi unknown, an
// asset with an end date is never eligible: when the clock cannot be trusted, windowed assets pause.
func (iv Interval) Eligible(validFrom, validUntil time.Time) bool {
	if !validFrom.IsZero() && (iv.Lo.IsZero() || secs(iv.Lo) < secs(validFrom)) {
		return false
	}
	if !validUntil.IsZero() && (iv.Hi.IsZero() || secs(iv.Hi) > secs(validUntil)) {
		return false
	}
	return true
}

// secs is t in whole seconds since the Unix epoch, rounded down (also for instants before 1970).
func secs(t time.Time) int64 { return t.Unix() }

// Now is the instant used to resolve schedules: the wall clock when it lies inside [Lo, Hi] (it is the best
// estimate), else Lo (the time the device can prove). With nothing known at all it is the wall clock.
func (iv Interval) Now() time.Time {
	if iv.Lo.IsZero() {
		return iv.Wall
	}
	if !iv.Wall.Before(iv.Lo) && (iv.Hi.IsZero() || !iv.Wall.After(iv.Hi)) {
		return iv.Wall
	}
	return iv.Lo
}
