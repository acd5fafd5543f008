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

// Without the boot advance, peers that send a restarted node its forgotten items back must not leave its entry with
// two items at one counter (it would no longer encode).
func TestForgottenItemsSentBackAreRestamped(t *testing.T) {
	mk := func(self string) *State {
		s, err := NewState(DefaultConfig(self, "t1"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk("a"), mk("b")
	for _, x := range []string{"x1", "x2", "x3"} {
		if _, err := a.SetBlobHeld(restartSHA(x)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Merge(a.DeltaFor(Summary{}), nil, nil); err != nil {
		t.Fatal(err)
	}
	a2 := mk("a")                                               // lost everything
	if _, err := a2.SetBlobHeld(restartSHA("y1")); err != nil { // counter 1, like x1's
		t.Fatal(err)
	}
	if _, err := a2.Merge(b.DeltaFor(Summary{}), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := EncodeDelta(a2.DeltaFor(Summary{})); err != nil {
		t.Fatalf("entry with forgotten items sent back does not encode: %v", err)
	}
}
