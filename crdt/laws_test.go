package crdt

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// replicasFrom runs a random history on a store of three replicas and returns them. The history forgets no
// deletion (no tombstone pruning, no origin full resync): the laws are those of the join; forgetting is the one
// step outside it, and TestConvergenceWithPruning covers it.
func replicasFrom(t *rapid.T) []*State {
	w := newWorld(t, 3)
	w.noFull = true
	w.split = rapid.Bool().Draw(t, "split")
	for range rapid.IntRange(0, 80).Draw(t, "steps") {
		w.step(t)
	}
	return w.nodes
}

func full(s *State) Delta { return s.DeltaFor(Summary{}) }

func fresh(t *rapid.T, self string, ds ...Delta) *State {
	s, err := NewState(DefaultConfig(self, testTenant))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if _, err := s.Merge(roundTrip(t, d), verifyRecord, verifyTime); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fingerprint is what two replicas that merged the same deltas must agree on, claims included.
func fingerprint(s *State) string {
	return observe(s, true) + fmt.Sprintf("W=%d H=%d", s.Catalog().Watermark(), s.Catalog().Horizon())
}

func sameState(t *rapid.T, what string, a, b *State) {
	if fa, fb := fingerprint(a), fingerprint(b); fa != fb {
		t.Fatalf("%s: states differ:\n%s", what, diffLines(fa, fb))
	}
}

// TestMergeLaws: merge is commutative, associative and idempotent; a full-state copy is lossless.
func TestMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := replicasFrom(t)
		a, b, c := full(r[0]), full(r[1]), full(r[2])

		sameState(t, "copy", r[0], fresh(t, r[0].Self(), a))
		sameState(t, "commutative", fresh(t, "x", a, b), fresh(t, "x", b, a))
		sameState(t, "idempotent", fresh(t, "x", a), fresh(t, "x", a, a))
		sameState(t, "idempotent after others", fresh(t, "x", a, b, c), fresh(t, "x", a, b, c, b, a))
		ab := full(fresh(t, "x", a, b))
		bc := full(fresh(t, "x", b, c))
		sameState(t, "associative", fresh(t, "x", ab, c), fresh(t, "x", a, bc))
	})
}

// TestDeltaEqualsFullMerge: merge(a, b.DeltaFor(a.Summary())) == merge(a, b), and the delta is never larger.
func TestDeltaEqualsFullMerge(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := replicasFrom(t)
		a, b := r[0], r[1]
		viaDelta := fresh(t, a.Self(), full(a))
		d := b.DeltaFor(a.Summary())
		if _, err := viaDelta.Merge(roundTrip(t, d), verifyRecord, verifyTime); err != nil {
			t.Fatal(err)
		}
		viaFull := fresh(t, a.Self(), full(a), full(b))
		sameState(t, "delta vs full", viaDelta, viaFull)
		db, _ := EncodeDelta(d)
		fb, _ := EncodeDelta(full(b))
		if len(db) > len(fb) {
			t.Fatalf("delta of %d bytes larger than the full state's %d", len(db), len(fb))
		}
		// Nothing is left to send: b's delta for the merged state changes nothing (it may repeat the few items a
		// summary cannot name, those held beyond a gap).
		before := fingerprint(viaDelta)
		back := b.DeltaFor(viaDelta.Summary())
		if _, err := viaDelta.Merge(roundTrip(t, back), verifyRecord, verifyTime); err != nil {
			t.Fatal(err)
		}
		if after := fingerprint(viaDelta); after != before {
			t.Fatalf("a second delta %v still changed the state:\n%s", back, diffLines(before, after))
		}
	})
}

// TestSplitPartsEqualWhole: merging every part of a split delta, in any order, equals merging it whole.
func TestSplitPartsEqualWhole(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := replicasFrom(t)
		a, b := r[0], r[1]
		d := b.DeltaFor(a.Summary())
		whole := fresh(t, a.Self(), full(a), d)
		parts, rest, err := Split(d, rapid.IntRange(120, 1500).Draw(t, "budget"))
		if err != nil {
			t.Fatal(err)
		}
		if !rest.Empty() {
			parts = append(parts, rest)
		}
		idx := make([]int, len(parts))
		for i := range idx {
			idx[i] = i
		}
		ds := []Delta{full(a)}
		for _, i := range rapid.Permutation(idx).Draw(t, "order") {
			ds = append(ds, parts[i])
		}
		inParts := fresh(t, a.Self(), ds...)
		// Claims narrowed per part may leave the watermark lower when parts come out of order; the data must match,
		// and one more anti-entropy round must close the rest.
		if fa, fb := observe(whole, true), observe(inParts, true); fa != fb {
			t.Fatalf("parts and whole differ:\n%s", diffLines(fa, fb))
		}
		if _, err := inParts.Merge(roundTrip(t, b.DeltaFor(inParts.Summary())), verifyRecord, verifyTime); err != nil {
			t.Fatal(err)
		}
		sameState(t, "parts then one round", whole, inParts)
	})
}
