package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/node"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

// disk is what a node's Runner would have made durable: it survives a crash; what was not written is lost.
type disk struct {
	plays    []crdt.PlayEvent // the proof-of-play outbox, unacknowledged events
	snapshot []byte
	history  *schedule.History
	time     *trustedtime.State
	full     bool // writes of snapshot, history and time fail (ENOSPC); the outbox is a few hundred bytes per play
	// in a database with its own reserved space, modelled as still accepting appends.
	failedWrites int
	// cache: verified blobs, and bytes of partial downloads kept for resuming.
	cache   map[string]bool
	partial map[string]int64
}

// simNode is one device: the real node core, and the simulated parts around it.
type simNode struct {
	w     *world
	store *simStore
	idx   int
	name  string
	id    string
	zone  string
	enr   api.EnrollResponse
	cl    *api.Client

	core   *node.Core
	up     bool
	gen    uint64        // incremented at every crash: stale events of an earlier life are ignored
	bootAt time.Duration // virtual time of this boot
	tickAt time.Duration // the pending tick event's time, or -1
	side   int           // partition side; nodes talk only to nodes on the same side
	seen   []string      // last live set handed to the core

	// Clock: the wall clock reads true time + skew + drift since driftFrom.
	skew      time.Duration
	driftPPM  float64
	driftFrom time.Duration

	disk    disk
	fetches map[string]*transfer

	// Audio sink.
	playing    *node.PlayCommand
	playingEnd time.Duration
	queued     *node.PlayCommand
	audioGen   uint64

	badBytes  bool   // malicious: serves bad bytes to peers
	wasBad    bool   // has served bad bytes in this run
	replay    bool   // malicious: gossips an old, partly forged state
	firstSnap []byte // the state it captured early, for replay
	lastW     uint64 // catalog watermark and state hash after the last step, for convergence timing
	lastHash  string
}

func newNode(w *world, st *simStore, idx int, enr api.EnrollResponse, cl *api.Client) *simNode {
	return &simNode{w: w, store: st, idx: idx, name: fmt.Sprintf("s%02dn%02d", st.idx, idx), id: enr.DeviceID,
		zone: enr.ZoneID, enr: enr, cl: cl, tickAt: -1,
		disk:    disk{cache: map[string]bool{}, partial: map[string]int64{}},
		fetches: map[string]*transfer{}}
}

// mono is the node's monotonic clock: it restarts at every boot (from one second, as a fresh process would read).
func (n *simNode) mono() time.Duration { return n.w.now - n.bootAt + time.Second }

// toVirtual converts a monotonic reading of this boot to virtual time.
func (n *simNode) toVirtual(mono time.Duration) time.Duration { return mono - time.Second + n.bootAt }

func (n *simNode) wall() time.Time {
	t := n.w.trueTime().Add(n.skew)
	if n.driftPPM != 0 {
		t = t.Add(time.Duration(float64(n.w.now-n.driftFrom) * n.driftPPM / 1e6))
	}
	return t
}

func (n *simNode) instant() node.Instant { return node.Instant{Mono: n.mono(), Wall: n.wall()} }

// boot starts a core from what is on disk, as `lomuz node` does after a restart.
func (n *simNode) boot() error {
	cfg := node.DefaultConfig()
	cfg.Device, cfg.Tenant, cfg.Store, cfg.Zone = n.id, n.enr.TenantID, n.enr.StoreID, n.enr.ZoneID
	cfg.TimeZone, cfg.OriginKey, cfg.AppVersion = n.enr.TimeZone, n.enr.OriginPublicKey, "sim"
	cfg.Seed = subSeed(n.w.opts.Seed, fmt.Sprintf("core/%s/%d", n.name, n.gen))
	cfg.AssetHook = n.w.opts.AssetHook
	if n.disk.time != nil {
		cfg.TimeState = *n.disk.time
	}
	if n.disk.history != nil {
		cfg.History = *n.disk.history
	}
	core, err := node.New(cfg)
	if err != nil {
		return err
	}
	n.core, n.up, n.bootAt, n.tickAt = core, true, n.w.now, -1
	n.playing, n.queued = nil, nil
	n.audioGen++
	// Runner's order: restore the state and the outbox, report the cache, then the first Tick.
	if n.disk.snapshot != nil {
		if err := core.Restore(n.disk.snapshot); err != nil {
			n.w.tracef("%s snapshot unreadable at boot: %v", n.name, err)
		}
	}
	if err := core.RestorePlays(n.disk.plays); err != nil {
		return fmt.Errorf("%s: play outbox: %w", n.name, err)
	}
	var held []string
	for sha := range n.disk.cache {
		held = append(held, sha)
	}
	slices.Sort(held)
	core.Step(node.BlobsPresent{SHA256: held})
	core.Tick(n.instant())
	n.w.tracef("%s boot gen %d (%d blobs, %d outbox)", n.name, n.gen, len(held), len(n.disk.plays))
	n.seen = nil
	n.store.announce(n)
	n.store.joined(n)
	n.handle()
	return nil
}

// crash stops the node: everything in memory is gone, the disk stays (a torn write spoils the snapshot).
func (n *simNode) crash(torn bool) {
	if !n.up {
		return
	}
	n.up = false
	n.gen++
	n.core = nil
	for sha, f := range n.fetches {
		f.cancel()
		delete(n.fetches, sha)
	}
	n.playing, n.queued = nil, nil
	if torn && len(n.disk.snapshot) > 0 {
		n.disk.snapshot = n.disk.snapshot[:len(n.disk.snapshot)/2]
	}
	n.w.tracef("%s crash torn=%v", n.name, torn)
	n.store.membershipSoon()
}

// tick advances the core to now and performs what it asks.
func (n *simNode) tick() {
	if !n.up {
		return
	}
	n.core.Tick(n.instant())
	n.handle()
}

// step feeds ev at the current instant.
func (n *simNode) step(ev node.Event) {
	if !n.up {
		return
	}
	n.core.Tick(n.instant())
	n.core.Step(ev)
	n.handle()
}

// handle performs the core's effects in Ready's order.
func (n *simNode) handle() {
	w := n.w
	r := n.core.Ready()
	for _, ev := range r.PersistPlays {
		n.disk.plays = append(n.disk.plays, ev)
		w.met.persisted(n, ev)
		w.tracef("%s play seq %d %s %s", n.name, ev.Seq, w.assetName(ev.AssetID), ev.Fallback)
	}
	if r.PersistAcked > 0 {
		n.disk.plays = slices.DeleteFunc(n.disk.plays, func(e crdt.PlayEvent) bool { return e.Seq <= r.PersistAcked })
	}
	if r.Snapshot || r.PersistAcked > 0 {
		if n.disk.full {
			n.disk.failedWrites++
		} else if b, err := n.core.Snapshot(); err != nil {
			w.violate(n, RuleState, "snapshot: %v", err)
		} else {
			n.disk.snapshot = b
		}
	}
	if r.History != nil {
		if n.disk.full {
			n.disk.failedWrites++
		} else {
			h := cloneHistory(*r.History)
			n.disk.history = &h
		}
	}
	if r.Time != nil {
		if n.disk.full {
			n.disk.failedWrites++
		} else {
			t := *r.Time
			n.disk.time = &t
		}
	}
	for _, cmd := range r.Audio {
		n.audio(cmd)
	}
	if r.Sync != nil {
		n.sync(*r.Sync)
	}
	for _, sha := range r.Cancels {
		if f := n.fetches[sha]; f != nil {
			f.cancel()
			delete(n.fetches, sha)
		}
	}
	for _, f := range r.Fetches {
		n.fetch(f)
	}
	for _, b := range r.Broadcast {
		n.store.broadcast(n, b)
	}
	for _, b := range r.Direct {
		n.store.direct(n, b)
	}
	for _, l := range r.Logs {
		if l.Level >= 8 { // slog.LevelError
			w.tracef("%s error: %s %v", n.name, l.Msg, l.Attrs)
		}
	}
	if n.firstSnap == nil && n.core.State().Catalog().Watermark() > 0 {
		n.firstSnap, _ = n.core.Snapshot()
	}
	cat := n.core.State().Catalog()
	if h := cat.StateHash(); cat.Watermark() != n.lastW || h.Hex() != n.lastHash {
		n.lastW, n.lastHash = cat.Watermark(), h.Hex()
		n.store.catalogChanged(n, n.lastW, n.lastHash)
	}
	n.scheduleTick(n.toVirtual(r.NextTick))
}

// cloneHistory copies a history through its JSON form, as the disk would hold it.
func cloneHistory(h schedule.History) schedule.History {
	b, err := json.Marshal(h)
	if err != nil {
		return h
	}
	var out schedule.History
	if json.Unmarshal(b, &out) != nil {
		return h
	}
	return out
}

func (n *simNode) scheduleTick(at time.Duration) {
	at = max(at, n.w.now)
	if n.tickAt >= 0 && n.tickAt <= at {
		return
	}
	n.tickAt = at
	gen := n.gen
	n.w.at(at, func() {
		if n.gen != gen || n.tickAt != at {
			return
		}
		n.tickAt = -1
		n.tick()
	})
}

// sync sends the request to origin across the store's uplink, unless the uplink or origin is down.
func (n *simNode) sync(req api.SyncRequest) {
	w, gen := n.w, n.gen
	lat := w.sc.Topology.Uplink.Latency
	sent := n.mono()
	done := func(res node.SyncResult) {
		w.after(lat, func() {
			if n.gen != gen {
				return
			}
			res.Sent, res.Recv = sent, n.mono()
			if res.Err != nil {
				w.tracef("%s sync failed: %v", n.name, res.Err)
			} else {
				w.tracef("%s sync rev %d (%d records, %d downloads)", n.name, res.Manifest.Revision,
					len(res.Manifest.Records), len(res.Manifest.Downloads))
			}
			n.step(res)
		})
	}
	switch {
	case n.store.uplinkDown:
		w.after(lat+10*time.Second, func() { // the connect attempt times out
			if n.gen == gen {
				n.step(node.SyncResult{Err: errors.New("sim: uplink down"), Sent: sent, Recv: n.mono()})
			}
		})
		return
	case w.originDown:
		w.after(lat, func() { done(node.SyncResult{Err: errors.New("sim: origin unreachable")}) })
		return
	case w.origin5xx > 0:
		ra := w.origin5xx
		w.after(lat, func() {
			done(node.SyncResult{Err: &api.Problem{Status: 503, Type: api.ProblemOverloaded, Title: "overloaded",
				RetryAfter: int(ra.Seconds())}, RetryAfter: ra})
		})
		return
	}
	w.after(lat, func() {
		if n.gen != gen {
			return
		}
		m, err := n.cl.Sync(w.ctx, req)
		res := node.SyncResult{Manifest: m, Err: err}
		var p *api.Problem
		if errors.As(err, &p) {
			res.RetryAfter = time.Duration(p.RetryAfter) * time.Second
			res.Revoked = p.Type == api.ProblemGone
		}
		if err == nil {
			w.met.manifest(m)
		}
		done(res)
	})
}
