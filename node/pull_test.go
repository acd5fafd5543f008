package node

import (
	"fmt"
	"testing"
	"time"
)

func TestRankPullersIsAPermutationAndStable(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e"}
	r1 := rankPullers("blob1", nodes)
	r2 := rankPullers("blob1", []string{"e", "d", "c", "b", "a"})
	if fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Fatalf("ranking depends on input order: %v vs %v", r1, r2)
	}
	seen := map[string]bool{}
	for _, n := range r1 {
		seen[n] = true
	}
	if len(seen) != len(nodes) {
		t.Fatalf("not a permutation: %v", r1)
	}
}

// Removing a node that is not the top of a blob's ranking never changes that blob's puller (rendezvous property).
func TestRankPullersMinimalDisruption(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5", "n6"}
	moved := 0
	for i := range 2000 {
		blob := fmt.Sprintf("%064x", i)
		top := rankPullers(blob, nodes)[0]
		for _, gone := range nodes {
			if gone == top {
				continue
			}
			rest := make([]string, 0, len(nodes)-1)
			for _, n := range nodes {
				if n != gone {
					rest = append(rest, n)
				}
			}
			if rankPullers(blob, rest)[0] != top {
				t.Fatalf("blob %s: removing %s moved the puller from %s", blob, gone, top)
			}
		}
		// Load spreads: count blobs per top node.
		if top == "n1" {
			moved++
		}
	}
	// With 6 nodes each should get about 1/6 of 2000 = 333; a broken hash would give 0 or 2000.
	if moved < 200 || moved > 480 {
		t.Fatalf("node n1 is puller for %d of 2000 blobs; expected about 333", moved)
	}
}

func TestDecidePull(t *testing.T) {
	const blob = "b1"
	nodes := []string{"a", "b", "c"}
	rank := rankPullers(blob, nodes)
	first, second, third := rank[0], rank[1], rank[2]
	base := func(self string) pullInput {
		return pullInput{
			Blob: blob, Self: self, Now: 100 * time.Second, Since: 99 * time.Second,
			TrustedMS: 15_000, // the middle of takeover slot 1 (10 s slots)
			Uplinked:  nodes, Peers: map[string]peerBlob{}, BadSources: map[string]bool{},
			StartGrace: 10 * time.Second, StallAfter: 30 * time.Second,
		}
	}
	cases := []struct {
		name   string
		self   string
		mutate func(*pullInput)
		want   pullDecision
	}{
		{"top node pulls", first, nil, pullDecision{Action: pullFromCloud}},
		{"second waits for top within grace", second, nil, pullDecision{Action: pullWait, Source: first}},
		{"second takes over when top never starts", second, func(in *pullInput) { in.Since = 0 },
			pullDecision{Action: pullFromCloud}},
		{"second waits while top makes progress", second, func(in *pullInput) {
			in.Since = 0
			in.Peers[first] = peerBlob{Fetching: true, Bytes: 10, Progress: 95 * time.Second}
		}, pullDecision{Action: pullWait, Source: first}},
		{"second takes over when top stalls", second, func(in *pullInput) {
			in.Since = 0
			in.Peers[first] = peerBlob{Fetching: true, Bytes: 10, Progress: 50 * time.Second}
		}, pullDecision{Action: pullFromCloud}},
		{"third waits for second after top stalled", third, func(in *pullInput) {
			in.Since = 0
			in.Peers[first] = peerBlob{Fetching: true, Bytes: 10, Progress: 50 * time.Second}
			in.Peers[second] = peerBlob{Fetching: true, Bytes: 5, Progress: 99 * time.Second}
		}, pullDecision{Action: pullWait, Source: second}},
		{"top waits for a lower-ranked node that took over while it was busy", first, func(in *pullInput) {
			in.Since = 0
			in.Peers[third] = peerBlob{Fetching: true, Bytes: 10, Progress: 95 * time.Second}
		}, pullDecision{Action: pullWait, Source: third}},
		{"third gives second its own grace before taking over", third, func(in *pullInput) {
			in.Since = 85 * time.Second // one grace passed, not two
		}, pullDecision{Action: pullWait, Source: second}},
		{"third takes over in its slot when neither higher node started", third, func(in *pullInput) {
			in.Since, in.TrustedMS = 75*time.Second, 25_000
		}, pullDecision{Action: pullFromCloud}},
		{"top busy past its grace leaves the turn to second", first, func(in *pullInput) {
			in.Since = 85 * time.Second
		}, pullDecision{Action: pullWait, Source: second}},
		{"top pulls when its turn comes round again", first, func(in *pullInput) {
			in.Since, in.TrustedMS = 70*time.Second, 35_000
		}, pullDecision{Action: pullFromCloud}},
		{"no takeover at the edge of a slot", second, func(in *pullInput) {
			in.Since, in.TrustedMS = 0, 10_500
		}, pullDecision{Action: pullWait, Source: second}},
		{"held on LAN: fetch from peer", third, func(in *pullInput) {
			in.Peers[first] = peerBlob{Held: true}
		}, pullDecision{Action: pullFromPeer, Source: first}},
		{"bad source is never fetched from: the turns go on", third, func(in *pullInput) {
			in.Peers[first] = peerBlob{Held: true}
			in.BadSources[first] = true
			in.Since = 85 * time.Second // past the top's grace: slot 1 is second's, as every node agrees
		}, pullDecision{Action: pullWait, Source: second}},
		{"bad source held: this node pulls in its own turn", third, func(in *pullInput) {
			in.Peers[first] = peerBlob{Held: true}
			in.BadSources[first] = true
			in.Since, in.TrustedMS = 75*time.Second, 25_000
		}, pullDecision{Action: pullFromCloud}},
		{"a bad source's cloud pull with progress is waited for", third, func(in *pullInput) {
			in.Since = 0
			in.Peers[first] = peerBlob{Fetching: true, Bytes: 10, Progress: 95 * time.Second}
			in.BadSources[first] = true
		}, pullDecision{Action: pullWait, Source: first}},
		{"no uplink anywhere: wait", "z", func(in *pullInput) { in.Uplinked = nil },
			pullDecision{Action: pullWait}},
		{"top dead (not live): next pulls", second, func(in *pullInput) {
			in.Uplinked = []string{second, third}
		}, pullDecision{Action: rankFirstIs(blob, []string{second, third}, second)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base(c.self)
			if c.mutate != nil {
				c.mutate(&in)
			}
			got := decidePull(in)
			if got.Action == pullWait && c.want.Action == pullWait && c.want.Source == "" {
				c.want.Source = got.Source
			}
			if got != c.want {
				t.Fatalf("decidePull = %+v (%s), want %+v (%s)", got, got.Action, c.want, c.want.Action)
			}
		})
	}
}

// rankFirstIs says what self should do when nodes are the live uplinked set and no one has started: pull if self
// ranks first, else wait.
func rankFirstIs(blob string, nodes []string, self string) pullAction {
	if rankPullers(blob, nodes)[0] == self {
		return pullFromCloud
	}
	return pullWait
}

// Every node of a store, each deciding alone from the same view, elects exactly one cloud puller per blob.
func TestDecidePullElectsExactlyOne(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	for i := range 500 {
		blob := fmt.Sprintf("blob-%d", i)
		pullers := 0
		for _, self := range nodes {
			d := decidePull(pullInput{Blob: blob, Self: self, Now: time.Second, Since: time.Second,
				Uplinked: nodes, StartGrace: time.Second, StallAfter: time.Second})
			if d.Action == pullFromCloud {
				pullers++
			}
		}
		if pullers != 1 {
			t.Fatalf("blob %s: %d cloud pullers, want 1", blob, pullers)
		}
	}
}

// Which peers served bad bytes is each node's own knowledge: a node that distrusts the top-ranked one (or any other)
// still elects the same single puller as the rest, before and after the top's grace.
func TestDecidePullOnePullerDespiteDistrust(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	for i := range 300 {
		blob := fmt.Sprintf("blob-%d", i)
		rank := rankPullers(blob, nodes)
		for _, since := range []time.Duration{99 * time.Second, 0} {
			pullers := 0
			for j, self := range nodes {
				bad := map[string]bool{}
				if j%2 == 0 { // half the nodes were served bad bytes by the top and by the third
					bad[rank[0]], bad[rank[2]] = true, true
				}
				d := decidePull(pullInput{Blob: blob, Self: self, Now: 100 * time.Second, Since: since,
					TrustedMS: int64(i)*7_919%1_000_000/10_000*10_000 + 5_000, Uplinked: nodes,
					Peers: map[string]peerBlob{}, BadSources: bad, StartGrace: 10 * time.Second,
					StallAfter: 30 * time.Second})
				if d.Action == pullFromCloud {
					pullers++
				}
			}
			if pullers != 1 {
				t.Fatalf("blob %s, need known since %v: %d cloud pullers, want 1", blob, since, pullers)
			}
		}
	}
}

// After an outage stranded a partial file on one node, every other slot is that node's, so the pull resumes there.
func TestTurnsFavourTheLargestPartialFile(t *testing.T) {
	const blob = "b1"
	nodes := []string{"a", "b", "c"}
	rank := rankPullers(blob, nodes)
	holder := rank[2]
	for slot := int64(0); slot < 6; slot++ {
		owners := map[string]bool{}
		for _, self := range nodes {
			in := pullInput{Blob: blob, Self: self, Now: 100 * time.Second, Since: 0, TrustedMS: slot*10_000 + 5_000,
				Uplinked: nodes, Peers: map[string]peerBlob{}, BadSources: map[string]bool{},
				StartGrace: 10 * time.Second, StallAfter: 30 * time.Second}
			if self == holder {
				in.SelfBytes = 1 << 20
			} else {
				in.Peers[holder] = peerBlob{Fetching: true, Bytes: 1 << 20, Progress: 0} // stalled long ago
			}
			if decidePull(in).Action == pullFromCloud {
				owners[self] = true
			}
		}
		if len(owners) != 1 {
			t.Fatalf("slot %d: %d nodes pull (%v), want exactly one", slot, len(owners), owners)
		}
		if slot%2 == 0 && !owners[holder] {
			t.Fatalf("slot %d: the partial file's holder does not own an even slot: %v", slot, owners)
		}
	}
}
