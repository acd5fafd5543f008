package node

import (
	"errors"
	"log/slog"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/trustedtime"
)

const (
	levelInfo  = slog.LevelInfo
	levelWarn  = slog.LevelWarn
	levelError = slog.LevelError
)

// maxMissingReported bounds the missing blobs listed in one sync request (api.MaxMissing is the hard limit).
const maxMissingReported = 100

type syncStatus struct {
	okAt    time.Duration // monotonic time of the last successful sync; 0 never
	upSince time.Duration // when the current run of fresh syncs began (see uplinkedNodes)
	// sentClock is the clock verdict in the status of the sync in flight: origin's answer can change it (the
	// first sync of a boot is what proves a wall clock wrong), and the fleet view must not wait 10 min for it.
	sentClock string
	okWall    time.Time // trusted time of it, for status
	lastErr   string
	revoked   bool
	needFull  bool // the state hash disagreed: ask for everything
	// mesh is the store's mesh key as origin last sent it in this life (nil: not yet: the first sync asks for it);
	// wantMesh asks again, after a peer's device list showed a revocation.
	mesh     *api.Mesh
	wantMesh bool
	// devicesRev and devices are the revision of the store's device list and its device ids as of this node's
	// last successful sync (or the last list checked since).
	devicesRev uint64
	devices    map[string]bool
	// snapshotNow skips the snapshot debounce once: the catalog changed from origin. The snapshot is also what
	// peers get by push/pull (the only way a record too large for a gossip packet spreads), so a new device's
	// key list, or a revocation, must not wait SnapshotEvery to leave the node that synced it.
	snapshotNow bool
}

// devicesRev returns the revision of the store's device-key list held here (0: none).
func (c *Core) devicesRev() uint64 {
	r, _ := c.state.Catalog().Get("devices/" + c.cfg.Store)
	return r.Rev
}

// deviceSet returns the ids of the store's device list held here.
func (c *Core) deviceSet() map[string]bool {
	m := make(map[string]bool, len(c.cat.devices.Devices))
	for _, d := range c.cat.devices.Devices {
		m[d.DeviceID] = true
	}
	return m
}

// deviceRevokedOnPeer reports, once per new device list, whether a list newer than the last sync came from a
// peer and lacks a device the synced one had: origin revoked it, and rotated the mesh key with it.
func (c *Core) deviceRevokedOnPeer() bool {
	rev := c.devicesRev()
	if c.sync.okAt == 0 || rev <= c.sync.devicesRev {
		return false
	}
	c.sync.devicesRev = rev
	now := c.deviceSet()
	gone := false
	for id := range c.sync.devices {
		gone = gone || !now[id]
	}
	c.sync.devices = now
	return gone
}

func (c *Core) tickSync() {
	if c.syncing || c.sync.revoked {
		return
	}
	// A peer synced a revocation first: sync now for the rotated mesh key. The peers that have it drop the old
	// one after LANMeshConfig.KeyGrace, and a node still on the old key would be shut out of gossip with the
	// revoked device until its next periodic sync, minutes later. Once per list, so an unreachable origin is not
	// asked sooner than its backoff allows more than once.
	if c.deviceRevokedOnPeer() {
		c.sync.wantMesh = true
		c.sched.syncNow(c.now.Mono)
		c.logf(levelInfo, "a device was revoked on a peer's word: syncing for the new mesh key")
	}
	if !c.sched.due(c.now.Mono) {
		return
	}
	c.syncing = true
	req := &api.SyncRequest{AppVersion: c.cfg.AppVersion, WantMesh: c.sync.mesh == nil || c.sync.wantMesh}
	if !c.sync.needFull {
		req.Revision = c.state.Catalog().Watermark()
		if req.Revision > 0 {
			h := c.state.Catalog().StateHash()
			req.StateHash = h.Hex()
		}
	}
	req.Inventory.CachedAssets = len(c.blobs.present)
	for sha := range c.blobs.present {
		if n := c.blobs.needs[sha]; n != nil {
			req.Inventory.CachedBytes += n.size
		}
	}
	for _, sha := range c.blobs.order {
		if len(req.Inventory.Missing) >= maxMissingReported {
			break
		}
		if !c.blobs.present[sha] {
			req.Inventory.Missing = append(req.Inventory.Missing, sha)
		}
	}
	req.PlayEvents = c.pendingPlayEvents()
	req.Status = c.deviceStatus()
	c.sync.sentClock = req.Status.ClockProblem
	c.out.Sync = req
}

// statusHorizon bounds the coverage look-ahead reported with each sync: a day of planning is cheap enough for every
// sync (and for the simulator's thousands of nodes), and a day is what an operator acts on.
const statusHorizon = 24 * time.Hour

// deviceStatus is the node's report about itself for origin's fleet view. FreeDiskBytes is filled in by Run.
func (c *Core) deviceStatus() *api.DeviceStatus {
	iv := c.Interval()
	st := &api.DeviceStatus{DeadAir: c.counters.DeadAir, DecodeFailures: c.counters.DecodeFailures, FreeDiskBytes: -1,
		PendingPlays: len(c.state.PlayLog().Pending(c.cfg.Device)), MutedByOverride: c.muted()}
	if t := c.play.current; t != nil {
		st.NowPlayingAssetID, st.NowPlayingTitle = t.choice.Asset.ID, clipName(t.choice.Asset.Title)
		st.Fallback = levelString(t.choice.Level)
	}
	if cs := iv.Status(); cs.Problem != trustedtime.OK {
		st.ClockProblem, st.ClockOffsetMS = clockProblem(cs), cs.Offset.Milliseconds()
	}
	now := iv.Now()
	covered := c.coveredUntilWithin(now, statusHorizon)
	st.CoveredUntil = &covered
	return st
}

// clipName keeps a title within the API's name bound.
func clipName(s string) string {
	if len(s) > api.MaxNameLen {
		return s[:api.MaxNameLen]
	}
	return s
}

// pendingPlayEvents lists unacknowledged play events of every node of the store, oldest first per node: any node
// with an uplink delivers the store's proof of play.
func (c *Core) pendingPlayEvents() []api.PlayEvent {
	var out []api.PlayEvent
	pl := c.state.PlayLog()
	for _, n := range pl.Nodes() {
		for _, ev := range pl.Pending(n) {
			if len(out) >= c.cfg.MaxUploadEvents {
				return out
			}
			out = append(out, api.PlayEvent{DeviceID: ev.Node, Seq: ev.Seq, AssetID: ev.AssetID, ZoneID: ev.Zone,
				StartedAt: time.UnixMilli(ev.StartedAt).UTC(), DurationMS: ev.DurationMS, Fallback: ev.Fallback})
		}
	}
	return out
}

func (c *Core) onSync(r SyncResult) {
	c.syncing = false
	c.counters.Syncs++
	switch {
	case r.Revoked:
		c.sync.revoked = true
		c.sync.lastErr = "device revoked by origin"
		c.logf(levelError, "origin revoked this device: syncing stops, playback goes on with what is cached")
		return
	case r.Err != nil || r.Manifest == nil:
		err := r.Err
		if err == nil {
			err = errors.New("empty answer")
		}
		c.syncFailed(err.Error(), r.RetryAfter)
		return
	}
	m := r.Manifest
	if m.TenantID != c.cfg.Tenant || (m.DeviceID != "" && m.DeviceID != c.cfg.Device) {
		c.syncFailed("manifest for another tenant or device", 0)
		return
	}
	st := crdt.SignedTime{UnixMilli: m.Time.UnixMS, Sig: m.Time.Sig}
	if !c.verifyTime(st) {
		c.syncFailed("origin time signature does not verify", 0)
		return
	}
	recs := make([]crdt.Record, 0, len(m.Records)+len(m.Tombstones))
	for _, lists := range [][]api.Record{m.Records, m.Tombstones} {
		for _, w := range lists {
			recs = append(recs, crdt.Record{Key: w.Key, Tenant: w.Tenant, Rev: w.Rev, Deleted: w.Deleted,
				Body: []byte(w.Body), Sig: w.Sig})
		}
	}
	from := c.state.Catalog().Watermark()
	if c.sync.needFull {
		from = 0
	}
	ch, err := c.state.ApplyOrigin(crdt.OriginUpdate{From: from, To: m.Revision, Full: m.Full, Records: recs},
		c.verifyRecord)
	if err != nil {
		// Rejected whole: the previous catalog stays, and the next sync asks again.
		c.counters.ManifestsRejected++
		c.syncFailed("manifest rejected: "+err.Error(), 0)
		return
	}
	if err := c.clock.ObserveSync(time.UnixMilli(st.UnixMilli), r.Sent, r.Recv); err != nil {
		c.logf(levelWarn, "origin time sample discarded", "err", err)
	}
	if c.state.ObserveTime(st, c.verifyTime) {
		c.gossipDirty()
	}
	ts := c.clock.State(c.reading())
	c.out.Time = &ts
	c.afterOrigin(ch)
	for _, d := range m.Downloads {
		if d.URL != "" {
			c.blobs.urls[d.SHA256] = d.URL
		}
	}
	if c.applyAcks(m.Acks) {
		c.gossipDirty()
		c.markDirty()
	}
	if m.Mesh != nil {
		c.sync.wantMesh = false
	}
	if m.Mesh != nil && (c.sync.mesh == nil || m.Mesh.Epoch != c.sync.mesh.Epoch) {
		mesh := *m.Mesh
		c.sync.mesh = &mesh
		c.out.Mesh = &mesh
	}
	h := c.state.Catalog().StateHash()
	c.sync.needFull = m.StateHash != "" && h.Hex() != m.StateHash
	if !c.uplinkFresh() {
		c.sync.upSince = c.now.Mono
	}
	c.sync.okAt, c.sync.okWall, c.sync.lastErr = c.now.Mono, c.Interval().Now(), ""
	c.sync.devicesRev, c.sync.devices = c.devicesRev(), c.deviceSet()
	if c.sync.needFull {
		c.counters.FullResyncs++
		c.logf(levelWarn, "catalog state hash differs from origin's: asking for a full resync")
		c.sched.syncNow(c.now.Mono)
		return
	}
	c.sched.succeeded(c.now.Mono, c.rnd)
	if cs := c.Interval().Status(); clockProblem(cs) != c.sync.sentClock {
		// The answer changed the verdict the status just carried: tell origin soon, once (the follow-up carries
		// the new verdict, so it does not schedule another unless the verdict moves again).
		c.sched.soon(c.now.Mono, statusFollowUp)
	}
}

// statusFollowUp is how soon a sync that changed the clock verdict is followed by one that reports it.
const statusFollowUp = 15 * time.Second

func clockProblem(cs trustedtime.Status) string {
	if cs.Problem == trustedtime.OK {
		return ""
	}
	return cs.Problem.String()
}

// applyAcks turns origin's acks into ack watermarks and reports whether any rose. Origin acknowledges each event
// it stored, not a prefix: a relayed log may reach it with holes (events a peer had not yet gossiped here), and
// taking the highest ack as the watermark would prune the missing events on every replica, the recording node's
// outbox included, before any copy reached origin. So a node's watermark only moves through consecutive acked
// sequence numbers above the watermark already held here.
func (c *Core) applyAcks(acks []api.PlayAck) bool {
	got := map[string]map[uint64]bool{}
	var devs []string // in origin's order, so logs stay deterministic
	for _, a := range acks {
		if got[a.DeviceID] == nil {
			got[a.DeviceID] = map[uint64]bool{}
			devs = append(devs, a.DeviceID)
		}
		got[a.DeviceID][a.Seq] = true
	}
	rose := false
	for _, dev := range devs {
		seqs := got[dev]
		from := c.state.PlayLog().Acked(dev).Seq
		to := from
		for seqs[to+1] {
			to++
		}
		if to == from {
			continue
		}
		if err := c.state.AckPlays(dev, to); err != nil {
			c.logf(levelWarn, "play ack not applied", "device", dev, "seq", to, "err", err)
			continue
		}
		rose = true
		if dev == c.cfg.Device {
			c.out.PersistAcked = max(c.out.PersistAcked, to)
		}
	}
	return rose
}

func (c *Core) syncFailed(msg string, retryAfter time.Duration) {
	c.counters.SyncFailures++
	c.sync.lastErr = msg
	c.logf(levelWarn, "sync failed", "err", msg, "retry_after", retryAfter)
	c.sched.failed(c.now.Mono, retryAfter, c.rnd)
}

// afterOrigin reacts to records that came from origin directly.
func (c *Core) afterOrigin(ch crdt.Changes) {
	c.applyRecords(ch.Records)
	if len(ch.Records) > 0 || ch.Removed > 0 {
		c.cat.changed, c.cat.changedAt = true, c.Interval().Now()
		c.gossipDirty()
		c.markDirty()
		c.sync.snapshotNow = true
	}
	if ch.Removed > 0 {
		c.rebuildFromState()
	}
}

// rebuildFromState re-reads the whole catalog after records were dropped wholesale (an origin full resync or a
// peer's reset), since Changes lists what entered, not what left.
func (c *Core) rebuildFromState() {
	c.cat.init()
	c.cat.changed = true
	if err := c.newSelector(c.sel.Location().String()); err != nil {
		c.logf(levelError, "selector rebuild failed", "err", err)
		return
	}
	c.applyRecords(c.state.Catalog().Records(""))
}
