package node

import (
	"slices"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

// meshState is what the core knows of the LAN: the live peers, and what it already told them.
type meshState struct {
	live     map[string]bool
	list     []string // sorted live peers
	lastSent *crdt.Summary
	pending  bool // local state changed since the last broadcast
	lastAt   time.Duration
}

func (m *meshState) init() { m.live = map[string]bool{} }

func (m *meshState) setLive(ids []string) {
	m.live = make(map[string]bool, len(ids))
	m.list = m.list[:0]
	for _, id := range ids {
		if !m.live[id] {
			m.live[id] = true
			m.list = append(m.list, id)
		}
	}
	slices.Sort(m.list)
}

func (m *meshState) liveList() []string { return m.list }

// gossipDirty notes a local change to broadcast at the next gossip round.
func (c *Core) gossipDirty() { c.mesh.pending = true }

// tickGossip broadcasts what this replica gained since its last broadcast, cut into payloads of GossipBudget bytes.
// What came from peers is not re-broadcast (the gossip layer already spreads every payload epidemically): the
// baseline is moved past merged deltas in onGossip. What does not fit a packet (a record larger than the budget) or
// exceeds GossipMaxParts goes to every live peer directly over a reliable stream: left to anti-entropy, a change
// reaches a store of 50 nodes only after minutes of push/pull rounds.
func (c *Core) tickGossip() {
	if !c.mesh.pending || c.now.Mono-c.mesh.lastAt < c.cfg.GossipInterval {
		return
	}
	c.flushGossip()
}

func (c *Core) flushGossip() {
	// Alone, nothing is sent and the baseline stays: what this node learns before its first peer appears (the boot's
	// first sync) goes out with its first broadcast instead of waiting for push/pull.
	if !c.mesh.pending || len(c.mesh.list) == 0 {
		return
	}
	c.mesh.pending = false
	c.mesh.lastAt = c.now.Mono
	var base crdt.Summary
	if c.mesh.lastSent != nil {
		base = *c.mesh.lastSent
	}
	d := c.state.DeltaFor(base)
	sum := c.state.Summary()
	c.mesh.lastSent = &sum
	if d.Empty() {
		return
	}
	parts, rest, err := crdt.Split(d, c.cfg.GossipBudget)
	if err != nil {
		c.logf(levelError, "gossip split failed", "err", err)
		return
	}
	var direct []crdt.Delta
	if len(parts) > c.cfg.GossipMaxParts || !rest.Empty() {
		// Too much for gossip: all of it goes directly, in parts of directBudget (a whole state after a boot is a
		// few of them, not thousands of packet-sized streams).
		if parts, rest, err = crdt.Split(d, directBudget); err != nil {
			c.logf(levelError, "gossip split failed", "err", err)
			return
		}
		direct, parts = parts, nil
		if !rest.Empty() {
			direct = append(direct, rest)
		}
	}
	for _, p := range parts {
		if b, ok := c.encodeGossip(p); ok {
			c.out.Broadcast = append(c.out.Broadcast, b)
			c.counters.GossipSent++
		}
	}
	for _, p := range direct {
		if b, ok := c.encodeGossip(p); ok {
			c.out.Direct = append(c.out.Direct, b)
			c.counters.GossipDirect++
		}
	}
}

// directBudget is the size of one direct message: well under push/pull's bound, large enough that a store's whole
// state takes a handful.
const directBudget = 1 << 20

func (c *Core) encodeGossip(d crdt.Delta) ([]byte, bool) {
	b, err := crdt.EncodeDelta(d)
	if err != nil {
		// Over the delta bound: anti-entropy carries it (the snapshot path has its own bound).
		c.counters.GossipDeferred++
		c.logf(levelWarn, "gossip payload not sent; left to anti-entropy", "err", err)
		return nil, false
	}
	return b, true
}

// onGossip merges a peer's payload (a broadcast part or a whole push/pull state).
func (c *Core) onGossip(e GossipReceived) {
	d, err := crdt.DecodeDelta(e.Payload)
	if err != nil {
		c.counters.GossipRejected++
		c.logf(levelWarn, "gossip payload rejected", "from", e.From, "err", err)
		return
	}
	// Own changes go out first, so moving the baseline past the merge below cannot swallow them.
	c.flushGossip()
	ch, err := c.state.Merge(d, c.verifyRecord, c.verifyTime)
	if err != nil {
		c.counters.GossipRejected++
		c.logf(levelWarn, "gossip delta rejected", "from", e.From, "err", err)
		return
	}
	c.counters.GossipReceived++
	if ch.Rejected > 0 {
		c.counters.RecordsRejected += ch.Rejected
		c.logf(levelWarn, "peer sent records or times that do not verify", "from", e.From, "count", ch.Rejected)
	}
	c.afterMerge(ch)
	if c.mesh.lastSent != nil {
		sum := c.state.Summary()
		if ch.Reissued > 0 {
			// Own items written anew by the merge are this node's news: the next broadcast carries them.
			sum.Inventory[c.cfg.Device] = min(sum.Inventory[c.cfg.Device], ch.Reissued-1)
		}
		c.mesh.lastSent = &sum
	}
	if ch.Reissued > 0 {
		c.gossipDirty()
	}
	c.reassertOwnBlobs(ch.Blobs) // after the baseline moved: these writes are news too
}

// afterMerge reacts to what a merge (gossip, push/pull, snapshot) changed.
func (c *Core) afterMerge(ch crdt.Changes) {
	if len(ch.Records) > 0 {
		c.applyRecords(ch.Records)
		c.cat.changed = true
		c.markDirty()
	}
	if ch.Removed > 0 {
		c.rebuildFromState()
		c.markDirty()
	}
	if len(ch.Records) > 0 || ch.Removed > 0 {
		c.cat.changedAt = c.Interval().Now()
	}
	if ch.TimeFloor {
		c.clock.ObserveRelayed(timeFromMS(ch.NewFloor.UnixMilli), c.now.Mono)
		ts := c.clock.State(c.reading())
		c.out.Time = &ts
	}
	if ch.Plays > 0 || len(ch.Acks) > 0 {
		c.markDirty()
		if a := c.state.PlayLog().Acked(c.cfg.Device); a.Seq > 0 {
			c.out.PersistAcked = max(c.out.PersistAcked, a.Seq)
		}
	}
	c.observeBlobs(ch.Blobs)
}

// AntiEntropy returns the whole state encoded, for a push/pull exchange (memberlist's LocalState). The peer merges
// it through GossipReceived.
func (c *Core) AntiEntropy() ([]byte, error) { return c.Snapshot() }
