package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func TestRecordSigningBytesLayout(t *testing.T) {
	r := Record{Key: "asset/a", Tenant: "t", Rev: 258, Deleted: true, Body: nil, Sig: []byte("ignored")}
	got := hex.EncodeToString(r.SigningBytes())
	want := "0000000f" + hex.EncodeToString([]byte("lomuz/record/v1")) +
		"00000001" + "74" + "00000007" + hex.EncodeToString([]byte("asset/a")) +
		"0000000000000102" + "01" + "00000000"
	if got != want {
		t.Fatalf("signing bytes\n got %s\nwant %s", got, want)
	}
	r2 := r
	r2.Sig = []byte("other")
	if string(r.SigningBytes()) != string(r2.SigningBytes()) {
		t.Fatal("signature is part of the signed bytes")
	}
	// Moving bytes between fields must change the signed bytes (length prefixes).
	a := Record{Key: "asset/ab", Tenant: "t", Rev: 1, Body: []byte("c")}
	b := Record{Key: "asset/a", Tenant: "t", Rev: 1, Body: []byte("bc")}
	if string(a.SigningBytes()) == string(b.SigningBytes()) {
		t.Fatal("field boundaries are ambiguous")
	}
	st := SignedTime{UnixMilli: -1}
	if hex.EncodeToString(st.SigningBytes()) != "0000000d"+hex.EncodeToString([]byte("lomuz/time/v1"))+"ffffffffffffffff" {
		t.Fatalf("time signing bytes %x", st.SigningBytes())
	}
}

func TestStateHashOrderIndependent(t *testing.T) {
	var a, b StateHash
	a.Add("asset/1", 1)
	a.Add("asset/2", 5)
	a.Add("asset/3", 7)
	b.Add("asset/3", 7)
	b.Add("asset/1", 1)
	b.Add("asset/2", 5)
	if a != b {
		t.Fatal("order changes the hash")
	}
	b.Remove("asset/2", 5)
	if a == b {
		t.Fatal("remove did nothing")
	}
	b.Add("asset/2", 5)
	if a != b {
		t.Fatal("remove then add is not the identity")
	}
	var c StateHash
	c.Add("asset/1", 1)
	c.Remove("asset/1", 1)
	if c != (StateHash{}) {
		t.Fatalf("empty set hash %s", c.Hex())
	}
	var d StateHash
	d.Add("asset/1", 2)
	if d == a || len(d.Hex()) != 64 {
		t.Fatal("rev not hashed")
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"asset/0b0c4f3e-9d2a-4f11-8c5e-2b7d3f9a1c00", "devices/s1", "store/x", "playlist/p.1", "schedule/s_1"} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("%q: %v", k, err)
		}
	}
	for _, k := range []string{"", "asset", "asset/", "song/1", "asset/a/b", "asset/a b", "asset/" + string(make([]byte, 65)), "Asset/1"} {
		if ValidateKey(k) == nil {
			t.Errorf("%q accepted", k)
		}
	}
}

func TestHLC(t *testing.T) {
	var h HLC
	h1 := h.Tick(100)
	h2 := h1.Tick(100)
	h3 := h2.Tick(50) // the wall clock went back: still after
	if !(h.Less(h1) && h1.Less(h2) && h2.Less(h3)) {
		t.Fatalf("not increasing: %v %v %v", h1, h2, h3)
	}
	remote := HLC{WallMS: 500, Logical: 3}
	h4 := h3.Observe(remote).Tick(200)
	if !remote.Less(h4) {
		t.Fatalf("tick after observe %v not after remote %v", h4, remote)
	}
	top := HLC{WallMS: 7, Logical: ^uint32(0)}
	if n := top.Tick(0); !top.Less(n) {
		t.Fatalf("logical overflow: %v", n)
	}
}

func TestVersionVector(t *testing.T) {
	a := VersionVector{"n1": 3, "n2": 1}
	b := VersionVector{"n2": 4}
	if a.Dominates(b) || b.Dominates(a) {
		t.Fatal("concurrent vectors ordered")
	}
	c := a.Clone()
	c.Merge(b)
	if !c.Dominates(a) || !c.Dominates(b) || c.Get("n2") != 4 || !c.Contains(Dot{"n1", 3}) || c.Contains(Dot{"n1", 4}) {
		t.Fatalf("merge %v", c)
	}
}

func TestMergeRejectsForgedAndForeign(t *testing.T) {
	s := newTestState(t, "n1")
	good := signRecord(Record{Key: "asset/a", Tenant: testTenant, Rev: 1, Body: []byte(`{}`)})
	forged := good
	forged.Rev = 2 // signature no longer matches
	foreign := signRecord(Record{Key: "asset/b", Tenant: "tenant-2", Rev: 1, Body: []byte(`{}`)})
	d := Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{good, forged}}}
	// forged sorts after good (rev 2), same key: the delta is invalid as a whole.
	if _, err := s.Merge(d, verifyRecord, verifyTime); err == nil {
		t.Fatal("duplicate key accepted")
	}
	forged.Key = "asset/c"
	d.Catalog.Records = []Record{good, forged}
	ch := mustMerge(t, s, d)
	if ch.Rejected != 1 || len(ch.Records) != 1 || s.Catalog().Len() != 1 {
		t.Fatalf("changes %+v, len %d", ch, s.Catalog().Len())
	}
	if _, err := s.Merge(Delta{Tenant: "tenant-2", Catalog: CatalogDelta{Records: []Record{foreign}}}, verifyRecord, verifyTime); err == nil {
		t.Fatal("foreign tenant's delta merged")
	}
	// A time that fails verification is dropped.
	bad := signTime(5000)
	bad.UnixMilli++
	ch = mustMerge(t, s, Delta{Tenant: testTenant, Times: []NodeTime{{Node: "n2", Time: bad}}})
	if ch.Rejected != 1 || ch.TimeFloor {
		t.Fatalf("forged time: %+v", ch)
	}
	ch = mustMerge(t, s, Delta{Tenant: testTenant, Times: []NodeTime{{Node: "n2", Time: signTime(5000)}}})
	if !ch.TimeFloor || s.TimeFloors().Max().UnixMilli != 5000 {
		t.Fatalf("good time: %+v", ch)
	}
}

func TestApplyOriginAllOrNothing(t *testing.T) {
	s := newTestState(t, "n1")
	r1 := signRecord(Record{Key: "asset/a", Tenant: testTenant, Rev: 1, Body: []byte(`1`)})
	r2 := signRecord(Record{Key: "asset/b", Tenant: testTenant, Rev: 2, Body: []byte(`2`)})
	if _, err := s.ApplyOrigin(OriginUpdate{From: 0, To: 2, Records: []Record{r1, r2}}, verifyRecord); err != nil {
		t.Fatal(err)
	}
	if s.Catalog().Watermark() != 2 {
		t.Fatalf("watermark %d", s.Catalog().Watermark())
	}
	var want StateHash
	want.Add("asset/a", 1)
	want.Add("asset/b", 2)
	if s.Catalog().StateHash() != want {
		t.Fatal("state hash")
	}
	bad := signRecord(Record{Key: "asset/c", Tenant: testTenant, Rev: 3, Body: []byte(`3`)})
	bad.Body = []byte(`4`)
	del := signRecord(Record{Key: "asset/a", Tenant: testTenant, Rev: 3, Deleted: true})
	before := observe(s, true)
	if _, err := s.ApplyOrigin(OriginUpdate{From: 2, To: 3, Records: []Record{del, bad}}, verifyRecord); err == nil {
		t.Fatal("forged origin update applied")
	}
	if observe(s, true) != before || s.Catalog().Watermark() != 2 {
		t.Fatal("a rejected origin update changed the state")
	}
	// A full resync that no longer lists asset/b removes it and sets the horizon.
	r3 := signRecord(Record{Key: "asset/c", Tenant: testTenant, Rev: 3, Body: []byte(`3`)})
	ch, err := s.ApplyOrigin(OriginUpdate{To: 3, Full: true, Records: []Record{r1, r3}}, verifyRecord)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Removed != 1 || s.Catalog().Horizon() != 3 || s.Catalog().Watermark() != 3 {
		t.Fatalf("full resync: %+v horizon %d", ch, s.Catalog().Horizon())
	}
	// A stale record at or below the watermark for a key not held is ignored.
	ch = mustMerge(t, s, Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{r2}}})
	if ch.Stale != 1 {
		t.Fatalf("stale record: %+v", ch)
	}
}

func TestPlayChain(t *testing.T) {
	s := newTestState(t, "n1")
	var evs []PlayEvent
	for i := range 4 {
		ev, err := s.AppendPlay(PlayEvent{HLC: s.Clock(int64(1000 + i)), AssetID: "a1", SHA256: shaOf(1),
			StartedAt: int64(1000 + i), DurationMS: 180000, Fallback: FallbackScheduled, Zone: "z1"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if evs[0].Seq != 1 || evs[3].Seq != 4 || evs[1].PrevHash != evs[0].Hash() || evs[0].PrevHash != ([32]byte{}) {
		t.Fatal("chain not built")
	}
	if r := s.PlayLog().Chain("n1"); r.Have != 4 || len(r.Broken) != 0 {
		t.Fatalf("chain %+v", r)
	}
	// A peer receives 1, 2 and a forged 4: the gap and the forgery show.
	p := newTestState(t, "n2")
	forged := evs[3]
	forged.DurationMS = 1
	forged.PrevHash = [32]byte{1}
	mustMerge(t, p, Delta{Tenant: testTenant, Plays: []PlayDelta{{Node: "n1", Events: []PlayEvent{evs[0], evs[1], forged}}}})
	mustMerge(t, p, Delta{Tenant: testTenant, Plays: []PlayDelta{{Node: "n1", Events: []PlayEvent{evs[2]}}}})
	if r := p.PlayLog().Chain("n1"); r.Have != 4 || len(r.Broken) != 1 || r.Broken[0] != 4 {
		t.Fatalf("forgery not visible: %+v", r)
	}
	// Origin acks 1..3: every replica prunes them, and the chain still links through the ack.
	if err := s.AckPlays("n1", 3); err != nil {
		t.Fatal(err)
	}
	mustMerge(t, p, s.DeltaFor(p.Summary()))
	if got := p.PlayLog().Pending("n1"); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("pending after ack %+v", got)
	}
	next, err := s.AppendPlay(PlayEvent{HLC: s.Clock(2000), StartedAt: 2000, Fallback: FallbackSilence, Zone: "z1"})
	if err != nil || next.Seq != 5 || next.PrevHash != evs[3].Hash() {
		t.Fatalf("append after ack: %+v %v", next, err)
	}
	if err := s.AckPlays("n1", 9); err == nil {
		t.Fatal("ack of an event not held accepted")
	}
	// A relay that holds n1's 5 but not 4 (not gossiped to it yet) cannot ack 5: that would prune 4 everywhere.
	q := newTestState(t, "n3")
	mustMerge(t, q, Delta{Tenant: testTenant, Plays: []PlayDelta{{Node: "n1", Ack: s.PlayLog().Acked("n1"),
		Events: []PlayEvent{next}}}})
	if err := q.AckPlays("n1", 5); err == nil {
		t.Fatal("ack across a hole (event 4 not held) accepted")
	}
	if r := q.PlayLog().Chain("n1"); r.Acked != 3 || r.Max != 5 {
		t.Fatalf("a refused ack changed the log: %+v", r)
	}
}

func TestDecodeRejects(t *testing.T) {
	d := Delta{Tenant: testTenant}
	b, err := EncodeDelta(d)
	if err != nil {
		t.Fatal(err)
	}
	b2 := append([]byte(nil), b...)
	b2[1] = 9
	if _, err := DecodeDelta(b2); !errors.Is(err, ErrVersion) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := DecodeDelta(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := DecodeDelta(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing: %v", err)
	}
	if _, err := DecodeDelta(make([]byte, MaxDeltaBytes+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := DecodeSummary(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("delta read as summary: %v", err)
	}
}

// TestRevIndexRedelivery: a record dropped by a reset and merged again at the same revision is sent once.
func TestRevIndexRedelivery(t *testing.T) {
	s := newTestState(t, "n1")
	r := signRecord(Record{Key: "asset/a", Tenant: testTenant, Rev: 3, Body: []byte(`1`)})
	mustMerge(t, s, Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{r}}})
	// A reset from a replica complete through 5 that holds no key drops it.
	ch := mustMerge(t, s, Delta{Tenant: testTenant, Catalog: CatalogDelta{Complete: 5, Reset: true, Horizon: 5}})
	if ch.Removed != 1 {
		t.Fatalf("reset removed %d", ch.Removed)
	}
	// A replica complete through 5 offers it again (it exists after all, at a newer horizon's sender).
	mustMerge(t, s, Delta{Tenant: testTenant, Catalog: CatalogDelta{Complete: 5, Records: []Record{r}}})
	d := s.DeltaFor(Summary{})
	if len(d.Catalog.Records) != 1 {
		t.Fatalf("records in full delta: %d", len(d.Catalog.Records))
	}
	roundTrip(t, d)
}

// TestSplitBudget: every part fits the budget, an element larger than any part goes to rest, and a part alone
// brings its own records in.
func TestSplitBudget(t *testing.T) {
	s := newTestState(t, "n1")
	var recs []Record
	for i := range 40 {
		recs = append(recs, signRecord(Record{Key: fmt.Sprintf("asset/a%02d", i), Tenant: testTenant, Rev: uint64(i + 1),
			Body: []byte(`{"title":"a track with a long enough title"}`)}))
	}
	big := signRecord(Record{Key: "playlist/big", Tenant: testTenant, Rev: 41, Body: bytes.Repeat([]byte("x"), 5000)})
	recs = append(recs, big)
	if _, err := s.ApplyOrigin(OriginUpdate{To: 41, Records: recs}, verifyRecord); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := s.SetBlobHeld(shaOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	d := s.DeltaFor(Summary{})
	parts, rest, err := Split(d, 1300)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Catalog.Records) != 1 || rest.Catalog.Records[0].Key != "playlist/big" {
		t.Fatalf("rest %v", rest)
	}
	if len(parts) < 5 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, p := range parts {
		b, err := EncodeDelta(p)
		if err != nil || len(b) > 1300 {
			t.Fatalf("part %d: %d bytes, %v", i, len(b), err)
		}
	}
	// The last part alone: its records enter, its claim does not apply to an empty replica.
	o := newTestState(t, "n2")
	ch := mustMerge(t, o, parts[len(parts)-1])
	if o.Catalog().Watermark() != 0 {
		t.Fatalf("a later part's claim applied to an empty replica: W=%d (%d records entered)", o.Catalog().Watermark(), len(ch.Records))
	}
	for _, p := range parts {
		mustMerge(t, o, p)
	}
	mustMerge(t, o, rest)
	if observe(o, true) != observe(s, true) {
		t.Fatalf("parts and rest differ from the source:\n%s", diffLines(observe(s, true), observe(o, true)))
	}
	if _, _, err := Split(d, 20); err == nil {
		t.Fatal("a budget below the header accepted")
	}
}

// TestFullResyncRestoresMissing: a replica that lost a record below its horizon gets it back from origin's full
// answer (the case a state hash mismatch exists for).
func TestFullResyncRestoresMissing(t *testing.T) {
	s := newTestState(t, "n1")
	a := signRecord(Record{Key: "asset/a", Tenant: testTenant, Rev: 1, Body: []byte(`1`)})
	b := signRecord(Record{Key: "asset/b", Tenant: testTenant, Rev: 2, Body: []byte(`2`)})
	if _, err := s.ApplyOrigin(OriginUpdate{To: 2, Full: true, Records: []Record{b}}, verifyRecord); err != nil {
		t.Fatal(err)
	}
	if s.Catalog().Horizon() != 2 || s.Catalog().Len() != 1 {
		t.Fatalf("horizon %d, %d records", s.Catalog().Horizon(), s.Catalog().Len())
	}
	if _, err := s.ApplyOrigin(OriginUpdate{To: 2, Full: true, Records: []Record{a, b}}, verifyRecord); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Catalog().Get("asset/a"); !ok {
		t.Fatal("origin's full answer did not restore a record below the horizon")
	}
	var want StateHash
	want.Add("asset/a", 1)
	want.Add("asset/b", 2)
	if s.Catalog().StateHash() != want {
		t.Fatal("state hash after the full answer")
	}
}
