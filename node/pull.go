package node

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"
)

// The pull rule: for each blob the store needs, exactly one live node with an uplink pulls it from the cloud, chosen by
// rendezvous (highest-random-weight) hashing of (blob, node id). Every node computes the same ranking from the same
// membership, so no coordination message is needed; when membership changes only the blobs whose top node changed move.
// The others fetch the blob from a peer once it is held there. A node higher in the ranking that does not start, or
// stops making progress, is skipped after a bound, so the next-ranked node takes over; a partitioned LAN computes the
// ranking over the nodes it can see, so each side pulls at most once.

// pullScore is the rendezvous weight of node for blob: the first 8 bytes of sha256("lomuz/pull/v1" || blob || 0 || node).
func pullScore(blob, node string) uint64 {
	h := sha256.New()
	h.Write([]byte("lomuz/pull/v1"))
	h.Write([]byte(blob))
	h.Write([]byte{0})
	h.Write([]byte(node))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0])[:8])
}

// rankPullers returns nodes ordered by descending rendezvous weight for blob (ties, which need a hash collision, by id).
// The input is not modified.
func rankPullers(blob string, nodes []string) []string {
	type scored struct {
		id    string
		score uint64
	}
	s := make([]scored, len(nodes))
	for i, n := range nodes {
		s[i] = scored{n, pullScore(blob, n)}
	}
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmpString(a.id, b.id)
	})
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.id
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pullAction is what a node should do about one blob it needs.
type pullAction int

const (
	// pullWait: a higher-ranked node is pulling (or may still start); wait for it to hold the blob.
	pullWait pullAction = iota
	// pullFromCloud: this node is the puller.
	pullFromCloud
	// pullFromPeer: a live peer holds the verified blob; fetch it over the LAN from Source.
	pullFromPeer
)

func (a pullAction) String() string {
	switch a {
	case pullWait:
		return "wait"
	case pullFromCloud:
		return "cloud"
	case pullFromPeer:
		return "peer"
	}
	return "unknown"
}

// pullDecision is the outcome of decidePull.
type pullDecision struct {
	Action pullAction
	// Source is the peer to fetch from (pullFromPeer) or the node being waited for (pullWait; empty when no
	// candidate with an uplink is live at all).
	Source string
}

// peerBlob is what this node has observed of one peer's copy of one blob.
type peerBlob struct {
	Held     bool          // the peer's inventory lists the blob as held (verified on its side)
	Fetching bool          // the peer's inventory lists the blob as being fetched
	Bytes    int64         // bytes the peer reported so far
	Progress time.Duration // this node's monotonic reading when it last saw Bytes grow (or the fetch start)
}

// pullInput is everything decidePull needs; it is gathered by the core from membership, the crdt inventory and its
// own observations.
type pullInput struct {
	Blob string
	Self string
	// SelfBytes is what an earlier fetch of this node left on disk.
	SelfBytes int64
	Now       time.Duration // this node's monotonic clock
	Since     time.Duration // when this node first learned the store needs the blob (monotonic)
	// Uplinked lists the live nodes (self included when it has one) whose uplink works, as far as gossip says.
	Uplinked []string
	// Peers maps live peers (self excluded) to what they hold or fetch of Blob; absent means neither.
	Peers map[string]peerBlob
	// BadSources are peers that served bytes that failed verification; they are never used as a source.
	BadSources map[string]bool
	// TrustedMS is trusted time (unix ms): takeover turns are slots of it, common to the store's nodes.
	TrustedMS int64
	// StartGrace is how long a higher-ranked node has to start fetching once the need is known; StallAfter how long
	// it may go without progress before the next node takes over.
	StartGrace, StallAfter time.Duration
}

// decidePull applies the pull rule for one blob. It is pure.
func decidePull(in pullInput) pullDecision {
	// A verified copy on the LAN beats any cloud pull. Among several holders, spread the load by rendezvous too.
	var holders []string
	for id, pb := range in.Peers {
		if pb.Held && !in.BadSources[id] {
			holders = append(holders, id)
		}
	}
	if len(holders) > 0 {
		return pullDecision{Action: pullFromPeer, Source: rankPullers(in.Blob+"/lan/"+in.Self, holders)[0]}
	}
	// Someone already pulling with progress keeps the pull: a second cloud pull would cross the uplink twice.
	if busy := movingPuller(in); busy != "" {
		return pullDecision{Action: pullWait, Source: busy}
	}
	// Candidates are the live nodes with an uplink in rendezvous order, those that served this node bad bytes
	// included: which peers served whom bad bytes is each node's own knowledge, and a node that left one out would
	// rank the rest differently from the store, so two nodes would pull at once (and the rightful one, seeing the
	// other move, would wait). A bad source's cloud pull is fine for the store (its bytes come from the cloud and it
	// hashes them); this node just never fetches from it, and takes its own turn to pull once the distrusted
	// holder is the only one. The top one owns the pull for StartGrace after the need is known.
	// Past that (it was busy, dead, or dropped as a source), turns go round the candidates in slots of
	// StartGrace of trusted time, which the store's nodes share within their clock error: one owner at a time
	// hands the pull to exactly one next node instead of every free node at once. A node pulls only inside the
	// middle of its slot (turnGuard from each edge), so nodes whose clocks disagree by less than that never
	// both own a slot.
	ranked := rankPullers(in.Blob, in.Uplinked)
	if len(ranked) == 0 || in.StartGrace <= 0 {
		return pullDecision{Action: pullWait}
	}
	if !slices.Contains(ranked, in.Self) {
		// No uplink here: wait; the blob may come from a peer later.
		return pullDecision{Action: pullWait, Source: ranked[0]}
	}
	if in.Now-in.Since < in.StartGrace {
		if ranked[0] == in.Self {
			return pullDecision{Action: pullFromCloud}
		}
		return pullDecision{Action: pullWait, Source: ranked[0]}
	}
	slot := max(in.StartGrace.Milliseconds(), 1)
	t := max(in.TrustedMS, 0)
	// Every other slot goes to the candidate with the largest partial file (an outage strands one on whoever was
	// pulling), so the pull resumes rather than restarts; the other slots go round everyone, so a holder whose own
	// uplink is broken does not block the store.
	turn := ranked[int((t/slot)%int64(len(ranked)))]
	if best := largestPartial(in, ranked); best != "" && (t/slot)%2 == 0 {
		turn = best
	}
	guard := min(turnGuard, in.StartGrace/4)
	if pos := time.Duration(t%slot) * time.Millisecond; turn == in.Self && pos >= guard && pos < in.StartGrace-guard {
		return pullDecision{Action: pullFromCloud}
	}
	return pullDecision{Action: pullWait, Source: turn}
}

// largestPartial is the candidate holding the most bytes of the blob from an earlier fetch (ties by rank), or "".
func largestPartial(in pullInput, ranked []string) string {
	best, most := "", int64(0)
	for _, id := range ranked {
		b := in.SelfBytes
		if id != in.Self {
			b = in.Peers[id].Bytes
			if !in.Peers[id].Fetching {
				b = 0
			}
		}
		if b > most {
			best, most = id, b
		}
	}
	return best
}

// turnGuard keeps a takeover away from the edges of its slot: more than the gossip interval (500 ms) plus LAN
// latency, so a pull started at the end of one slot is seen before the next slot's owner decides.
const turnGuard = time.Second

// outranked reports whether a live peer that ranks above this node for the blob is fetching it with progress: of two
// concurrent cloud pulls, every node agrees which one keeps going (bad sources count: see decidePull).
func outranked(in pullInput) bool {
	self := pullScore(in.Blob, in.Self)
	for id, pb := range in.Peers {
		if id == in.Self || !pb.Fetching || in.Now-pb.Progress >= in.StallAfter {
			continue
		}
		if s := pullScore(in.Blob, id); s > self || (s == self && id < in.Self) {
			return true
		}
	}
	return false
}

// movingPuller is a peer (lowest id first) fetching the blob with progress seen within StallAfter, or "" (bad sources
// count: see decidePull).
func movingPuller(in pullInput) string {
	var out string
	for id, pb := range in.Peers {
		if id == in.Self || !pb.Fetching || in.Now-pb.Progress >= in.StallAfter {
			continue
		}
		if out == "" || id < out {
			out = id
		}
	}
	return out
}
