package node

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

// gossiped sends the core's next gossip round and returns the records it carries, by gossip and directly.
func gossiped(t *testing.T, r Ready) (broadcast, direct map[string]bool) {
	t.Helper()
	collect := func(payloads [][]byte) map[string]bool {
		keys := map[string]bool{}
		for _, b := range payloads {
			d, err := crdt.DecodeDelta(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range d.Catalog.Records {
				keys[rec.Key] = true
			}
		}
		return keys
	}
	return collect(r.Broadcast), collect(r.Direct)
}

// A node that synced before any peer appeared gossips what it learned once peers are there, and a record too big
// for a gossip packet goes directly.
func TestGossipAfterPeersAppearAndBigRecordsDirect(t *testing.T) {
	sig := newSigner(t)
	var assets []string
	for i := range 60 {
		a := sig.asset("track "+string(rune('a'+i%26))+string(rune('a'+i/26)), "artist", nil)
		assets = append(assets, a.ID)
	}
	pl := sig.playlist()
	pl.AssetIDs = assets // a playlist of 60 assets: over 2 kB, more than a gossip packet
	sig.put("playlist/"+pl.ID, pl)
	h := newHarness(t, sig, nil)
	r := h.answer(h.tick())
	if len(r.Broadcast)+len(r.Direct) != 0 {
		t.Fatalf("alone, the node gossiped %d+%d payloads", len(r.Broadcast), len(r.Direct))
	}
	h.step(MembersChanged{Live: []string{"peer-1"}})
	r = h.advance(time.Second)
	b, d := gossiped(t, r)
	if len(b)+len(d) == 0 {
		t.Fatal("what the node synced alone was never gossiped once a peer appeared")
	}
	if !b["playlist/"+pl.ID] && !d["playlist/"+pl.ID] {
		t.Fatalf("the big playlist went nowhere: broadcast %d records, direct %d", len(b), len(d))
	}
	if len(r.Direct) == 0 {
		t.Fatal("a record over the packet budget must go directly")
	}
}
