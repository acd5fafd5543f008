package crdt

import (
	"encoding/hex"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestConvergenceAcrossRestarts: replicas also crash and restart from their last snapshot, forgetting inventory
// writes they had already gossiped, and reuse those counters (a boot advance too low, or none). Every replica's whole
// state must encode at every step (it is the node's snapshot and push/pull state), the writes of each node's last
// life must win everywhere, and once each owner re-asserts what it holds (as the node core does from its cache) all
// replicas agree with the owners.
func TestConvergenceAcrossRestarts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t, rapid.IntRange(2, 4).Draw(t, "nodes"))
		w.split, w.restarts = rapid.Bool().Draw(t, "split"), true
		w.run(t)
		w.checkLastLife(t)
		for _, s := range w.nodes {
			w.reassert(t, s)
		}
		w.heal(t)
		w.check(t)
	})
}

func (w *world) noteWrite(node, sha string) {
	if w.wrote[node] == nil {
		w.wrote[node] = map[string]bool{}
	}
	w.wrote[node][sha] = true
}

// checkEncodes fails when a replica's whole state no longer encodes.
func (w *world) checkEncodes(t *rapid.T) {
	for _, s := range w.nodes {
		if _, err := EncodeDelta(s.DeltaFor(Summary{})); err != nil {
			t.Fatalf("state of %s does not encode: %v", s.Self(), err)
		}
	}
}

func (w *world) save(i int) {
	b, err := EncodeDelta(w.nodes[i].DeltaFor(Summary{}))
	if err != nil {
		w.t.Fatalf("snapshot of n%d: %v", i, err)
	}
	w.saved[i] = b
}

// restart replaces replica i by a new one that lost the inventory writes since its last snapshot (the rest of the
// state is kept: play logs, acks and time floors have their own durable paths). Like the node at boot, it then
// states what it holds (its cache survived), possibly advancing its counters first, possibly too little.
func (w *world) restart(t *rapid.T, i int) {
	old := w.nodes[i]
	self := old.Self()
	s, err := NewState(old.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rest := old.DeltaFor(Summary{})
	rest.Inventory = slices.DeleteFunc(rest.Inventory, func(id InventoryDelta) bool { return id.Node == self })
	var snap Delta
	if b := w.saved[i]; b != nil {
		if snap, err = DecodeDelta(b); err != nil {
			t.Fatal(err)
		}
	}
	snap.Tenant = testTenant
	snap.Catalog, snap.Plays, snap.Times, snap.Overrides = CatalogDelta{}, nil, nil, nil
	snap.Inventory = slices.DeleteFunc(snap.Inventory, func(id InventoryDelta) bool { return id.Node != self })
	w.nodes[i] = s
	w.merge(i, rest)
	w.merge(i, snap)
	w.lastSent[i] = Summary{}
	w.wrote[self] = nil
	t.Logf("%s restarts from its snapshot at %d", self, s.Inventory().Version(self))
	advance := rapid.IntRange(0, 2).Draw(t, "advance")
	if advance == 1 {
		s.AdvanceInventory(rapid.Uint64Range(0, old.inventory.entry(self).max+3).Draw(t, "floor"))
	}
	w.reassert(t, s)
	if advance == 2 {
		s.AdvanceInventory(rapid.Uint64Range(0, old.inventory.entry(self).max+3).Draw(t, "floor"))
	}
}

// reassert writes the owner's truth (the model) over whatever its own entry says differently.
func (w *world) reassert(t *rapid.T, s *State) {
	self := s.Self()
	truth := w.blobs[self]
	var shas []string
	for _, it := range s.Inventory().Items(self) {
		if sha := hexSHA(it.SHA); truth[sha] != it.State {
			shas = append(shas, sha)
		}
	}
	for _, sha := range sortedKeys(truth) {
		if it, ok := s.Inventory().Blob(self, mustParseSHA(t, sha)); !ok || it.State != truth[sha] {
			shas = append(shas, sha)
		}
	}
	for _, sha := range shas {
		var wrote bool
		var err error
		switch truth[sha] {
		case BlobHeld:
			wrote, err = s.SetBlobHeld(sha)
		case BlobFetching:
			wrote, err = s.SetBlobFetching(sha, 1, int64(w.rev))
		default:
			wrote, err = s.RemoveBlob(sha)
		}
		if err != nil {
			t.Fatal(err)
		}
		if wrote {
			w.noteWrite(self, sha)
		}
	}
}

// checkLastLife: what each node wrote since its last restart (a write that changed its entry) is what every replica
// holds of it.
func (w *world) checkLastLife(t *rapid.T) {
	for _, s := range w.nodes {
		for _, n := range w.nodes {
			node := n.Self()
			for _, sha := range sortedKeys(w.wrote[node]) {
				it, ok := s.Inventory().Blob(node, mustParseSHA(t, sha))
				want := w.blobs[node][sha]
				if got := map[bool]BlobState{true: it.State}[ok]; got != want {
					for _, r := range w.nodes {
						e := r.inventory.entry(node)
						t.Logf("%s: entry of %s v=%d max=%d base=%d life=%d %v", r.Self(), node, e.version, e.max, e.base, r.life, counters(e.all()))
					}
					t.Fatalf("%s holds %s's last write of %s as %v, want %v", s.Self(), node, sha[:8], got, want)
				}
			}
		}
	}
}

func hexSHA(h [32]byte) string { return hex.EncodeToString(h[:]) }

func mustParseSHA(t *rapid.T, sha string) [32]byte {
	h, err := ParseSHA256(sha)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *invEntry) all() []BlobItem {
	var out []BlobItem
	for id := range e.items {
		it, _ := e.get(id)
		out = append(out, it)
	}
	slices.SortFunc(out, compareItems)
	return out
}
