package crdt

import "testing"

// A record or time a replica already holds byte for byte is not verified again (anti-entropy resends whole states),
// while a record differing in any byte is.
func TestHeldRecordsAreNotVerifiedAgain(t *testing.T) {
	rec := Record{Key: "asset/a1", Tenant: "t1", Rev: 3, Body: []byte(`{"v":1}`), Sig: []byte("sig")}
	always := func(Record) bool { return true }
	mk := func(self string) *State {
		s, err := NewState(DefaultConfig(self, "t1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyOrigin(OriginUpdate{From: 0, To: 3, Full: true, Records: []Record{rec}}, always); err != nil {
			t.Fatal(err)
		}
		s.ObserveTime(SignedTime{UnixMilli: 1000, Sig: []byte("ts")}, func(SignedTime) bool { return true })
		return s
	}
	a, b := mk("n1"), mk("n2")
	calls, timeCalls := 0, 0
	count := func(Record) bool { calls++; return true }
	countTime := func(SignedTime) bool { timeCalls++; return true }
	if _, err := a.Merge(b.DeltaFor(Summary{}), count, countTime); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("a held record was verified %d times", calls)
	}
	// b's floor is under its own name, which a does not hold yet: that one is verified once.
	if timeCalls != 1 {
		t.Fatalf("time floors verified %d times, want 1 (the new one only)", timeCalls)
	}
	if _, err := a.Merge(b.DeltaFor(Summary{}), count, countTime); err != nil {
		t.Fatal(err)
	}
	if timeCalls != 1 {
		t.Fatalf("a held floor was verified again (%d calls)", timeCalls)
	}
	forged := rec
	forged.Sig = []byte("other")
	d := Delta{Tenant: "t1", Catalog: CatalogDelta{Records: []Record{forged}}}
	ch, err := a.Merge(d, func(Record) bool { calls++; return false }, countTime)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || ch.Rejected != 1 {
		t.Fatalf("a record differing from the held one must be verified and rejected: calls %d, rejected %d", calls, ch.Rejected)
	}
}
