package node

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// lan wires harnesses together: every broadcast reaches every other live core, as the gossip layer would.
type lan struct {
	t     *testing.T
	nodes []*harness
	down  map[string]bool
	// fetches records every fetch started: sha -> list of (node, peer)
	fetches map[string][]Fetch
	by      map[string][]string
	// moving: fetches that make progress each round (node -> sha -> bytes)
	moving map[string]map[string]int64
}

func newLAN(t *testing.T, sig *signer, n int) *lan {
	l := &lan{t: t, down: map[string]bool{}, fetches: map[string][]Fetch{}, by: map[string][]string{},
		moving: map[string]map[string]int64{}}
	for range n {
		l.nodes = append(l.nodes, newHarness(t, sig, func(c *Config) { c.MaxFetches = 16 }))
	}
	l.members()
	return l
}

func (l *lan) members() {
	for _, h := range l.nodes {
		var live []string
		for _, o := range l.nodes {
			if o != h && !l.down[o.id] {
				live = append(live, o.id)
			}
		}
		h.step(MembersChanged{Live: live})
	}
}

// round advances every live node by d, answers syncs from the signer, and delivers broadcasts.
func (l *lan) round(d time.Duration) {
	var queue []struct {
		from string
		b    []byte
	}
	handle := func(h *harness, r Ready) {
		if r.Sync != nil {
			r2 := h.answer(r)
			r.Broadcast = append(r.Broadcast, r2.Broadcast...)
			r.Fetches = append(r.Fetches, r2.Fetches...)
		}
		for _, f := range r.Fetches {
			l.fetches[f.SHA256] = append(l.fetches[f.SHA256], f)
			l.by[f.SHA256] = append(l.by[f.SHA256], h.id)
			if l.moving[h.id] == nil {
				l.moving[h.id] = map[string]int64{}
			}
			l.moving[h.id][f.SHA256] = 0
		}
		for _, b := range r.Broadcast {
			queue = append(queue, struct {
				from string
				b    []byte
			}{h.id, b})
		}
	}
	for _, h := range l.nodes {
		if !l.down[h.id] {
			handle(h, h.advance(d))
			for sha, b := range l.moving[h.id] {
				l.moving[h.id][sha] = b + 2<<20
				handle(h, h.step(FetchProgress{SHA256: sha, Bytes: b + 2<<20}))
			}
		}
	}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, h := range l.nodes {
			if h.id != m.from && !l.down[h.id] {
				handle(h, h.step(GossipReceived{From: m.from, Payload: m.b}))
			}
		}
	}
}

func (l *lan) node(id string) *harness {
	for _, h := range l.nodes {
		if h.id == id {
			return h
		}
	}
	return nil
}

func TestMeshPullsEachBlobOnceThenSharesIt(t *testing.T) {
	sig := newSigner(t)
	var assets []api.Asset
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		assets = append(assets, sig.asset(n, n, nil))
	}
	sig.allDay(sig.playlist(assets...))
	l := newLAN(t, sig, 3)
	for range 10 {
		l.round(time.Second)
	}
	for _, a := range assets {
		var cloud int
		for _, f := range l.fetches[a.SHA256] {
			if f.Peer == "" {
				cloud++
			}
		}
		if cloud != 1 {
			t.Fatalf("blob %s: %d cloud pulls, want exactly 1 (%v)", a.Title, cloud, l.fetches[a.SHA256])
		}
	}
	// Complete the cloud pulls: the others then fetch from the holder over the LAN.
	for _, a := range assets {
		for i, f := range l.fetches[a.SHA256] {
			if f.Peer == "" {
				id := l.by[a.SHA256][i]
				delete(l.moving[id], a.SHA256)
				l.node(id).step(FetchResult{SHA256: a.SHA256, Kind: FetchDone})
			}
		}
	}
	for range 5 {
		l.round(time.Second)
	}
	for _, a := range assets {
		var peer int
		for _, f := range l.fetches[a.SHA256] {
			if f.Peer != "" {
				peer++
			}
		}
		if peer != 2 {
			t.Fatalf("blob %s: %d LAN fetches, want 2 (%v)", a.Title, peer, l.fetches[a.SHA256])
		}
	}
}

func TestMeshTakesOverFromAStalledPuller(t *testing.T) {
	sig := newSigner(t)
	a := sig.asset("big", "x", nil)
	sig.allDay(sig.playlist(a))
	l := newLAN(t, sig, 3)
	for range 8 {
		l.round(time.Second)
	}
	if len(l.by[a.SHA256]) != 1 {
		t.Fatalf("want one puller, got %v", l.by[a.SHA256])
	}
	first := l.by[a.SHA256][0]
	// The puller makes progress, then dies silently (its inventory still says fetching).
	l.round(time.Second)
	l.down[first] = true
	l.members()
	for range 45 {
		l.round(time.Second)
	}
	pullers := l.by[a.SHA256]
	if len(pullers) != 2 || pullers[1] == first {
		t.Fatalf("want exactly one takeover by another node, got %v", pullers)
	}
}

// A peer that served bad bytes of one blob is no source of that blob again, and is still one for the others: a corrupt
// file on its disk says nothing about the rest.
func TestBadBytesDistrustThePeerForThatBlobOnly(t *testing.T) {
	sig := newSigner(t)
	a, b := sig.asset("a", "A", nil), sig.asset("b", "B", nil)
	sig.allDay(sig.playlist(a, b))
	h := newHarness(t, sig, nil)
	h.answer(h.tick())
	h.advance(time.Second) // the needs are worked out on the tick after the catalog changed
	h.step(FetchResult{SHA256: a.SHA256, Kind: FetchFailed, Peer: "peer-x", BadBytes: true})
	na, nb := h.c.blobs.needs[a.SHA256], h.c.blobs.needs[b.SHA256]
	if na == nil || nb == nil {
		t.Fatal("the playlist's blobs are not needed")
	}
	if in := h.c.pullInput(na, nil, 0); !in.BadSources["peer-x"] {
		t.Fatal("the peer that served bad bytes of a is still a source of a")
	}
	if in := h.c.pullInput(nb, nil, 0); in.BadSources["peer-x"] {
		t.Fatal("the peer that served bad bytes of a is no longer a source of b")
	}
	if st := h.c.Status(); len(st.Transfer.BadSources) != 1 || st.Transfer.BadSources[0] != "peer-x" {
		t.Fatalf("status bad sources %v", st.Transfer.BadSources)
	}
}
