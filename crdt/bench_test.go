package crdt

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
)

// Benchmarks behind scripts/bench.d/20-crdt.sh. Signatures in the size benchmarks are 64 opaque bytes (an ed25519
// signature's size) checked by an accept-all verifier: sizes and merge costs of the CRDT itself, not of ed25519.
// BenchmarkCatalogMerge10kEd25519 adds the real verification.

func acceptAll(Record) bool         { return true }
func acceptAllTime(SignedTime) bool { return true }

// benchRecord is a catalog record of realistic size: an asset body of ~300 bytes and a 64-byte signature.
func benchRecord(i int, rev uint64) Record {
	key := fmt.Sprintf("asset/%08x-0000-4000-8000-%012x", i, i)
	body := fmt.Appendf(nil, `{"id":"%s","sha256":"%x","size":4194304,"duration_ms":215000,"codec":"vorbis",`+
		`"loudness_lufs":-14.2,"kind":"music","title":"Track %d","artist":"Artist %d","valid_from":"2026-01-01T00:00:00Z"}`,
		key[6:], sha256.Sum256([]byte(key)), i, i%97)
	sig := sha256.Sum256(body)
	return Record{Key: key, Tenant: testTenant, Rev: rev, Body: body, Sig: append(sig[:], sig[:]...)}
}

// benchCatalog returns a replica whose catalog holds n records at revisions 1..n, complete through n.
func benchCatalog(b *testing.B, self string, n int) *State {
	b.Helper()
	s, err := NewState(DefaultConfig(self, testTenant))
	if err != nil {
		b.Fatal(err)
	}
	u := OriginUpdate{To: uint64(n)}
	for i := range n {
		u.Records = append(u.Records, benchRecord(i, uint64(i+1)))
	}
	if _, err := s.ApplyOrigin(u, acceptAll); err != nil {
		b.Fatal(err)
	}
	return s
}

func encodedLen(b *testing.B, d Delta) int {
	b.Helper()
	buf, err := EncodeDelta(d)
	if err != nil {
		b.Fatal(err)
	}
	return len(buf)
}

// BenchmarkCatalogMerge10k merges a 10,000-record catalog, half of it newer, into another.
func BenchmarkCatalogMerge10k(b *testing.B) {
	benchMerge10k(b, acceptAll)
}

// BenchmarkCatalogMerge10kEd25519 is the same with real ed25519 verification of every incoming record.
func BenchmarkCatalogMerge10kEd25519(b *testing.B) {
	benchMerge10k(b, verifyRecord)
}

func benchMerge10k(b *testing.B, verify Verifier) {
	const n = 10000
	src := benchCatalog(b, "a", n)
	// Half the records newer at the source.
	var u OriginUpdate
	u.From, u.To = n, n+n/2
	for i := 0; i < n; i += 2 {
		r := benchRecord(i, uint64(n+1+i/2))
		r.Body = append(r.Body, ' ')
		u.Records = append(u.Records, signRecord(r))
	}
	if _, err := src.ApplyOrigin(u, verifyRecord); err != nil {
		b.Fatal(err)
	}
	d := src.DeltaFor(Summary{})
	if verify != nil {
		for i, r := range d.Catalog.Records {
			d.Catalog.Records[i] = signRecord(r) // every record verifies for real
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dst := benchCatalog(b, "b", n)
		b.StartTimer()
		if _, err := dst.Merge(d, verify, acceptAllTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineMapMerge10k is the baseline for the merge: copying 10,000 records into a plain Go map with a
// revision comparison, no CRDT bookkeeping.
func BenchmarkBaselineMapMerge10k(b *testing.B) {
	const n = 10000
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = benchRecord(i, uint64(n+i))
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		m := make(map[string]Record, n)
		for i := range n {
			m[recs[i].Key] = benchRecord(i, uint64(i+1))
		}
		b.StartTimer()
		for _, r := range recs {
			if old, ok := m[r.Key]; !ok || r.Rev > old.Rev {
				m[r.Key] = r
			}
		}
	}
}

// BenchmarkDeltaOneChange100k: two replicas of a 100,000-record catalog; origin changes one record and one replica
// learns it; the delta for the other's summary (target < 1 KB).
func BenchmarkDeltaOneChange100k(b *testing.B) {
	const n = 100000
	a := benchCatalog(b, "a", n)
	other := benchCatalog(b, "b", n)
	r := benchRecord(42, n+1)
	r.Body = append(r.Body, ' ')
	if _, err := a.ApplyOrigin(OriginUpdate{From: n, To: n + 1, Records: []Record{r}}, acceptAll); err != nil {
		b.Fatal(err)
	}
	sum := other.Summary()
	sb, err := EncodeSummary(sum)
	if err != nil {
		b.Fatal(err)
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = encodedLen(b, a.DeltaFor(sum))
	}
	b.ReportMetric(float64(size), "delta-bytes")
	b.ReportMetric(float64(len(sb)), "summary-bytes")
	b.ReportMetric(float64(encodedLen(b, Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{r}}})), "record-bytes")
}

// BenchmarkDeltaOffline1Pct100k: a replica was offline while 1% of a 100,000-record catalog changed; the delta it
// gets back (target <= 2x the changed records' own encoded bytes).
func BenchmarkDeltaOffline1Pct100k(b *testing.B) {
	const n = 100000
	a := benchCatalog(b, "a", n)
	other := benchCatalog(b, "b", n)
	u := OriginUpdate{From: n, To: n + n/100}
	changed := 0
	for i := 0; i < n/100; i++ {
		r := benchRecord(i*100, uint64(n+1+i))
		r.Body = append(r.Body, ' ')
		u.Records = append(u.Records, r)
		changed += encodedLen(b, Delta{Tenant: testTenant, Catalog: CatalogDelta{Records: []Record{r}}}) -
			encodedLen(b, Delta{Tenant: testTenant})
	}
	if _, err := a.ApplyOrigin(u, acceptAll); err != nil {
		b.Fatal(err)
	}
	sum := other.Summary()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = encodedLen(b, a.DeltaFor(sum))
	}
	b.ReportMetric(float64(size), "delta-bytes")
	b.ReportMetric(float64(changed), "changed-bytes")
	b.ReportMetric(float64(size)/float64(changed), "ratio")
}

// codecDelta is a mixed delta of ~4 MB: 10,000 records, 5 nodes x 2,000 blobs, 500 play events.
func codecDelta(b *testing.B) Delta {
	s := benchCatalog(b, "n0", 10000)
	for i := range 2000 {
		if _, err := s.SetBlobHeld(shaOf(i)); err != nil {
			b.Fatal(err)
		}
	}
	for range 500 {
		if _, err := s.AppendPlay(PlayEvent{HLC: s.Clock(1000), AssetID: "a1", SHA256: shaOf(1), StartedAt: 1000,
			DurationMS: 215000, Fallback: FallbackScheduled, Zone: "z1"}); err != nil {
			b.Fatal(err)
		}
	}
	d := s.DeltaFor(Summary{})
	for k := 1; k < 5; k++ {
		inv := d.Inventory[0]
		inv.Node = fmt.Sprintf("n%d", k)
		d.Inventory = append(d.Inventory, inv)
	}
	return d
}

func BenchmarkEncodeDelta(b *testing.B) {
	d := codecDelta(b)
	b.SetBytes(int64(encodedLen(b, d)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeDelta(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDelta(b *testing.B) {
	buf, err := EncodeDelta(codecDelta(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeDelta(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineJSONEncode and ...Decode are the codec baseline: encoding/json of the same delta.
func BenchmarkBaselineJSONEncode(b *testing.B) {
	d := codecDelta(b)
	buf, _ := json.Marshal(d)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf))/float64(encodedLen(b, d)), "size-vs-binary")
}

func BenchmarkBaselineJSONDecode(b *testing.B) {
	buf, _ := json.Marshal(codecDelta(b))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		var d Delta
		if err := json.Unmarshal(buf, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlayAppendPrune: one proof-of-play event appended, and every 100 events origin acks them all (prune).
func BenchmarkPlayAppendPrune(b *testing.B) {
	s, err := NewState(DefaultConfig("n0", testTenant))
	if err != nil {
		b.Fatal(err)
	}
	sha := shaOf(1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev, err := s.AppendPlay(PlayEvent{HLC: s.Clock(int64(i)), AssetID: "a1", SHA256: sha, StartedAt: int64(i),
			DurationMS: 215000, Fallback: FallbackScheduled, Zone: "z1"})
		if err != nil {
			b.Fatal(err)
		}
		if i++; i%100 == 0 {
			if err := s.AckPlays("n0", ev.Seq); err != nil {
				b.Fatal(err)
			}
		}
	}
	if s.PlayLog().Len() >= 100 {
		b.Fatalf("%d events left after acks", s.PlayLog().Len())
	}
}

// BenchmarkInventory10kx50: a store of 50 nodes holding 10,000 blobs each; one node marks one blob held and the
// delta for a peer's summary; reports the full inventory's encoded size and heap.
func BenchmarkInventory10kx50(b *testing.B) {
	const nodes, blobs = 50, 10000
	shas := make([]string, blobs+1)
	for i := range shas {
		shas[i] = shaOf(i)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	s, err := NewState(DefaultConfig("n00", testTenant))
	if err != nil {
		b.Fatal(err)
	}
	for k := range nodes {
		o, err := NewState(DefaultConfig(fmt.Sprintf("n%02d", k), testTenant))
		if err != nil {
			b.Fatal(err)
		}
		for i := range blobs {
			if _, err := o.SetBlobHeld(shas[i]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.Merge(o.DeltaFor(Summary{}), acceptAll, acceptAllTime); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	fullSize := encodedLen(b, s.DeltaFor(Summary{}))
	peer := s.Summary()
	if _, err := s.SetBlobHeld(shas[blobs]); err != nil {
		b.Fatal(err)
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = encodedLen(b, s.DeltaFor(peer))
	}
	b.ReportMetric(float64(size), "delta-bytes")
	b.ReportMetric(float64(fullSize)/1e6, "full-MB")
	b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/1e6, "heap-MB")
}
