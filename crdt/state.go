package crdt

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Config configures a State.
type Config struct {
	// Self is this node's id: the only inventory, play log and time entry this replica writes.
	Self string
	// Tenant is the chain the store belongs to: records of any other tenant are rejected.
	Tenant string
	// MaxSummaryExtras bounds how many records above the catalog watermark a Summary lists (each ~50 bytes); with
	// more, the peer resends some we hold. 0 means the default.
	MaxSummaryExtras int
	// InventoryTombstones is how many removed-blob tombstones this node keeps in its own inventory entry before
	// compacting them; a peer that missed the compaction then gets the whole entry once. 0 means the default.
	InventoryTombstones int
}

// DefaultConfig returns the defaults for a node of tenant; Self must still be set.
func DefaultConfig(self, tenant string) Config {
	return Config{
		Self:   self,
		Tenant: tenant,
		// 2,000 extras are ~100 KB of summary, far above what a store accumulates between anti-entropy rounds.
		MaxSummaryExtras: 2000,
		// 1,024 tombstones are ~40 KB in this node's entry; a full resend of a 10,000-blob entry is ~400 KB.
		InventoryTombstones: 1024,
	}
}

func (c *Config) validate() error {
	if err := checkID("self", c.Self); err != nil {
		return err
	}
	if err := checkID("tenant", c.Tenant); err != nil {
		return err
	}
	d := DefaultConfig(c.Self, c.Tenant)
	if c.MaxSummaryExtras == 0 {
		c.MaxSummaryExtras = d.MaxSummaryExtras
	}
	if c.InventoryTombstones == 0 {
		c.InventoryTombstones = d.InventoryTombstones
	}
	if c.MaxSummaryExtras < 0 || c.MaxSummaryExtras > maxSummaryExtras {
		return fmt.Errorf("crdt: MaxSummaryExtras %d outside 1..%d", c.MaxSummaryExtras, maxSummaryExtras)
	}
	if c.InventoryTombstones < 0 {
		return fmt.Errorf("crdt: negative InventoryTombstones")
	}
	return nil
}

// State is one node's replica of its store's shared state: catalog, inventory, play log, time floors and zone
// overrides. It is not safe for concurrent use: the node core owns it and calls it from one goroutine. Nothing in
// it blocks, reads the clock or does I/O.
type State struct {
	cfg       Config
	catalog   *Catalog
	inventory *Inventory
	plays     *PlayLog
	times     *TimeFloors
	overrides *Overrides
	clock     HLC
	// life is the counter of this replica's first own inventory write (0: none yet): this node's writes since it
	// started from its snapshot are those at or above it.
	life uint64
}

// NewState returns an empty replica.
func NewState(cfg Config) (*State, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &State{cfg: cfg, catalog: newCatalog(), inventory: newInventory(), plays: newPlayLog(),
		times: newTimeFloors(), overrides: newOverrides()}, nil
}

// Self returns this node's id.
func (s *State) Self() string { return s.cfg.Self }

// Tenant returns the tenant id.
func (s *State) Tenant() string { return s.cfg.Tenant }

// Catalog, Inventory, PlayLog, TimeFloors and Overrides give read access to the parts; change them only through
// State's methods.
func (s *State) Catalog() *Catalog       { return s.catalog }
func (s *State) Inventory() *Inventory   { return s.inventory }
func (s *State) PlayLog() *PlayLog       { return s.plays }
func (s *State) TimeFloors() *TimeFloors { return s.times }
func (s *State) Overrides() *Overrides   { return s.overrides }

// Clock returns a fresh HLC for a local event at trusted time nowMS: after every HLC this replica has seen.
func (s *State) Clock(nowMS int64) HLC {
	s.clock = s.clock.Tick(nowMS)
	return s.clock
}

// Changes says what a merge changed, so the node can react. Fresh is the part of the input that was new here,
// ready to be relayed to other peers (never back to the sender, which has it).
type Changes struct {
	// Records entered the catalog (new keys or newer versions, tombstones included), in input order.
	Records []Record
	// Rejected counts records that failed verification or belonged to another tenant, and times that failed the
	// TimeVerifier. Stale counts records ignored because their deletion was pruned here. Removed counts records
	// dropped by a reset or an origin full resync.
	Rejected, Stale, Removed int
	// Blobs lists inventory items that changed here (any node, own included when learned from a peer).
	Blobs []NodeBlob
	// Plays counts play events that entered; Conflicts counts events that differed from one held at the same seq.
	Plays, Conflicts int
	// Acks lists nodes whose origin ack rose.
	Acks []string
	// TimeFloor is set when the store's newest floor rose; NewFloor is then that floor.
	TimeFloor bool
	NewFloor  SignedTime
	// Overrides lists zones whose override changed, with the winner.
	Overrides []Override
	// Fresh holds what was new here, without coverage or reset claims.
	Fresh Delta
	// Reissued is the counter of the first of this node's own inventory items that the merge wrote anew (0: none),
	// because the peer held writes of an earlier life of this node at the counters it had reused (see mergeOwn).
	// They are this node's writes, to be gossiped like any other.
	Reissued uint64
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool { return c.Fresh.Empty() && c.Removed == 0 }

// SetBlobHeld records that this node holds the blob (hex sha256), verified.
func (s *State) SetBlobHeld(sha string) (bool, error) {
	h, err := ParseSHA256(sha)
	if err != nil {
		return false, err
	}
	return s.writeBlob(BlobItem{SHA: h, State: BlobHeld}), nil
}

// SetBlobFetching records that this node is fetching the blob and has its first bytes bytes, as of trusted time
// nowMS. Call it when progress is worth telling peers (every few hundred KiB or seconds): each call that changes
// something takes a write counter and travels in the next gossip.
func (s *State) SetBlobFetching(sha string, bytes uint64, nowMS int64) (bool, error) {
	h, err := ParseSHA256(sha)
	if err != nil {
		return false, err
	}
	return s.writeBlob(BlobItem{SHA: h, State: BlobFetching, Bytes: bytes, ProgressMS: nowMS}), nil
}

// AdvanceInventory makes this node's next inventory writes take counters above floor. A node calls it at boot with
// a value that only grows across its lives (trusted time in microseconds): a restart from an older snapshot would
// otherwise reuse counters its peers already hold, and incremental deltas would not carry its new writes to them.
// When the value did not grow (a wall clock at 1970 and no trusted time yet) or writes come before it, Merge
// repairs it: it writes this life's items anew once a peer shows the earlier life (Changes.Reissued).
func (s *State) AdvanceInventory(floor uint64) {
	e := s.inventory.entry(s.cfg.Self)
	e.max = max(e.max, floor)
}

// RemoveBlob records that this node neither holds nor fetches the blob any more.
func (s *State) RemoveBlob(sha string) (bool, error) {
	h, err := ParseSHA256(sha)
	if err != nil {
		return false, err
	}
	return s.writeBlob(BlobItem{SHA: h, State: BlobRemoved}), nil
}

func (s *State) writeBlob(it BlobItem) bool {
	it, changed := s.inventory.entry(s.cfg.Self).write(it, s.cfg.InventoryTombstones)
	if changed && s.life == 0 {
		s.life = it.Counter
	}
	return changed
}

// AppendPlay adds one of this node's play events: it sets Node, Seq (the next) and PrevHash (the chain), checks
// the rest, and returns the stored event. The HLC is the caller's (usually Clock(StartedAt)).
func (s *State) AppendPlay(ev PlayEvent) (PlayEvent, error) {
	e := s.plays.entry(s.cfg.Self)
	ev.Node = s.cfg.Self
	ev.Seq, ev.PrevHash = e.tip()
	if err := ev.Validate(); err != nil {
		return PlayEvent{}, err
	}
	e.put(ev)
	s.clock = s.clock.Observe(ev.HLC)
	return ev, nil
}

// AckPlays records origin's ack of node's events up to seq. Every event above the current ack up to seq must be held
// here (the node delivered them all) or already acked: an ack over a hole would prune, on every replica, events
// origin never received. The pruned events leave every replica as the ack spreads.
func (s *State) AckPlays(node string, seq uint64) error {
	e := s.plays.entries[node]
	if e == nil || seq <= e.ack.Seq {
		return nil
	}
	if h := e.have(); h < seq {
		return fmt.Errorf("crdt: ack of %s/%d: events from %d on not held here", clip(node), seq, h+1)
	}
	ev := e.events[seq]
	e.setAck(Ack{Seq: seq, Hash: ev.Hash()})
	return nil
}

// ObserveTime stores a signed time this node received from origin, if it verifies and is newer than its floor.
func (s *State) ObserveTime(st SignedTime, verify TimeVerifier) bool {
	if len(st.Sig) > MaxSigLen || verify == nil || !verify(st) {
		return false
	}
	return s.times.put(s.cfg.Self, st)
}

// SetOverride writes a zone's settings on site at trusted time nowMS, stamped after every HLC seen, so it wins
// over the zone's current value.
func (s *State) SetOverride(zone string, set ZoneSettings, nowMS int64) (Override, error) {
	if cur, ok := s.overrides.Get(zone); ok {
		s.clock = s.clock.Observe(cur.HLC)
	}
	o := Override{Zone: zone, HLC: s.clock.Tick(nowMS), Writer: s.cfg.Self, Settings: set}
	if err := o.Validate(); err != nil {
		return Override{}, err
	}
	s.clock = o.HLC
	s.overrides.put(o)
	return o, nil
}

// ApplyOverride merges an override written elsewhere (a director's change relayed by origin, Writer "origin");
// it reports whether it won.
func (s *State) ApplyOverride(o Override) (bool, error) {
	if err := o.Validate(); err != nil {
		return false, err
	}
	s.clock = s.clock.Observe(o.HLC)
	return s.overrides.put(o), nil
}

// ApplyOrigin merges origin's catalog answer; every record must verify, or nothing changes.
func (s *State) ApplyOrigin(u OriginUpdate, verify Verifier) (Changes, error) {
	var res catalogResult
	if err := s.catalog.applyOrigin(&u, s.cfg.Tenant, verify, &res); err != nil {
		return Changes{}, err
	}
	ch := Changes{Records: res.entered, Removed: res.removed}
	ch.Fresh.Tenant = s.cfg.Tenant
	ch.Fresh.Catalog.Complete = s.catalog.watermark
	ch.Fresh.Catalog.Records = slices.Clone(res.entered)
	slices.SortFunc(ch.Fresh.Catalog.Records, compareRecordOrder)
	return ch, nil
}

// PruneTombstones forgets catalog tombstones of revision <= upTo (capped at the watermark) and returns how many.
// It is always safe; it is cheap for the store when upTo is at or below the lowest watermark among the store's
// nodes (Summary.Catalog.Watermark of each), since a peer behind a forgotten deletion gets a reset (a list of
// every key, 8 bytes each) in its next anti-entropy instead of a small delta.
func (s *State) PruneTombstones(upTo uint64) int { return s.catalog.prune(upTo) }

// Summary says compactly what this replica holds.
type Summary struct {
	Catalog   CatalogSummary
	Inventory VersionVector
	Plays     map[string]PlaySummary
	Times     map[string]int64
	Overrides map[string]OverrideStamp
}

// Summary returns this replica's summary.
func (s *State) Summary() Summary {
	sum := Summary{
		Catalog:   s.catalog.summary(s.cfg.MaxSummaryExtras),
		Inventory: make(VersionVector, len(s.inventory.entries)),
		Plays:     make(map[string]PlaySummary, len(s.plays.entries)),
		Times:     make(map[string]int64, len(s.times.times)),
		Overrides: make(map[string]OverrideStamp, len(s.overrides.zones)),
	}
	for n, e := range s.inventory.entries {
		sum.Inventory[n] = e.version
	}
	for n, e := range s.plays.entries {
		sum.Plays[n] = PlaySummary{Acked: e.ack.Seq, Have: e.have()}
	}
	for n, st := range s.times.times {
		sum.Times[n] = st.UnixMilli
	}
	for z, o := range s.overrides.zones {
		sum.Overrides[z] = o.stamp()
	}
	return sum
}

// Delta is a piece of state to merge into a replica. Every list is sorted (catalog records by (Rev, Key),
// inventory, plays and times by node, overrides by zone), which makes its encoding canonical.
type Delta struct {
	Tenant    string
	Catalog   CatalogDelta
	Inventory []InventoryDelta
	Plays     []PlayDelta
	Times     []NodeTime
	Overrides []Override
}

// Empty reports whether the delta carries nothing.
func (d *Delta) Empty() bool {
	return d.Catalog.empty() && len(d.Inventory) == 0 && len(d.Plays) == 0 && len(d.Times) == 0 && len(d.Overrides) == 0
}

// DeltaFor returns what a replica with summary sum lacks, in size proportional to the difference (plus a reset
// in the rare case described at PruneTombstones). DeltaFor(Summary{}) is the whole state.
func (s *State) DeltaFor(sum Summary) Delta {
	d := Delta{Tenant: s.cfg.Tenant, Catalog: s.catalog.deltaFor(sum.Catalog)}
	for _, n := range s.inventory.Nodes() {
		if id, ok := s.inventory.entries[n].deltaFor(n, sum.Inventory[n]); ok {
			d.Inventory = append(d.Inventory, id)
		}
	}
	for _, n := range s.plays.Nodes() {
		if pd, ok := s.plays.entries[n].deltaFor(n, sum.Plays[n]); ok {
			d.Plays = append(d.Plays, pd)
		}
	}
	for _, n := range s.times.Nodes() {
		st := s.times.times[n]
		if have, ok := sum.Times[n]; !ok || st.UnixMilli > have {
			d.Times = append(d.Times, NodeTime{Node: n, Time: st})
		}
	}
	for _, z := range s.overrides.Zones() {
		o := s.overrides.zones[z]
		if have, ok := sum.Overrides[z]; !ok || o.stamp().compare(have) > 0 {
			d.Overrides = append(d.Overrides, o)
		}
	}
	return d
}

// Merge applies a delta from a peer. verify checks record signatures and verifyTime time signatures; what fails
// them is dropped and counted (nil verifiers reject everything). A delta that fails Validate changes nothing and
// returns the error. Merge is commutative, associative and idempotent: replicas that merged the same deltas, in
// any order and any number of times, hold the same state.
func (s *State) Merge(d Delta, verify Verifier, verifyTime TimeVerifier) (Changes, error) {
	if err := d.Validate(); err != nil {
		return Changes{}, err
	}
	if d.Tenant != s.cfg.Tenant {
		return Changes{}, fmt.Errorf("crdt: delta of tenant %q merged into tenant %q's state", clip(d.Tenant), s.cfg.Tenant)
	}
	ch := Changes{Fresh: Delta{Tenant: s.cfg.Tenant}}

	var res catalogResult
	s.catalog.merge(&d.Catalog, s.cfg.Tenant, verify, &res)
	ch.Records, ch.Rejected, ch.Stale, ch.Removed = res.entered, res.rejected, res.stale, res.removed
	ch.Fresh.Catalog.Records = slices.Clone(res.entered)
	slices.SortFunc(ch.Fresh.Catalog.Records, compareRecordOrder)
	ch.Fresh.Catalog.Complete = s.catalog.watermark // a fact about this replica, the relay's sender

	for i := range d.Inventory {
		id := &d.Inventory[i]
		var fresh []BlobItem
		e := s.inventory.entry(id.Node)
		changed := func(before, after BlobItem) {
			if before.State != after.State || before.Bytes != after.Bytes || before.ProgressMS != after.ProgressMS {
				ch.Blobs = append(ch.Blobs, NodeBlob{Node: id.Node, Item: after})
			}
			if itemWins(after, before) && after.Counter > e.base {
				fresh = append(fresh, after)
			}
		}
		if id.Node == s.cfg.Self {
			ch.Reissued = e.mergeOwn(id, s.life, changed)
		} else {
			e.merge(id, changed)
		}
		if len(fresh) > 0 {
			slices.SortFunc(fresh, compareItems)
			ch.Fresh.Inventory = append(ch.Fresh.Inventory, InventoryDelta{Node: id.Node, Items: fresh})
		}
	}

	for i := range d.Plays {
		pd := &d.Plays[i]
		e := s.plays.entry(pd.Node)
		fresh := PlayDelta{Node: pd.Node}
		if pd.Ack.Seq != 0 && e.setAck(pd.Ack) {
			ch.Acks = append(ch.Acks, pd.Node)
			fresh.Ack = pd.Ack
		}
		for _, ev := range pd.Events {
			entered, conflict := e.put(ev)
			if conflict {
				ch.Conflicts++
			}
			if entered {
				ch.Plays++
				fresh.Events = append(fresh.Events, ev)
				s.clock = s.clock.Observe(ev.HLC)
			}
		}
		if fresh.Ack.Seq != 0 || len(fresh.Events) > 0 {
			ch.Fresh.Plays = append(ch.Fresh.Plays, fresh)
		}
	}

	floor := s.times.Max()
	for _, nt := range d.Times {
		if held, ok := s.times.Get(nt.Node); ok && held.UnixMilli == nt.Time.UnixMilli && bytes.Equal(held.Sig, nt.Time.Sig) {
			continue // the floor this replica already verified and holds: nothing to check or change
		}
		if verifyTime == nil || !verifyTime(nt.Time) {
			ch.Rejected++
			continue
		}
		if s.times.put(nt.Node, nt.Time) {
			ch.Fresh.Times = append(ch.Fresh.Times, nt)
		}
	}
	if nf := s.times.Max(); timeWins(nf, floor) {
		ch.TimeFloor, ch.NewFloor = true, nf
	}

	for _, o := range d.Overrides {
		s.clock = s.clock.Observe(o.HLC)
		if s.overrides.put(o) {
			ch.Overrides = append(ch.Overrides, o)
			ch.Fresh.Overrides = append(ch.Fresh.Overrides, o)
		}
	}
	return ch, nil
}

// Validate checks a delta's shape: ids, bounds, field rules and canonical order. Signatures are checked in Merge.
func (d *Delta) Validate() error {
	if err := checkID("tenant", d.Tenant); err != nil {
		return err
	}
	c := &d.Catalog
	for i, r := range c.Records {
		if err := r.Validate(); err != nil {
			return err
		}
		if r.Tenant != d.Tenant {
			return fmt.Errorf("crdt: record %s of tenant %q in a delta of tenant %q", r.Key, clip(r.Tenant), clip(d.Tenant))
		}
		if i > 0 && compareRecordOrder(c.Records[i-1], r) >= 0 {
			return fmt.Errorf("crdt: catalog records not sorted by (rev, key) at %d", i)
		}
	}
	if i := firstUnsortedKey(c.Records); i >= 0 {
		return fmt.Errorf("crdt: key %s twice in one delta", c.Records[i].Key)
	}
	if len(c.Held) > maxSummaryExtras {
		return fmt.Errorf("crdt: catalog claim names %d held records, limit %d", len(c.Held), maxSummaryExtras)
	}
	for i, kr := range c.Held {
		if err := ValidateKey(kr.Key); err != nil {
			return err
		}
		if i > 0 && c.Held[i-1].Key >= kr.Key {
			return fmt.Errorf("crdt: held records not sorted and unique at %s", kr.Key)
		}
	}
	if (c.Reset && c.Horizon == 0) || (!c.Reset && len(c.Survivors) > 0) {
		return fmt.Errorf("crdt: catalog reset without horizon, or survivors without reset")
	}
	for i := 1; i < len(c.Survivors); i++ {
		if c.Survivors[i-1] >= c.Survivors[i] {
			return fmt.Errorf("crdt: reset survivors not sorted and unique")
		}
	}
	for i, id := range d.Inventory {
		if err := checkID("inventory node", id.Node); err != nil {
			return err
		}
		if i > 0 && d.Inventory[i-1].Node >= id.Node {
			return fmt.Errorf("crdt: inventory nodes not sorted and unique at %q", clip(id.Node))
		}
		if id.Full != (id.Base != 0) {
			return fmt.Errorf("crdt: inventory of %s: full without base or base without full", id.Node)
		}
		shas := make(map[[32]byte]struct{}, len(id.Items))
		for j, it := range id.Items {
			if err := it.validate(); err != nil {
				return err
			}
			if j > 0 && compareItems(id.Items[j-1], it) >= 0 {
				return fmt.Errorf("crdt: inventory of %s: items not sorted by counter and blob", id.Node)
			}
			if _, dup := shas[it.SHA]; dup {
				return fmt.Errorf("crdt: inventory of %s: blob %s twice", id.Node, shortSHA(it.SHA))
			}
			shas[it.SHA] = struct{}{}
		}
	}
	for i, pd := range d.Plays {
		if err := checkID("play node", pd.Node); err != nil {
			return err
		}
		if i > 0 && d.Plays[i-1].Node >= pd.Node {
			return fmt.Errorf("crdt: play nodes not sorted and unique at %q", clip(pd.Node))
		}
		for j, ev := range pd.Events {
			if ev.Node != pd.Node {
				return fmt.Errorf("crdt: play event of %q in %q's log", clip(ev.Node), pd.Node)
			}
			if err := ev.Validate(); err != nil {
				return err
			}
			if j > 0 && pd.Events[j-1].Seq >= ev.Seq {
				return fmt.Errorf("crdt: play events of %s: seqs not increasing", pd.Node)
			}
		}
	}
	for i, nt := range d.Times {
		if err := checkID("time node", nt.Node); err != nil {
			return err
		}
		if i > 0 && d.Times[i-1].Node >= nt.Node {
			return fmt.Errorf("crdt: time nodes not sorted and unique at %q", clip(nt.Node))
		}
		if len(nt.Time.Sig) > MaxSigLen {
			return fmt.Errorf("crdt: time of %s: signature over %d bytes", nt.Node, MaxSigLen)
		}
	}
	for i, o := range d.Overrides {
		if err := o.Validate(); err != nil {
			return err
		}
		if i > 0 && d.Overrides[i-1].Zone >= o.Zone {
			return fmt.Errorf("crdt: override zones not sorted and unique at %q", clip(o.Zone))
		}
	}
	return nil
}

// firstUnsortedKey returns the index of a key that appears twice among records, or -1.
func firstUnsortedKey(rs []Record) int {
	if len(rs) < 2 {
		return -1
	}
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(rs[a].Key, rs[b].Key) })
	for i := 1; i < len(idx); i++ {
		if rs[idx[i-1]].Key == rs[idx[i]].Key {
			return idx[i]
		}
	}
	return -1
}
