package sim

import (
	"errors"
	"slices"
	"time"

	"github.com/lomuz/lomuz/node"
)

// simStore is one store: its LAN (gossip, anti-entropy, membership, blob transfers between peers) and its uplink
// (bandwidth shared by concurrent cloud pulls).
type simStore struct {
	w      *world
	idx    int
	id     string
	zones  []string
	nodes  []*simNode
	uplink uplink

	uplinkDown bool
	loss       float64
	latency    time.Duration
	// sides counts the LAN sides this store has had: 1, plus one for every side a partition added, plus one per
	// node that served bad bytes (its copy is of no use to the others). Each blob may cross the uplink once per side.
	sides      int
	memberGen  uint64
	revFirst   map[uint64]revSeen // catalog revision -> when the first node of the store reached it
	healConvAt time.Duration      // when the store converged after heal; -1 until then
}

func newStore(w *world, idx int, id string) *simStore {
	st := &simStore{w: w, idx: idx, id: id, loss: w.sc.Topology.LAN.Loss, latency: w.sc.Topology.LAN.Latency,
		sides: 1, revFirst: map[uint64]revSeen{}, healConvAt: -1}
	st.uplink = uplink{st: st, bps: w.sc.Topology.Uplink.Mbps * 1e6 / 8}
	return st
}

func reachable(a, b *simNode) bool { return a != b && a.up && b.up && a.side == b.side }

// liveFor lists the peers n can reach now, as the membership layer reports them.
func (st *simStore) liveFor(n *simNode) []string {
	var out []string
	for _, p := range st.nodes {
		if reachable(n, p) {
			out = append(out, p.id)
		}
	}
	slices.Sort(out)
	return out
}

// announce tells one node its live peers now (a node that boots joins at once through its static peers or mDNS).
func (st *simStore) announce(n *simNode) {
	live := st.liveFor(n)
	if slices.Equal(live, n.seen) && n.seen != nil {
		return
	}
	n.seen = live
	if live == nil {
		n.seen = []string{}
	}
	n.step(node.MembersChanged{Live: live})
}

// joined models memberlist's join after a LAN round trip: a push/pull with one member (the joiner learns the
// store's state, inventories included, before its Settle ends), whose alive message then reaches the others'
// views within a round. Without it, peers would learn of a restarted node only at the next failure-detector pass
// and rank pulls without it, and the node itself would pull blobs its peers hold.
func (st *simStore) joined(n *simNode) {
	gen := n.gen
	st.w.after(2*st.latency, func() {
		if n.gen != gen || !n.up {
			return
		}
		st.pushPull(n)
		for _, p := range st.nodes {
			if reachable(n, p) && p.seen != nil && !slices.Contains(p.seen, n.id) {
				st.announce(p)
			}
		}
	})
}

// membership re-announces the live sets to every node whose view changed.
func (st *simStore) membership() {
	for _, n := range st.nodes {
		if n.up {
			st.announce(n)
		}
	}
}

// membershipSoon re-announces after the failure detector's delay; joins are announced at once by the joiner.
func (st *simStore) membershipSoon() {
	st.memberGen++
	g := st.memberGen
	st.w.after(st.w.sc.Topology.MemberDetect, func() {
		if st.memberGen == g {
			st.membership()
		}
	})
}

// broadcast delivers a gossip payload to every reachable peer. A packet is lost with the link's loss rate; since
// receivers forward each message once, a lost packet still arrives through a relay unless that copy is lost too.
func (st *simStore) broadcast(from *simNode, b []byte) {
	w := st.w
	w.met.gossip(len(b))
	for _, p := range st.nodes {
		if !reachable(from, p) {
			continue
		}
		delay := st.latency
		if w.rndNet.Float64() < st.loss {
			if w.rndNet.Float64() < st.loss {
				continue
			}
			delay *= 2
		}
		st.deliver(from, p, b, delay)
	}
}

// direct sends b to every reachable peer over a reliable stream: not lost, but a lossy LAN retransmits (a round
// trip more per lost segment, modelled as one extra latency).
func (st *simStore) direct(from *simNode, b []byte) {
	for _, p := range st.nodes {
		if p == from || !reachable(from, p) {
			continue
		}
		st.w.met.gossip(len(b))
		delay := 2 * st.latency
		if st.w.rndNet.Float64() < st.loss {
			delay += st.latency
		}
		st.deliver(from, p, b, delay)
	}
}

func (st *simStore) deliver(from, to *simNode, b []byte, delay time.Duration) {
	fg, tg := from.gen, to.gen
	st.w.after(delay, func() {
		if to.gen != tg || from.gen != fg || !reachable(from, to) {
			return
		}
		to.step(node.GossipReceived{From: from.id, Payload: b})
	})
}

// startAntiEntropy gives every node a push/pull exchange with a random reachable peer every AntiEntropy period,
// at a phase drawn from the seed (memberlist's push/pull timer).
func (st *simStore) startAntiEntropy() {
	period := st.w.sc.Topology.AntiEntropy
	for _, n := range st.nodes {
		phase := time.Duration(st.w.rndNet.Int64N(int64(period)))
		var loop func()
		loop = func() {
			st.pushPull(n)
			st.w.after(period, loop)
		}
		st.w.after(phase, loop)
	}
}

func (st *simStore) pushPull(n *simNode) {
	if !n.up {
		return
	}
	var peers []*simNode
	for _, p := range st.nodes {
		if reachable(n, p) {
			peers = append(peers, p)
		}
	}
	if n.replay && n.firstSnap != nil {
		for _, p := range peers {
			st.deliver(n, p, forged(n.firstSnap), st.latency)
		}
	}
	if len(peers) == 0 {
		return
	}
	p := peers[st.w.rndNet.IntN(len(peers))]
	a, errA := n.core.AntiEntropy()
	b, errB := p.core.AntiEntropy()
	if errA != nil || errB != nil {
		st.w.violate(n, RuleState, "anti-entropy state: %v %v", errA, errB)
		return
	}
	st.w.met.pushPull(len(a) + len(b))
	st.deliver(n, p, a, st.latency)
	st.deliver(p, n, b, st.latency)
}

// uplink shares the store's bandwidth equally among its active cloud transfers (processor sharing).
type uplink struct {
	st     *simStore
	bps    float64 // bytes per second
	active []*transfer
	last   time.Duration
	gen    uint64
}

// transfer is one blob download: from the cloud over the uplink, or from a peer over the LAN.
type transfer struct {
	n         *simNode
	sha       string
	size      int64
	done      float64 // bytes on the node's disk (resumed bytes included)
	peer      *simNode
	cancelled bool
	ul        *uplink
	progress  time.Duration
}

func (t *transfer) cancel() {
	t.cancelled = true
	t.n.disk.partial[t.sha] = int64(t.done)
	if t.ul != nil {
		t.ul.advance()
		t.ul.remove(t)
		t.ul.reschedule()
	}
}

// advance moves every active transfer forward to now and counts the bytes that crossed the uplink.
func (u *uplink) advance() {
	w := u.st.w
	dt := (w.now - u.last).Seconds()
	u.last = w.now
	if dt <= 0 || len(u.active) == 0 {
		return
	}
	share := u.bps * dt / float64(len(u.active))
	for _, t := range u.active {
		moved := min(share, float64(t.size)-t.done)
		t.done += moved
		w.met.uplinkBytes(u.st, t.sha, moved)
	}
}

func (u *uplink) remove(t *transfer) {
	u.active = slices.DeleteFunc(u.active, func(x *transfer) bool { return x == t })
}

// reschedule plans the next completion (and a progress report every 2 s while transfers run).
func (u *uplink) reschedule() {
	u.gen++
	if len(u.active) == 0 {
		return
	}
	g := u.gen
	rate := u.bps / float64(len(u.active))
	next := time.Duration(1<<62 - 1)
	for _, t := range u.active {
		next = min(next, time.Duration((float64(t.size)-t.done)/rate*float64(time.Second))+time.Microsecond)
	}
	next = min(next, 2*time.Second)
	u.st.w.after(next, func() {
		if u.gen != g {
			return
		}
		u.advance()
		var finished []*transfer
		for _, t := range u.active {
			if float64(t.size)-t.done < 1 {
				finished = append(finished, t)
			}
		}
		for _, t := range finished {
			u.remove(t)
		}
		progress := slices.Clone(u.active)
		u.reschedule()
		for _, t := range finished {
			t.finish(nil)
		}
		for _, t := range progress {
			if !t.cancelled && t.n.fetches[t.sha] == t {
				t.n.step(node.FetchProgress{SHA256: t.sha, Bytes: int64(t.done)})
			}
		}
	})
}

// fetch starts one download the core asked for.
func (n *simNode) fetch(f node.Fetch) {
	w := n.w
	if old := n.fetches[f.SHA256]; old != nil {
		old.cancel()
	}
	t := &transfer{n: n, sha: f.SHA256, size: f.Size, done: float64(n.disk.partial[f.SHA256])}
	if t.size <= 0 {
		t.size = 1
	}
	t.done = min(t.done, float64(t.size))
	n.fetches[f.SHA256] = t
	gen := n.gen
	if f.Peer == "" {
		w.tracef("%s fetch %s cloud from %d", n.name, w.blobName(f.SHA256), int64(t.done))
		if n.store.uplinkDown || w.originDown {
			w.after(w.sc.Topology.Uplink.Latency+10*time.Second, func() {
				if n.gen == gen && n.fetches[t.sha] == t {
					t.finish(errors.New("sim: cloud unreachable"))
				}
			})
			return
		}
		u := &n.store.uplink
		w.after(2*w.sc.Topology.Uplink.Latency, func() { // request and first byte
			if n.gen != gen || t.cancelled {
				return
			}
			if n.store.uplinkDown || w.originDown {
				t.finish(errors.New("sim: cloud unreachable"))
				return
			}
			u.advance()
			t.ul = u
			u.active = append(u.active, t)
			u.reschedule()
		})
		return
	}
	p := w.byID[f.Peer]
	t.peer = p
	w.tracef("%s fetch %s from %s", n.name, w.blobName(f.SHA256), nameOf(p))
	lan := w.sc.Topology.LAN
	d := 2*n.store.latency + time.Duration(float64(t.size)-t.done)*time.Second/time.Duration(lan.Mbps*1e6/8)
	w.after(d, func() {
		if n.gen != gen || t.cancelled || n.fetches[t.sha] != t {
			return
		}
		switch {
		case p == nil || !reachable(n, p) || !p.disk.cache[t.sha]:
			t.finish(errors.New("sim: peer gone or no longer holds the blob"))
		case p.badBytes:
			t.done = 0
			t.finish(errBadBytes)
		default:
			t.done = float64(t.size)
			t.finish(nil)
		}
	})
}

var errBadBytes = errors.New("sim: sha256 mismatch")

func nameOf(n *simNode) string {
	if n == nil {
		return "unknown"
	}
	return n.name
}

// finish ends a transfer: a complete one is verified (the simulated cache hashes what it stores) and installed.
func (t *transfer) finish(err error) {
	n, w := t.n, t.n.w
	if n.fetches[t.sha] != t || t.cancelled {
		return
	}
	delete(n.fetches, t.sha)
	res := node.FetchResult{SHA256: t.sha}
	if t.peer != nil {
		res.Peer = t.peer.id
	}
	switch {
	case err == nil:
		n.disk.cache[t.sha] = true
		delete(n.disk.partial, t.sha)
		res.Kind = node.FetchDone
		if t.peer == nil {
			w.met.cloudPull(n.store, n, t.sha, t.size)
		}
		w.tracef("%s got %s from %s", n.name, w.blobName(t.sha), nameOf(t.peer))
	default:
		res.Kind, res.Err = node.FetchFailed, err
		res.BadBytes = errors.Is(err, errBadBytes)
		n.disk.partial[t.sha] = int64(t.done)
		w.tracef("%s fetch %s failed: %v", n.name, w.blobName(t.sha), err)
	}
	n.step(res)
}
