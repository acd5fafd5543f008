package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lomuz/lomuz/crdt"
)

// A node that crashed after gossiping writes its last snapshot missed comes back with that older snapshot and, as
// Runner does, reports its cache's blobs before its first Tick. Its inventory writes of the new life reuse counters
// its peer already holds for other blobs, and the peer then pushes the node's previous life back. Every replica must
// still snapshot (a failed snapshot also freezes the push/pull state), and the peer must end up knowing what the node
// holds now.
func TestRestartFromOlderSnapshotKeepsSnapshotsAndInventory(t *testing.T) {
	sig := newSigner(t)
	device := uuid.NewString()
	a := newHarness(t, sig, func(c *Config) { c.Device = device })
	b := newHarness(t, sig, nil)
	a.tick()
	b.tick()
	a.step(BlobsPresent{SHA256: []string{blobOf("x1"), blobOf("x2")}})
	old := snapshotOf(t, a.c) // the last snapshot that reached the disk
	a.step(BlobsPresent{SHA256: []string{blobOf("x3"), blobOf("x4")}})
	b.step(GossipReceived{From: "push/pull", Payload: snapshotOf(t, a.c)})

	// The crash: x4 did not survive it in the cache; x5 arrived just before it.
	a2 := newHarness(t, sig, func(c *Config) { c.Device = device })
	a2.mono, a2.wall, a2.true = time.Second, epoch.Add(time.Minute), epoch.Add(time.Minute)
	if err := a2.c.Restore(old); err != nil {
		t.Fatal(err)
	}
	a2.step(BlobsPresent{SHA256: []string{blobOf("x1"), blobOf("x2"), blobOf("x3"), blobOf("x5")}})
	a2.tick()
	a2.step(BlobsPresent{SHA256: []string{blobOf("x6")}})
	a2.step(MembersChanged{Live: []string{b.id}})
	a2.advance(a2.c.cfg.GossipInterval) // a broadcast b misses; the gossip baseline is set from here on
	b.step(GossipReceived{From: "push/pull", Payload: snapshotOf(t, a2.c)})
	a2.step(GossipReceived{From: "push/pull", Payload: snapshotOf(t, b.c)})
	// From here b hears from the node by gossip only: what the node wrote anew must be in its broadcasts.
	for _, p := range a2.advance(a2.c.cfg.GossipInterval).Broadcast {
		b.step(GossipReceived{From: "gossip", Payload: p})
	}
	snapshotOf(t, b.c)
	if got, want := fmt.Sprint(b.c.State().Inventory().Items(device)), fmt.Sprint(a2.c.State().Inventory().Items(device)); got != want {
		t.Errorf("the peer's view of the node's inventory\n%s\ndiffers from the node's own\n%s", got, want)
	}
	want := map[string]bool{"x1": true, "x2": true, "x3": true, "x4": false, "x5": true, "x6": true}
	for _, h := range []*harness{a2, b} {
		for name, held := range want {
			if got := holds(h.c, device, blobOf(name)); got != held {
				t.Errorf("%v: node holds %s: %v, want %v", h, name, got, held)
			}
		}
	}
}

func snapshotOf(t *testing.T, c *Core) []byte {
	t.Helper()
	b, err := c.Snapshot()
	if err != nil {
		t.Fatalf("snapshot of %s: %v", c.cfg.Device[:8], err)
	}
	return b
}

// holds reports whether c's replica says node holds the blob.
func holds(c *Core, node, sha string) bool {
	for _, n := range c.State().Inventory().Holders(mustSHA(sha)) {
		if n == node {
			return true
		}
	}
	return false
}

func mustSHA(s string) [32]byte {
	h, err := crdt.ParseSHA256(s)
	if err != nil {
		panic(err)
	}
	return h
}
