package crdt

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func restartSHA(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// A node restarted from an older snapshot reuses inventory counters its peers already hold; when they send its
// older items back, the entry must stay encodable (strictly increasing counters) and the peers must take the
// node's newest items.
func TestRestartFromOlderSnapshotKeepsInventoryValid(t *testing.T) {
	mk := func(self string) *State {
		s, err := NewState(DefaultConfig(self, "t1"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk("a"), mk("b")
	for _, x := range []string{"x1", "x2"} {
		if _, err := a.SetBlobHeld(restartSHA(x)); err != nil {
			t.Fatal(err)
		}
	}
	snap := a.DeltaFor(Summary{}) // saved at counter 2
	for _, x := range []string{"x3", "x4"} {
		if _, err := a.SetBlobHeld(restartSHA(x)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Merge(a.DeltaFor(Summary{}), nil, nil); err != nil {
		t.Fatal(err)
	}
	// Restart from the snapshot. Without AdvanceInventory the new writes below reuse counters 3 and 4, which b
	// already holds for other items.
	a2 := mk("a")
	if _, err := a2.Merge(snap, nil, nil); err != nil {
		t.Fatal(err)
	}
	a2.AdvanceInventory(1000)
	for _, x := range []string{"y1", "y2"} {
		if _, err := a2.SetBlobHeld(restartSHA(x)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a2.Merge(b.DeltaFor(a2.Summary()), nil, nil); err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeDelta(a2.DeltaFor(Summary{}))
	if err != nil {
		t.Fatalf("the restarted node's state no longer encodes: %v", err)
	}
	if _, err := DecodeDelta(enc); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Merge(a2.DeltaFor(b.Summary()), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"y1", "y2"} {
		h, _ := ParseSHA256(restartSHA(x))
		if it, ok := b.Inventory().Blob("a", h); !ok || it.State != BlobHeld {
			t.Fatalf("peer did not learn the restarted node's new item %s: %+v %v", x, it, ok)
		}
	}
}

// Without the boot advance, a node that lost everything reuses counters its peer holds for other blobs. The peer
// then holds two items of the node at one counter, which must still encode (it is the peer's snapshot and push/pull
// state); once the node hears of its earlier life it writes its items anew above it, and an incremental delta then
// carries them to the peer.
func TestReusedCountersStayEncodableAndAreWrittenAnew(t *testing.T) {
	a, b := newTestState(t, "a"), newTestState(t, "b")
	for _, x := range []string{"x1", "x2", "x3"} {
		if _, err := a.SetBlobHeld(restartSHA(x)); err != nil {
			t.Fatal(err)
		}
	}
	mustMerge(t, b, a.DeltaFor(Summary{}))
	a2 := newTestState(t, "a")                                  // lost everything
	if _, err := a2.SetBlobHeld(restartSHA("y1")); err != nil { // counter 1, like x1's
		t.Fatal(err)
	}
	mustMerge(t, b, a2.DeltaFor(Summary{}))
	roundTrip(t, b.DeltaFor(Summary{}))
	if ch := mustMerge(t, a2, b.DeltaFor(Summary{})); ch.Reissued <= 3 {
		t.Fatalf("the node did not write its item anew above its earlier life: first at %d", ch.Reissued)
	}
	roundTrip(t, a2.DeltaFor(Summary{}))
	mustMerge(t, b, a2.DeltaFor(b.Summary()))
	y1, _ := ParseSHA256(restartSHA("y1"))
	if it, ok := b.Inventory().Blob("a", y1); !ok || it.Counter <= 3 {
		t.Fatalf("peer holds the node's y1 as %+v (%v), want it above counter 3", it, ok)
	}
	if got, want := observe(b, true), observe(a2, true); got != want {
		t.Fatalf("replicas differ:\n%s", diffLines(want, got))
	}
}

// Two lives of a node can write one blob at one counter with different words; every replica must keep the same.
func TestOneCounterTwoWordsConverge(t *testing.T) {
	x := restartSHA("x")
	a, b, c := newTestState(t, "a"), newTestState(t, "b"), newTestState(t, "c")
	if _, err := a.SetBlobFetching(x, 10, 5); err != nil {
		t.Fatal(err)
	}
	first := a.DeltaFor(Summary{})
	a2 := newTestState(t, "a")
	if _, err := a2.SetBlobHeld(x); err != nil {
		t.Fatal(err)
	}
	second := a2.DeltaFor(Summary{})
	mustMerge(t, b, first)
	mustMerge(t, b, second)
	mustMerge(t, c, second)
	mustMerge(t, c, first)
	if got, want := observe(c, true), observe(b, true); got != want {
		t.Fatalf("merge order decided the word:\n%s", diffLines(want, got))
	}
}
