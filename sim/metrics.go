package sim

import (
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/node"
	"github.com/lomuz/lomuz/origin/api"
)

// buckets is how many time buckets the report's series have.
const buckets = 96

type playedEvent struct {
	seq uint64
	at  time.Duration
}

// storeMetrics is what the report plots per store.
type storeMetrics struct {
	uplinkBytes float64
	series      []float64          // uplink bytes per bucket
	blobBytes   map[string]float64 // bytes of each blob that crossed the uplink
	pulls       map[string]int     // completed cloud pulls per blob
	rescues     map[string]int     // of them, pulls made when no live node of the store held the blob any more
	sizes       map[string]int64
}

type metrics struct {
	bucket     time.Duration
	events     map[string][]playedEvent // persisted play events per device
	maxRev     uint64
	maxHash    string
	levels     map[string][]int // plays per fallback level per bucket
	plays      int
	stores     map[*simStore]*storeMetrics
	gossipN    int
	gossipB    int64
	pushPullN  int
	pushPullB  int64
	converge   []time.Duration // catalog convergence samples (first node to last node at a revision)
	violations int
	dupPulls   int
}

func (m *metrics) init(sc *Scenario) {
	m.bucket = max((sc.Chaos+sc.Heal)/buckets, time.Second)
	m.events = map[string][]playedEvent{}
	m.levels = map[string][]int{}
	m.stores = map[*simStore]*storeMetrics{}
}

func (m *metrics) idx(w *world) int { return min(int(w.now/m.bucket), buckets-1) }

func (m *metrics) store(st *simStore) *storeMetrics {
	s := m.stores[st]
	if s == nil {
		s = &storeMetrics{series: make([]float64, buckets), blobBytes: map[string]float64{}, pulls: map[string]int{},
			rescues: map[string]int{}, sizes: map[string]int64{}}
		m.stores[st] = s
	}
	return s
}

func (m *metrics) persisted(n *simNode, ev crdt.PlayEvent) {
	m.events[n.id] = append(m.events[n.id], playedEvent{seq: ev.Seq, at: n.w.now})
}

func (m *metrics) manifest(sm *api.SyncManifest) {
	if sm.Revision >= m.maxRev {
		m.maxRev, m.maxHash = sm.Revision, sm.StateHash
	}
}

func (m *metrics) played(n *simNode, cmd node.PlayCommand, _ time.Duration) {
	l := "scheduled"
	switch {
	case cmd.Builtin:
		l = crdt.FallbackBuiltin
	default:
		l = levelOf(cmd)
	}
	s := m.levels[l]
	if s == nil {
		s = make([]int, buckets)
		m.levels[l] = s
	}
	s[m.idx(n.w)]++
	m.plays++
}

func (m *metrics) gossip(b int)   { m.gossipN++; m.gossipB += int64(b) }
func (m *metrics) pushPull(b int) { m.pushPullN++; m.pushPullB += int64(b) }

func (m *metrics) uplinkBytes(st *simStore, sha string, b float64) {
	s := m.store(st)
	s.uplinkBytes += b
	s.series[m.idx(st.w)] += b
	s.blobBytes[sha] += b
}

// cloudPull counts a completed cloud pull; more than one per LAN side the store has had breaks the promise that
// each file crosses a store's uplink once.
// A pull made after every copy in the store went down with its node (a crash right after a pull completed, before
// any peer fetched it) is a rescue, not a second crossing: the file was no longer in the store.
func (m *metrics) cloudPull(st *simStore, by *simNode, sha string, size int64) {
	s := m.store(st)
	s.pulls[sha]++
	s.sizes[sha] = size
	if s.pulls[sha] > st.sides+s.rescues[sha] && !st.heldElsewhere(by, sha) {
		s.rescues[sha]++
	}
	if s.pulls[sha] > st.sides+s.rescues[sha] {
		m.dupPulls++
		st.w.violate(nil, RuleUplink, "store %d pulled %s from the cloud %d times with %d LAN sides", st.idx,
			st.w.blobName(sha), s.pulls[sha], st.sides)
	}
}

// heldElsewhere reports whether a live node of the store other than n holds the verified blob.
func (st *simStore) heldElsewhere(n *simNode, sha string) bool {
	for _, p := range st.nodes {
		if p != n && p.up && p.disk.cache[sha] {
			return true
		}
	}
	return false
}

// revSeen is when the first node of a store reached a catalog revision, and the state hash it had then.
type revSeen struct {
	at   time.Duration
	hash string
}

// catalogChanged times catalog convergence inside a store: from the first node at a revision to the moment every
// live node of the store is at it or past it, or holds the same records (gossip carries records without the
// coverage claim that raises a watermark; push/pull and syncs raise it later).
func (st *simStore) catalogChanged(n *simNode, wm uint64, hash string) {
	w := st.w
	if _, ok := st.revFirst[wm]; !ok {
		st.revFirst[wm] = revSeen{at: w.now, hash: hash}
	}
	for r, first := range st.revFirst {
		all := true
		for _, p := range st.nodes {
			if p.up && p.lastW < r && p.lastHash != first.hash {
				all = false
				break
			}
		}
		if all {
			w.met.converge = append(w.met.converge, w.now-first.at)
			delete(st.revFirst, r)
		}
	}
}

func levelOf(cmd node.PlayCommand) string { return cmd.Level.String() }
