package crdt

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for every decoder. Their seed corpus is committed in testdata/fuzz (regenerate it with
// `go test -run TestFuzzSeeds -write-seeds`); `go test` runs it, `make fuzz` explores further.

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the committed fuzz seed corpus in testdata/fuzz")

// FuzzDecodeDelta: any input either fails with a clear error or decodes to a delta whose encoding is the input
// itself (one value, one encoding), that merges without panic, and that splits into parts that decode.
func FuzzDecodeDelta(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDelta(b)
		if err != nil {
			return
		}
		again, err := EncodeDelta(d)
		if err != nil {
			t.Fatalf("decoded delta does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", b, again)
		}
		s, err := NewState(DefaultConfig("fuzz", d.Tenant))
		if err != nil {
			t.Fatal(err)
		}
		// Accept every signature, so that all of merge runs on the hostile input.
		if _, err := s.Merge(d, func(Record) bool { return true }, func(SignedTime) bool { return true }); err != nil {
			t.Fatalf("a decoded delta does not merge: %v", err)
		}
		if _, err := EncodeDelta(s.DeltaFor(Summary{})); err != nil {
			t.Fatalf("state after merge does not encode: %v", err)
		}
		if _, err := EncodeSummary(s.Summary()); err != nil {
			t.Fatalf("summary after merge does not encode: %v", err)
		}
		parts, _, err := Split(d, 1300)
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		for _, p := range parts {
			pb, err := EncodeDelta(p)
			if err != nil || len(pb) > 1300 {
				t.Fatalf("part of %d bytes, err %v", len(pb), err)
			}
		}
	})
}

// FuzzDecodeSummary: any input fails cleanly or decodes canonically, and a populated state answers it.
func FuzzDecodeSummary(f *testing.F) {
	s := seedState(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		sum, err := DecodeSummary(b)
		if err != nil {
			return
		}
		again, err := EncodeSummary(sum)
		if err != nil {
			t.Fatalf("decoded summary does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", b, again)
		}
		if _, err := EncodeDelta(s.DeltaFor(sum)); err != nil {
			t.Fatalf("delta for a decoded summary does not encode: %v", err)
		}
	})
}

// seedState is a small replica with something of every kind, including a pruned tombstone (so deltas carry a
// reset) and a peer's entries.
func seedState(tb testing.TB) *State {
	s, err := NewState(DefaultConfig("n1", testTenant))
	if err != nil {
		tb.Fatal(err)
	}
	recs := []Record{
		signRecord(Record{Key: "asset/0b0c4f3e-9d2a-4f11-8c5e-2b7d3f9a1c00", Tenant: testTenant, Rev: 3, Body: []byte(`{"title":"a"}`)}),
		signRecord(Record{Key: "playlist/p1", Tenant: testTenant, Rev: 4, Body: []byte(`{"assets":["a"]}`)}),
		signRecord(Record{Key: "schedule/s1", Tenant: testTenant, Rev: 5, Deleted: true}),
		signRecord(Record{Key: "store/st1", Tenant: testTenant, Rev: 6, Body: []byte(`{}`)}),
	}
	if _, err := s.ApplyOrigin(OriginUpdate{To: 6, Records: recs}, verifyRecord); err != nil {
		tb.Fatal(err)
	}
	s.PruneTombstones(5)
	late := signRecord(Record{Key: "devices/st1", Tenant: testTenant, Rev: 9, Body: []byte(`{"keys":[]}`)})
	if _, err := s.Merge(Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{late}}}, verifyRecord, verifyTime); err != nil {
		tb.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.SetBlobHeld(shaOf(i)); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := s.SetBlobFetching(shaOf(7), 65536, 1_700_000_000_000); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.RemoveBlob(shaOf(1)); err != nil {
		tb.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.AppendPlay(PlayEvent{HLC: s.Clock(1_700_000_000_000 + int64(i)), AssetID: "a1", SHA256: shaOf(0),
			StartedAt: 1_700_000_000_000 + int64(i), DurationMS: 215000, Fallback: FallbackScheduled, Zone: "z1"}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := s.AppendPlay(PlayEvent{HLC: s.Clock(1_700_000_001_000), StartedAt: 1_700_000_001_000, Fallback: FallbackSilence, Zone: "z1"}); err != nil {
		tb.Fatal(err)
	}
	if err := s.AckPlays("n1", 1); err != nil {
		tb.Fatal(err)
	}
	s.ObserveTime(signTime(1_700_000_000_500), verifyTime)
	if _, err := s.SetOverride("z1", ZoneSettings{VolumePct: 40, MuteFromMS: 1_700_000_100_000, MuteUntilMS: 1_700_000_200_000}, 1_700_000_000_000); err != nil {
		tb.Fatal(err)
	}
	peer, err := NewState(DefaultConfig("n2", testTenant))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := peer.SetBlobHeld(shaOf(0)); err != nil {
		tb.Fatal(err)
	}
	peer.ObserveTime(signTime(1_700_000_000_900), verifyTime)
	if _, err := s.Merge(peer.DeltaFor(Summary{}), verifyRecord, verifyTime); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestFuzzSeeds checks that the committed corpus exists and is current, and rewrites it with -write-seeds.
func TestFuzzSeeds(t *testing.T) {
	s := seedState(t)
	full := s.DeltaFor(Summary{})
	sumBytes, err := EncodeSummary(s.Summary())
	if err != nil {
		t.Fatal(err)
	}
	emptySum, _ := EncodeSummary(Summary{})
	deltas := map[string]Delta{
		"full":  full,
		"empty": {Tenant: testTenant},
		"fresh": func() Delta {
			o := newTestState(t, "n3")
			ch := mustMerge(t, o, full)
			return ch.Fresh
		}(),
	}
	parts, _, err := Split(full, 300)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		deltas[fmt.Sprintf("part%d", i)] = p
	}
	seeds := map[string]map[string][]byte{"FuzzDecodeDelta": {}, "FuzzDecodeSummary": {}}
	for name, d := range deltas {
		b, err := EncodeDelta(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seeds["FuzzDecodeDelta"][name] = b
	}
	fb := seeds["FuzzDecodeDelta"]["full"]
	seeds["FuzzDecodeDelta"]["truncated"] = fb[:len(fb)/2]
	seeds["FuzzDecodeDelta"]["version9"] = append([]byte{'D', 9}, fb[2:]...)
	seeds["FuzzDecodeDelta"]["hugecount"] = []byte{'D', 1, 1, 't', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	seeds["FuzzDecodeSummary"]["state"] = sumBytes
	seeds["FuzzDecodeSummary"]["empty"] = emptySum
	seeds["FuzzDecodeSummary"]["truncated"] = sumBytes[:len(sumBytes)-3]
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, b := range files {
			path := filepath.Join(dir, name)
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if *writeSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("seed corpus missing (run go test -run TestFuzzSeeds -write-seeds): %v", err)
			}
			if string(got) != content {
				t.Errorf("seed %s is stale (run go test -run TestFuzzSeeds -write-seeds)", path)
			}
		}
	}
}
