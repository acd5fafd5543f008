package crdt

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

var (
	propKeys  = []string{"asset/a", "asset/b", "playlist/p", "schedule/s", "store/x", "devices/x"}
	propZones = []string{"z0", "z1"}
)

// world is a store of replicas fed by a model origin, with the plain reference model the replicas must agree with.
type world struct {
	t         *rapid.T
	nodes     []*State
	rev       uint64
	origin    map[string]Record // origin's current record per key (tombstones included)
	delivered map[string]Record // the newest record per key any replica received from origin
	plays     map[string][]PlayEvent
	acked     map[string]uint64
	times     map[string]int64
	overrides map[string]Override
	blobs     map[string]map[string]BlobState // owner's own view: node -> sha -> state
	inflight  []addressed                     // deltas delayed by the network
	lastSent  map[int]Summary                 // per replica, the summary as of its last broadcast
	split     bool                            // gossip through Split with drops and duplicates
	prune     bool                            // prune tombstones at random revisions
	noFull    bool                            // no origin full resyncs (which forget deletions)
	restarts  bool                            // replicas restart from older snapshots (restart_prop_test.go)
	saved     map[int][]byte                  // per replica, its last snapshot on disk
	wrote     map[string]map[string]bool      // per node, the blobs it wrote since it last restarted
}

type addressed struct {
	to int
	b  []byte
}

func newWorld(t *rapid.T, n int) *world {
	w := &world{t: t, origin: map[string]Record{}, delivered: map[string]Record{}, plays: map[string][]PlayEvent{},
		acked: map[string]uint64{}, times: map[string]int64{}, overrides: map[string]Override{},
		blobs: map[string]map[string]BlobState{}, lastSent: map[int]Summary{},
		saved: map[int][]byte{}, wrote: map[string]map[string]bool{}}
	// Few inventory tombstones, so owners compact often and peers get whole entries.
	tombs := rapid.IntRange(1, 3).Draw(t, "tombs")
	for i := range n {
		cfg := DefaultConfig(fmt.Sprintf("n%d", i), testTenant)
		cfg.InventoryTombstones = tombs
		s, err := NewState(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.nodes = append(w.nodes, s)
	}
	return w
}

func (w *world) merge(i int, d Delta) Changes {
	ch, err := w.nodes[i].Merge(d, verifyRecord, verifyTime)
	if err != nil {
		w.t.Fatalf("merge into n%d: %v", i, err)
	}
	return ch
}

func (w *world) deliver(a addressed) {
	d, err := DecodeDelta(a.b)
	if err != nil {
		w.t.Fatalf("decode: %v", err)
	}
	ch := w.merge(a.to, d)
	var keys []string
	for _, r := range d.Catalog.Records {
		keys = append(keys, fmt.Sprintf("%s@%d", r.Key, r.Rev))
	}
	w.t.Logf("n%d <- %v %v held %v complete %d: entered %d stale %d removed %d; W=%d H=%d", a.to, d, keys,
		d.Catalog.Held, d.Catalog.Complete, len(ch.Records), ch.Stale, ch.Removed,
		w.nodes[a.to].Catalog().Watermark(), w.nodes[a.to].Catalog().Horizon())
	// Relay what was new to one other replica: Fresh carries no claims, so anyone may take it.
	if !ch.Fresh.Empty() && len(w.nodes) > 2 {
		b, err := EncodeDelta(ch.Fresh)
		if err != nil {
			for _, id := range d.Inventory {
				w.t.Logf("in: %s full=%v base=%d from=%d to=%d items %v", id.Node, id.Full, id.Base, id.From, id.To, counters(id.Items))
			}
			for _, id := range ch.Fresh.Inventory {
				w.t.Logf("fresh: %s items %v", id.Node, counters(id.Items))
			}
			w.t.Fatalf("encode fresh: %v", err)
		}
		to := (a.to + 1) % len(w.nodes)
		w.inflight = append(w.inflight, addressed{to: to, b: b})
	}
}

func (w *world) step(t *rapid.T) {
	i := rapid.IntRange(0, len(w.nodes)-1).Draw(t, "node")
	s := w.nodes[i]
	self := s.Self()
	hi := 11
	if w.restarts {
		hi = 13
	}
	switch op := rapid.IntRange(0, hi).Draw(t, "op"); op {
	case 0, 1: // origin writes a record
		key := rapid.SampledFrom(propKeys).Draw(t, "key")
		w.rev++
		r := Record{Key: key, Tenant: testTenant, Rev: w.rev}
		if old, ok := w.origin[key]; ok && !old.Deleted && rapid.IntRange(0, 2).Draw(t, "del") == 0 {
			r.Deleted = true
		} else {
			r.Body = fmt.Appendf(nil, `{"v":%d}`, w.rev)
		}
		w.origin[key] = signRecord(r)
		t.Logf("origin writes %s@%d deleted=%v", key, r.Rev, r.Deleted)
	case 2: // a replica syncs with origin
		wm := s.Catalog().Watermark()
		u := OriginUpdate{From: wm, To: w.rev}
		if !w.noFull && rapid.IntRange(0, 4).Draw(t, "full") == 0 {
			u = OriginUpdate{To: w.rev, Full: true}
		}
		for _, r := range w.origin {
			if u.Full && !r.Deleted || !u.Full && r.Rev > wm {
				u.Records = append(u.Records, r)
			}
		}
		ch, err := s.ApplyOrigin(u, verifyRecord)
		if err != nil {
			t.Fatalf("apply origin: %v", err)
		}
		if !u.Full && !w.noFull && s.Catalog().StateHash() != w.originHash() {
			// As origin does: a state hash that does not match the revision gets a full answer.
			u = OriginUpdate{To: w.rev, Full: true}
			for _, r := range w.origin {
				if !r.Deleted {
					u.Records = append(u.Records, r)
				}
			}
			if ch, err = s.ApplyOrigin(u, verifyRecord); err != nil {
				t.Fatalf("apply origin: %v", err)
			}
		}
		t.Logf("%s <- origin (%d,%d] full=%v %d records: entered %d removed %d", self, u.From, u.To, u.Full, len(u.Records), len(ch.Records), ch.Removed)
		for _, r := range u.Records {
			if old, ok := w.delivered[r.Key]; !ok || recordWins(r, old) {
				w.delivered[r.Key] = r
			}
		}
		if u.Full { // what a full answer leaves out is deleted: origin holds its tombstone
			for k := range w.delivered {
				if r := w.origin[k]; r.Deleted {
					w.delivered[k] = r
				}
			}
		}
		ms := int64(w.rev) * 1000
		s.ObserveTime(signTime(ms), verifyTime)
		w.times[self] = max(w.times[self], ms)
		// Origin acks the events this replica delivered.
		for _, n := range s.PlayLog().Nodes() {
			if c := s.PlayLog().Chain(n); c.Have > c.Acked && rapid.Bool().Draw(t, "ack") {
				seq := rapid.Uint64Range(c.Acked+1, c.Have).Draw(t, "ackseq")
				if err := s.AckPlays(n, seq); err != nil {
					t.Fatal(err)
				}
				w.acked[n] = max(w.acked[n], seq)
			}
		}
	case 3: // inventory write
		sha := shaOf(rapid.IntRange(0, 4).Draw(t, "blob"))
		if w.blobs[self] == nil {
			w.blobs[self] = map[string]BlobState{}
		}
		var wrote bool
		var err error
		switch rapid.IntRange(0, 2).Draw(t, "blobop") {
		case 0:
			wrote, err = s.SetBlobHeld(sha)
			w.blobs[self][sha] = BlobHeld
		case 1:
			wrote, err = s.SetBlobFetching(sha, rapid.Uint64Range(0, 1<<20).Draw(t, "bytes"), int64(w.rev))
			w.blobs[self][sha] = BlobFetching
		case 2:
			wrote, err = s.RemoveBlob(sha)
			delete(w.blobs[self], sha)
		}
		if err != nil {
			t.Fatal(err)
		}
		if wrote {
			w.noteWrite(self, sha)
		}
	case 4: // a play
		ev, err := s.AppendPlay(PlayEvent{HLC: s.Clock(int64(w.rev)), AssetID: "a1", SHA256: shaOf(1),
			StartedAt: int64(w.rev), DurationMS: 1000, Fallback: FallbackScheduled, Zone: "z0"})
		if err != nil {
			t.Fatal(err)
		}
		w.plays[self] = append(w.plays[self], ev)
	case 5: // a zone override on site
		zone := rapid.SampledFrom(propZones).Draw(t, "zone")
		o, err := s.SetOverride(zone, ZoneSettings{VolumePct: uint8(rapid.IntRange(0, 100).Draw(t, "vol"))},
			rapid.Int64Range(0, 50).Draw(t, "now"))
		if err != nil {
			t.Fatal(err)
		}
		if old, ok := w.overrides[zone]; !ok || overrideWins(o, old) {
			w.overrides[zone] = o
		}
	case 6: // tombstone pruning, at any revision: always safe
		if w.prune {
			s.PruneTombstones(rapid.Uint64Range(0, w.rev+1).Draw(t, "upto"))
		}
	case 7, 8, 9: // anti-entropy from a peer
		j := rapid.IntRange(0, len(w.nodes)-1).Draw(t, "peer")
		if j == i {
			return
		}
		w.gossip(t, j, i)
	case 11: // broadcast what this replica gained since its last broadcast, to every other replica
		d := s.DeltaFor(w.lastSent[i])
		w.lastSent[i] = s.Summary()
		for j := range w.nodes {
			if j != i {
				w.send(t, d, j)
			}
		}
	case 10: // a delayed delta arrives
		if len(w.inflight) > 0 {
			k := rapid.IntRange(0, len(w.inflight)-1).Draw(t, "late")
			a := w.inflight[k]
			if !rapid.Bool().Draw(t, "dup") {
				w.inflight = append(w.inflight[:k], w.inflight[k+1:]...)
			}
			w.deliver(a)
		}
	case 12: // the replica saves its snapshot
		w.save(i)
	case 13: // the replica crashes and restarts from its last snapshot
		w.restart(t, i)
	}
}

// originHash is origin's StateHash over its live records.
func (w *world) originHash() StateHash {
	var h StateHash
	for _, r := range w.origin {
		if !r.Deleted {
			h.Add(r.Key, r.Rev)
		}
	}
	return h
}

// gossip sends from -> to: to's summary over the wire, the delta back whole or split, parts lost, delayed,
// duplicated or reordered.
func (w *world) gossip(t *rapid.T, from, to int) {
	sb, err := EncodeSummary(w.nodes[to].Summary())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := DecodeSummary(sb)
	if err != nil {
		t.Fatal(err)
	}
	if w.restarts && rapid.Bool().Draw(t, "pushpull") {
		sum = Summary{} // a push/pull exchange: the whole state
	}
	w.send(t, w.nodes[from].DeltaFor(sum), to)
}

// send delivers d to replica to: whole, or split with parts lost, delayed, duplicated or reordered.
func (w *world) send(t *rapid.T, d Delta, to int) {
	if !w.split {
		b, err := EncodeDelta(d)
		if err != nil {
			t.Fatal(err)
		}
		w.deliver(addressed{to: to, b: b})
		return
	}
	parts, rest, err := Split(d, rapid.IntRange(150, 1300).Draw(t, "budget"))
	if err != nil {
		t.Fatal(err)
	}
	if !rest.Empty() {
		parts = append(parts, rest)
	}
	idx := make([]int, len(parts))
	for k := range idx {
		idx[k] = k
	}
	for _, k := range rapid.Permutation(idx).Draw(t, "order") {
		b, err := EncodeDelta(parts[k])
		if err != nil {
			t.Fatal(err)
		}
		switch rapid.IntRange(0, 5).Draw(t, "fate") {
		case 0:
			w.inflight = append(w.inflight, addressed{to: to, b: b}) // delayed
		case 1: // lost
		case 2:
			w.deliver(addressed{to: to, b: b})
			w.deliver(addressed{to: to, b: b})
		default:
			w.deliver(addressed{to: to, b: b})
		}
	}
}

// heal runs full anti-entropy, every pair, until nothing changes.
func (w *world) heal(t *rapid.T) {
	for round := 0; ; round++ {
		if round > 3*len(w.nodes)+3 {
			t.Fatalf("no convergence after %d rounds", round)
		}
		changed := false
		for i := range w.nodes {
			for j := range w.nodes {
				if i == j {
					continue
				}
				before := observe(w.nodes[j], true) + fmt.Sprint(w.nodes[j].Catalog().Watermark())
				sum := w.nodes[j].Summary()
				if w.restarts {
					// Push/pull sends whole states: after a restart, counters claimed by two lives are ambiguous.
					sum = Summary{}
				}
				b, err := EncodeDelta(w.nodes[i].DeltaFor(sum))
				if err != nil {
					t.Fatal(err)
				}
				w.deliver(addressed{to: j, b: b})
				if observe(w.nodes[j], true)+fmt.Sprint(w.nodes[j].Catalog().Watermark()) != before {
					changed = true
				}
			}
		}
		w.inflight = nil
		if !changed {
			return
		}
	}
}

// check compares every replica with the others and with the reference model.
func (w *world) check(t *rapid.T) {
	first := observe(w.nodes[0], false)
	for _, s := range w.nodes[1:] {
		if got := observe(s, false); got != first {
			t.Fatalf("%s and n0 differ:\n%s", s.Self(), diffLines(first, got))
		}
		if s.Catalog().Watermark() != w.nodes[0].Catalog().Watermark() {
			t.Fatalf("watermarks differ: %d and %d", s.Catalog().Watermark(), w.nodes[0].Catalog().Watermark())
		}
	}
	s := w.nodes[0]
	// Catalog: exactly the live records origin delivered, newest version each.
	var want []string
	for _, k := range sortedKeys(w.delivered) {
		if r := w.delivered[k]; !r.Deleted {
			want = append(want, fmt.Sprintf("%s@%d", k, r.Rev))
		}
	}
	var got []string
	var h StateHash
	for _, r := range s.Catalog().Records("") {
		if !r.Deleted {
			got = append(got, fmt.Sprintf("%s@%d", r.Key, r.Rev))
			h.Add(r.Key, r.Rev)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("catalog %v, model %v", got, want)
	}
	if h != s.Catalog().StateHash() {
		t.Fatal("incremental state hash differs from a recomputation")
	}
	// Inventory: each node's entry is what its owner wrote.
	for _, n := range w.nodes {
		var items []string
		for _, it := range s.Inventory().Items(n.Self()) {
			items = append(items, fmt.Sprintf("%x:%v", it.SHA[:], it.State))
		}
		var model []string
		for _, sha := range sortedKeys(w.blobs[n.Self()]) {
			model = append(model, fmt.Sprintf("%s:%v", sha, w.blobs[n.Self()][sha]))
		}
		if fmt.Sprint(items) != fmt.Sprint(model) {
			t.Fatalf("inventory of %s: %v, model %v", n.Self(), items, model)
		}
	}
	// Plays: every unacked event, chained; the ack is the highest given.
	for _, n := range w.nodes {
		node := n.Self()
		if a := s.PlayLog().Acked(node); a.Seq != w.acked[node] {
			t.Fatalf("ack of %s: %d, model %d", node, a.Seq, w.acked[node])
		}
		pend := s.PlayLog().Pending(node)
		var model []PlayEvent
		for _, ev := range w.plays[node] {
			if ev.Seq > w.acked[node] {
				model = append(model, ev)
			}
		}
		if fmt.Sprint(pend) != fmt.Sprint(model) {
			t.Fatalf("plays of %s: %d held, model %d", node, len(pend), len(model))
		}
		if c := s.PlayLog().Chain(node); len(c.Broken) != 0 || c.Have != c.Max {
			t.Fatalf("chain of %s: %+v", node, c)
		}
		if st, _ := s.TimeFloors().Get(node); st.UnixMilli != w.times[node] {
			t.Fatalf("time of %s: %d, model %d", node, st.UnixMilli, w.times[node])
		}
	}
	for _, z := range propZones {
		o, ok := s.Overrides().Get(z)
		if m, mok := w.overrides[z]; ok != mok || o != m {
			t.Fatalf("override %s: %+v, model %+v", z, o, m)
		}
	}
}

func runWorld(t *rapid.T, split, prune bool) {
	w := newWorld(t, rapid.IntRange(2, 4).Draw(t, "nodes"))
	w.split, w.prune = split, prune
	w.run(t)
	w.check(t)
}

// run takes random steps, then lets everyone sync with origin once, as they eventually do, and heals.
func (w *world) run(t *rapid.T) {
	steps := rapid.IntRange(1, 120).Draw(t, "steps")
	for range steps {
		w.step(t)
		w.checkEncodes(t)
	}
	for i := range w.nodes {
		w.syncAll(t, i)
	}
	w.heal(t)
}

func (w *world) syncAll(t *rapid.T, i int) {
	s := w.nodes[i]
	u := OriginUpdate{From: s.Catalog().Watermark(), To: w.rev}
	for _, r := range w.origin {
		if r.Rev > u.From {
			u.Records = append(u.Records, r)
		}
	}
	if _, err := s.ApplyOrigin(u, verifyRecord); err != nil {
		t.Fatal(err)
	}
	for _, r := range u.Records {
		if old, ok := w.delivered[r.Key]; !ok || recordWins(r, old) {
			w.delivered[r.Key] = r
		}
	}
}

// TestConvergence: random operations and anti-entropy, then every replica agrees with the others and the model.
func TestConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runWorld(t, false, false) })
}

// TestConvergenceLossySplit: gossip through Split under a packet budget, with parts lost, delayed, duplicated and
// reordered, and fresh changes relayed onwards.
func TestConvergenceLossySplit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runWorld(t, true, false) })
}

// TestConvergenceWithPruning: tombstones pruned at arbitrary revisions.
func TestConvergenceWithPruning(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runWorld(t, rapid.Bool().Draw(t, "split"), true) })
}

func counters(its []BlobItem) []string {
	var out []string
	for _, it := range its {
		out = append(out, fmt.Sprintf("%x:%d:%v", it.SHA[:2], it.Counter, it.State))
	}
	return out
}
