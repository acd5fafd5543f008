package node

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

// Config configures a Core. Durations are in the node's monotonic time.
type Config struct {
	// Identity, from enrollment.
	Device, Tenant, Store, Zone string
	// TimeZone is the store's IANA zone until a store record says otherwise.
	TimeZone string
	// OriginKey is origin's ed25519 public key, pinned at enrollment: every record and signed time must verify.
	OriginKey  ed25519.PublicKey
	AppVersion string

	// SyncInterval between successful syncs (10 min), +- SyncJitter; failures back off from BackoffMin to BackoffMax.
	SyncInterval, SyncJitter, BackoffMin, BackoffMax time.Duration
	// StartGrace is how long a higher-ranked node has to start pulling a blob before the next takes over;
	// StallAfter how long a pull may make no progress. Settle is how long after boot the node waits for the mesh to
	// form before its first cloud pull, so that the first pulls are not duplicated by nodes that have not met yet.
	StartGrace, StallAfter, Settle time.Duration
	// UplinkFresh: a peer whose newest directly-synced origin time is older than the store's newest by more than
	// this is taken to have no uplink and is not ranked as a puller.
	UplinkFresh time.Duration
	// MaxFetches bounds concurrent downloads (cloud and LAN together).
	MaxFetches int
	// GossipInterval is how often new local state is broadcast; GossipBudget the byte budget of one payload (the
	// memberlist UDP budget); GossipMaxParts how many payloads one round may send (the rest waits for push/pull).
	GossipInterval time.Duration
	GossipBudget   int
	GossipMaxParts int
	// PrepareAhead is how long before the current track's expected end the next one is chosen and handed to the
	// engine. It must exceed the crossfade. PrepareAtStart chooses the next track as soon as one starts instead,
	// for outputs that run faster than real time (WAV, null): the validity check then looks ahead by the length
	// of the current track.
	PrepareAhead   time.Duration
	PrepareAtStart bool
	// Crossfade is the default until the store record sets one.
	Crossfade time.Duration
	// MaxUploadEvents bounds the play events sent in one sync.
	MaxUploadEvents int
	// SnapshotEvery debounces Ready.Snapshot.
	SnapshotEvery time.Duration
	// Seed drives every random choice of the core (sync jitter, emergency picks): a run is reproducible from it.
	Seed uint64
	// Time configures trusted time; TimeState is the persisted floor.
	Time      trustedtime.Config
	TimeState trustedtime.State
	// History is the zone's persisted play history.
	History schedule.History
	// Schedule configures selection (Store, Zone and Rand are filled by the core).
	Schedule schedule.Config
	// AssetHook, when set, rewrites each asset before it enters selection. It exists so that the simulator can
	// prove its invariants catch a broken rule (a hook that drops valid_until); production never sets it.
	AssetHook func(*schedule.Asset)
}

// DefaultConfig returns production defaults; the identity fields must still be set.
func DefaultConfig() Config {
	return Config{
		SyncInterval: 10 * time.Minute, SyncJitter: 2 * time.Minute,
		BackoffMin: 30 * time.Second, BackoffMax: 30 * time.Minute,
		StartGrace: 15 * time.Second, StallAfter: 30 * time.Second, Settle: 5 * time.Second,
		UplinkFresh:    25 * time.Minute,
		MaxFetches:     3,
		GossipInterval: 500 * time.Millisecond, GossipBudget: 1300, GossipMaxParts: 64,
		PrepareAhead:    10 * time.Second,
		Crossfade:       3 * time.Second,
		MaxUploadEvents: 500,
		SnapshotEvery:   time.Minute,
		Time:            trustedtime.DefaultConfig(),
		Schedule:        schedule.DefaultConfig(),
	}
}

func (c *Config) validate() error {
	for name, v := range map[string]string{"device": c.Device, "tenant": c.Tenant, "store": c.Store, "zone": c.Zone} {
		if v == "" {
			return fmt.Errorf("node: config %s is required", name)
		}
	}
	if len(c.OriginKey) != ed25519.PublicKeySize {
		return errors.New("node: config OriginKey must be an ed25519 public key")
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		return fmt.Errorf("node: time zone %q: %w", c.TimeZone, err)
	}
	d := DefaultConfig()
	fill := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.SyncInterval, d.SyncInterval)
	fill(&c.BackoffMin, d.BackoffMin)
	fill(&c.BackoffMax, d.BackoffMax)
	fill(&c.StartGrace, d.StartGrace)
	fill(&c.StallAfter, d.StallAfter)
	fill(&c.UplinkFresh, d.UplinkFresh)
	fill(&c.GossipInterval, d.GossipInterval)
	fill(&c.PrepareAhead, d.PrepareAhead)
	fill(&c.SnapshotEvery, d.SnapshotEvery)
	if c.MaxFetches <= 0 {
		c.MaxFetches = d.MaxFetches
	}
	if c.GossipBudget <= 0 {
		c.GossipBudget = d.GossipBudget
	}
	if c.GossipMaxParts <= 0 {
		c.GossipMaxParts = d.GossipMaxParts
	}
	if c.MaxUploadEvents <= 0 {
		c.MaxUploadEvents = d.MaxUploadEvents
	}
	if c.SyncJitter < 0 || c.SyncJitter >= c.SyncInterval {
		return fmt.Errorf("node: SyncJitter %v must be in [0, SyncInterval)", c.SyncJitter)
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("node: BackoffMax %v below BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	if c.GossipBudget < 256 || c.GossipBudget > 64<<10 {
		return fmt.Errorf("node: GossipBudget %d outside 256..65536 bytes", c.GossipBudget)
	}
	if c.PrepareAhead <= c.Crossfade {
		return fmt.Errorf("node: PrepareAhead %v must exceed Crossfade %v", c.PrepareAhead, c.Crossfade)
	}
	return nil
}

// Core is one node's decision-making: single-threaded, no I/O, no clock reads. Tick(now) advances time, Step(ev)
// feeds a result or observation, Ready() takes the effects accumulated since the last call. Not safe for
// concurrent use.
type Core struct {
	cfg   Config
	rnd   *rand.Rand
	now   Instant
	boot  time.Duration // Mono of the first Tick
	ticks bool

	state *crdt.State
	clock *trustedtime.Clock
	sel   *schedule.Selector
	cat   catalogView

	sched   syncSchedule
	syncing bool
	sync    syncStatus

	blobs blobState
	mesh  meshState
	play  playState
	ovr   overrideState

	out      Ready
	counters Counters
	lastSnap time.Duration
	dirty    bool
}

// New returns a core for cfg. It does not start anything: the driver calls Tick.
func New(cfg Config) (*Core, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st, err := crdt.NewState(crdt.DefaultConfig(cfg.Device, cfg.Tenant))
	if err != nil {
		return nil, err
	}
	clk, err := trustedtime.New(cfg.Time, cfg.TimeState)
	if err != nil {
		return nil, err
	}
	c := &Core{
		cfg:   cfg,
		rnd:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6c6f6d757a)),
		state: st,
		clock: clk,
		sched: syncSchedule{Interval: cfg.SyncInterval, Jitter: cfg.SyncJitter, BackoffMin: cfg.BackoffMin,
			BackoffMax: cfg.BackoffMax},
	}
	c.cat.init()
	c.blobs.init()
	c.mesh.init()
	if err := c.newSelector(cfg.TimeZone); err != nil {
		return nil, err
	}
	if err := c.sel.SetHistory(cfg.History); err != nil {
		c.logf(slog.LevelWarn, "play history not restored", "err", err)
	}
	return c, nil
}

// newSelector (re)builds the selector for the store's time zone from the catalog view and the present blobs.
func (c *Core) newSelector(tz string) error {
	sc := c.cfg.Schedule
	sc.Store = schedule.StoreSettings{StoreID: c.cfg.Store, TimeZone: tz}
	sc.Zone = c.cfg.Zone
	sc.Rand = rand.NewPCG(c.cfg.Seed, c.cfg.Seed^0x73656c)
	sel, err := schedule.NewSelector(sc)
	if err != nil {
		return err
	}
	var hist *schedule.History
	if c.sel != nil {
		h := c.sel.History()
		hist = &h
	}
	c.sel = sel
	c.cat.replay(sel)
	for sha := range c.blobs.present {
		sel.SetPresent(sha, true)
	}
	if hist != nil {
		_ = sel.SetHistory(*hist)
	}
	return nil
}

// State exposes the shared state read-only (status pages, the simulator's invariants, tests).
func (c *Core) State() *crdt.State { return c.state }

// Interval is the trusted-time interval at the last Tick.
func (c *Core) Interval() trustedtime.Interval { return c.clock.Interval(c.reading()) }

func (c *Core) reading() trustedtime.Reading {
	return trustedtime.Reading{Wall: c.now.Wall, Mono: c.now.Mono}
}

// trustedMS is trusted "now" in unix milliseconds, for stamps (HLC, progress, play events).
func (c *Core) trustedMS() int64 { return c.Interval().Now().UnixMilli() }

// Tick advances the core to now and runs whatever is due: sync, downloads, gossip, playback.
func (c *Core) Tick(now Instant) {
	if now.Mono < c.now.Mono {
		now.Mono = c.now.Mono // a driver bug must not make time run backwards inside the core
	}
	c.now = now
	if !c.ticks {
		c.ticks, c.boot = true, now.Mono
		c.sched.syncNow(now.Mono)
		c.lastSnap = now.Mono
		// Inventory counters of this life start above any of a previous life (restored from a possibly older
		// snapshot): trusted time in microseconds only grows across boots.
		if t := c.Interval().Now(); t.Unix() > 0 {
			c.state.AdvanceInventory(uint64(t.UnixMicro()))
		}
	}
	c.tickSync()
	c.tickBlobs()
	c.tickGossip()
	c.tickOverride()
	c.tickPlay()
	if c.dirty && (c.sync.snapshotNow || now.Mono-c.lastSnap >= c.cfg.SnapshotEvery) {
		c.out.Snapshot, c.dirty, c.lastSnap, c.sync.snapshotNow = true, false, now.Mono, false
	}
}

// Step feeds one event. Time is that of the last Tick.
func (c *Core) Step(ev Event) {
	switch e := ev.(type) {
	case SyncResult:
		c.onSync(e)
	case FetchResult:
		c.onFetch(e)
	case FetchProgress:
		c.onFetchProgress(e)
	case BlobLost:
		c.onBlobLost(e)
	case BlobsPresent:
		for _, sha := range e.SHA256 {
			c.setPresent(sha, true)
		}
	case GossipReceived:
		c.onGossip(e)
	case MembersChanged:
		c.mesh.setLive(e.Live)
	case SyncRequested:
		c.sched.syncNow(c.now.Mono)
		c.logf(levelInfo, "sync requested")
	case AudioEvent:
		c.onAudio(e)
	default:
		c.logf(slog.LevelError, "unknown event", "type", fmt.Sprintf("%T", ev))
	}
}

// Ready returns the effects accumulated since the last call and clears them. NextTick is always set.
func (c *Core) Ready() Ready {
	r := c.out
	c.out = Ready{}
	r.NextTick = c.nextTick()
	return r
}

// nextTick is the latest instant the core needs to be ticked again.
func (c *Core) nextTick() time.Duration {
	next := c.now.Mono + c.cfg.GossipInterval
	if !c.syncing && !c.sync.revoked {
		next = min(next, max(c.sched.nextAt(), c.now.Mono))
	}
	if t, ok := c.playDeadline(); ok {
		next = min(next, max(t, c.now.Mono))
	}
	if t, ok := c.overrideDeadline(); ok {
		next = min(next, max(t, c.now.Mono))
	}
	return next
}

func (c *Core) logf(level slog.Level, msg string, attrs ...any) {
	if level >= slog.LevelWarn {
		c.counters.Warnings++
	}
	c.out.Logs = append(c.out.Logs, Log{Level: level, Msg: msg, Attrs: attrs})
}

// markDirty notes that the shared state changed and should be snapshotted.
func (c *Core) markDirty() { c.dirty = true }

// Snapshot encodes the whole shared state, for the driver to save; Restore loads it back at boot.
func (c *Core) Snapshot() ([]byte, error) { return crdt.EncodeDelta(c.state.DeltaFor(crdt.Summary{})) }

// Restore merges a saved snapshot (and, through the same path, this node's persisted play events) at boot.
func (c *Core) Restore(snapshot []byte) error {
	d, err := crdt.DecodeDelta(snapshot)
	if err != nil {
		return err
	}
	ch, err := c.state.Merge(d, c.verifyRecord, c.verifyTime)
	if err != nil {
		return err
	}
	c.afterMerge(ch)
	return nil
}

// RestorePlays re-enters this node's own persisted play events (the durable outbox) after a crash that happened
// between a play and the next snapshot.
func (c *Core) RestorePlays(evs []crdt.PlayEvent) error {
	if len(evs) == 0 {
		return nil
	}
	d := crdt.Delta{Tenant: c.cfg.Tenant, Plays: []crdt.PlayDelta{{Node: c.cfg.Device, Events: evs}}}
	ch, err := c.state.Merge(d, c.verifyRecord, c.verifyTime)
	if err != nil {
		return err
	}
	c.afterMerge(ch)
	return nil
}

func (c *Core) verifyRecord(r crdt.Record) bool {
	return ed25519.Verify(c.cfg.OriginKey, r.SigningBytes(), r.Sig)
}

func (c *Core) verifyTime(t crdt.SignedTime) bool {
	return ed25519.Verify(c.cfg.OriginKey, t.SigningBytes(), t.Sig)
}
