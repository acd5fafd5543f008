package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Catalog sizes of the benchmarks: a chain with BenchAssets asset records, of which BenchChanged change after a
// device last synced.
const (
	BenchAssets  = 100_000
	BenchChanged = 100
	benchBatch   = 1000 // records per transaction while loading (fits the embedded backend's transaction limit)
)

// assetBody is a record body of the size a real asset record has (canonical JSON of the API type, ~420 bytes).
func assetBody(id string, rev uint64) []byte {
	return fmt.Appendf(nil, `{"artist":"Banda Larga","codec":"vorbis","cue_in_ms":0,"cue_out_ms":212000,`+
		`"duration_ms":213400,"emergency_eligible":false,"id":%q,"isrc":"BRXXX2600001","kind":"music",`+
		`"loudness_lufs":-13.2,"md5":"0f343b0931126a20f133d67c2b018a3b","rev":%d,`+
		`"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size":1843200,`+
		`"title":"Samba de uma nota so","valid_from":"2026-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z"}`, id, rev)
}

// benchFixture is a loaded catalog shared by the sub-benchmarks of Bench.
type benchFixture struct {
	tenant, store string
	cred          catalog.Hash
	before        uint64 // revision before the last BenchChanged changes
	state         catalog.SyncState
}

func benchPut(ctx context.Context, s catalog.Store, tenant string, keys []string) error {
	sig := make([]byte, 64)
	return s.Update(ctx, tenant, func(tx catalog.Tx) error {
		rev, err := tx.NextRevision()
		if err != nil {
			return err
		}
		for _, k := range keys {
			r := crdt.Record{Key: k, Tenant: tenant, Rev: rev, Body: assetBody(k[len("asset/"):], rev), Sig: sig}
			if err := tx.PutRecord(r, catalog.TenantScope); err != nil {
				return err
			}
		}
		return nil
	})
}

func loadBench(b *testing.B, s catalog.Store) benchFixture {
	ctx := context.Background()
	var fix benchFixture
	fix.tenant = NewID()
	if err := s.CreateTenant(ctx, catalog.Tenant{ID: fix.tenant, Name: "bench", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	shop := newShop()
	z := catalog.Zone{ID: NewID(), StoreID: shop.ID, Name: "hall", CreatedAt: t0}
	d := newDevice(fix.tenant, shop.ID, z.ID)
	err := s.Update(ctx, fix.tenant, func(tx catalog.Tx) error {
		if err := tx.PutStore(shop); err != nil {
			return err
		}
		if err := tx.PutZone(z); err != nil {
			return err
		}
		return tx.CreateDevice(d)
	})
	if err != nil {
		b.Fatal(err)
	}
	fix.store, fix.cred = shop.ID, d.CredentialHash
	keys := make([]string, BenchAssets)
	for i := range keys {
		keys[i] = "asset/" + NewID()
	}
	start := time.Now()
	for i := 0; i < len(keys); i += benchBatch {
		if err := benchPut(ctx, s, fix.tenant, keys[i:min(i+benchBatch, len(keys))]); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d records in %v (%.0f records/s)", len(keys), time.Since(start).Round(time.Millisecond),
		float64(len(keys))/time.Since(start).Seconds())
	if fix.before, err = s.Revision(ctx, fix.tenant); err != nil {
		b.Fatal(err)
	}
	if err := benchPut(ctx, s, fix.tenant, keys[:BenchChanged]); err != nil {
		b.Fatal(err)
	}
	if fix.state, err = s.SyncState(ctx, fix.tenant, fix.store, 0); err != nil {
		b.Fatal(err)
	}
	return fix
}

// reportP99 reports the 99th percentile of ds in milliseconds.
func reportP99(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)*99/100])/1e6, "p99-ms")
}

// Bench runs the catalog benchmarks against s: it loads a tenant with BenchAssets asset records (the load rate is
// logged), then measures the no-change sync lookup, a delta of BenchChanged records, a full resync of every live
// record, and write throughput. baseline, if not nil, runs first after the load as sub-benchmark "Baseline": the
// backend's cheapest possible read, measured in the same conditions.
func Bench(b *testing.B, s catalog.Store, baseline func(b *testing.B)) {
	fix := loadBench(b, s)
	ctx := context.Background()
	if baseline != nil {
		b.Run("Baseline", baseline)
	}

	b.Run("NoChangeSync", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, st, err := s.DeviceSyncState(ctx, fix.cred, fix.state.Revision)
				if err != nil || st != fix.state {
					b.Errorf("device sync state: %+v, %v", st, err)
					return
				}
			}
		})
	})
	b.Run("NoChangeSyncTwoReads", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := s.DeviceByCredential(ctx, fix.cred)
				if err != nil {
					b.Error(err)
					return
				}
				st, err := s.SyncState(ctx, d.TenantID, d.StoreID, fix.state.Revision)
				if err != nil || st != fix.state {
					b.Errorf("sync state: %+v, %v", st, err)
					return
				}
			}
		})
	})
	b.Run(fmt.Sprintf("RecordsSince%dof%d", BenchChanged, BenchAssets), func(b *testing.B) {
		b.ReportAllocs()
		var ds []time.Duration
		for b.Loop() {
			t := time.Now()
			p, err := s.RecordsSince(ctx, fix.tenant, fix.store, fix.before, "", 1000)
			ds = append(ds, time.Since(t))
			if err != nil || len(p.Records) != BenchChanged || p.Next != "" {
				b.Fatalf("records since: %d records, next %q, %v", len(p.Records), p.Next, err)
			}
		}
		reportP99(b, ds)
	})
	b.Run(fmt.Sprintf("LiveRecords%d", BenchAssets), func(b *testing.B) {
		b.ReportAllocs()
		var ds []time.Duration
		for b.Loop() {
			t := time.Now()
			n, cursor := 0, ""
			for {
				p, err := s.LiveRecords(ctx, fix.tenant, fix.store, fix.state.Revision, cursor, catalog.MaxPageLimit)
				if err != nil {
					b.Fatal(err)
				}
				n += len(p.Records)
				if cursor = p.Next; cursor == "" {
					break
				}
			}
			ds = append(ds, time.Since(t))
			if n != BenchAssets {
				b.Fatalf("%d live records, want %d", n, BenchAssets)
			}
		}
		reportP99(b, ds)
	})
	b.Run("Write100", func(b *testing.B) {
		keys := make([]string, 100)
		for b.Loop() {
			for i := range keys {
				keys[i] = "asset/" + NewID()
			}
			if err := benchPut(ctx, s, fix.tenant, keys); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(keys))/b.Elapsed().Seconds(), "records/s")
	})
}
