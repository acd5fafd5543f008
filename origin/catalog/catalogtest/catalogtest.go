package catalogtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

// NewStore returns a fresh, empty store for one subtest; the suite closes it when the subtest ends (closing it in
// a t.Cleanup of its own as well is harmless).
type NewStore func(t *testing.T) catalog.Store

// Run runs the whole suite against the backend made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*fx)
	}{
		{"Tenants", testTenants},
		{"AdminTokens", testAdminTokens},
		{"StoresAndZones", testStoresAndZones},
		{"Devices", testDevices},
		{"EnrollmentTokens", testEnrollmentTokens},
		{"Assets", testAssets},
		{"AssetPaging", testAssetPaging},
		{"AssetSearch", testAssetSearch},
		{"AssetsByIDs", testAssetsByIDs},
		{"ZoneOverrides", testZoneOverrides},
		{"Playlists", testPlaylists},
		{"Schedules", testSchedules},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"Revisions", testRevisions},
		{"RevisionsConcurrentWriters", testConcurrentWriters},
		{"RecordsSince", testRecordsSince},
		{"RecordsSincePaging", testRecordsSincePaging},
		{"LiveRecords", testLiveRecords},
		{"DeltaSyncUnderWrites", testDeltaSyncUnderWrites},
		{"StateHash", testStateHash},
		{"RecordScope", testRecordScope},
		{"DeviceSyncState", testDeviceSyncState},
		{"SyncReports", testSyncReports},
		{"TelemetryKeepsRevocation", testTelemetryKeepsRevocation},
		{"PlayEvents", testPlayEvents},
		{"PlayEventPaging", testPlayEventPaging},
		{"PlayEventsConcurrentDuplicates", testPlayEventsConcurrent},
		{"LargeBatches", testLargeBatches},
		{"TenantIsolation", testIsolation},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			t.Cleanup(cancel)
			t.Cleanup(func() { s.Close() })
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tc.fn(&fx{T: t, s: s, ctx: ctx, priv: priv})
		})
	}
}

// fx is a subtest's fixture: the store under test and helpers that build valid rows.
type fx struct {
	*testing.T
	s    catalog.Store
	ctx  context.Context
	priv ed25519.PrivateKey
}

// t0 is a fixed instant with microsecond precision, so values round-trip exactly.
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 123456000, time.UTC)

// NewID returns a random lower-case UUID (version 4).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randHash() catalog.Hash {
	var h catalog.Hash
	if _, err := rand.Read(h[:]); err != nil {
		panic(err)
	}
	return h
}

func hexHash(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// is fails the test unless errors.Is(err, want) (want nil: err must be nil).
func (f *fx) is(err, want error, what string) {
	f.Helper()
	if want == nil {
		if err != nil {
			f.Fatalf("%s: %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		f.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// same fails the test unless got and want are equal, nil and empty slices being equal.
func (f *fx) same(got, want any, what string) {
	f.Helper()
	if !equalEmpty(reflect.ValueOf(got), reflect.ValueOf(want)) {
		f.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// equalEmpty is reflect.DeepEqual for plain data, except that a nil slice equals an empty one.
func equalEmpty(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalEmpty(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := 0; i < a.Len(); i++ {
			if !equalEmpty(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(time.Time{}) {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
		for i := 0; i < a.NumField(); i++ {
			if !equalEmpty(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalEmpty(a.Elem(), b.Elem())
	case reflect.Map:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	default:
		return a.Equal(b)
	}
}

// update runs fn in a transaction of tenant and fails the test on error.
func (f *fx) update(tenant string, fn func(tx catalog.Tx) error) {
	f.Helper()
	if err := f.s.Update(f.ctx, tenant, fn); err != nil {
		f.Fatalf("update: %v", err)
	}
}

func (f *fx) tenant() string {
	f.Helper()
	id := NewID()
	f.is(f.s.CreateTenant(f.ctx, catalog.Tenant{ID: id, Name: "chain " + id[:8], CreatedAt: t0}), nil, "create tenant")
	return id
}

func (f *fx) newShop() catalog.Shop { return newShop() }

func newShop() catalog.Shop {
	key := make([]byte, catalog.MeshKeyLen)
	rand.Read(key)
	return catalog.Shop{ID: NewID(), Name: "store", TimeZone: "America/Sao_Paulo", MeshKey: key, KeyEpoch: 1,
		MeshID: NewID()[:16], Settings: catalog.StoreSettings{TargetLUFS: -14, CrossfadeMS: 3000}, CreatedAt: t0, UpdatedAt: t0}
}

func (f *fx) shop(tenant string) catalog.Shop {
	f.Helper()
	s := f.newShop()
	s.TenantID = tenant
	f.update(tenant, func(tx catalog.Tx) error { return tx.PutStore(s) })
	return s
}

func (f *fx) zone(tenant, store string) catalog.Zone {
	f.Helper()
	z := catalog.Zone{ID: NewID(), TenantID: tenant, StoreID: store, Name: "hall", CreatedAt: t0}
	f.update(tenant, func(tx catalog.Tx) error { return tx.PutZone(z) })
	return z
}

func (f *fx) newDevice(tenant, store, zone string) catalog.Device {
	return newDevice(tenant, store, zone)
}

func newDevice(tenant, store, zone string) catalog.Device {
	pk := make([]byte, 36)
	rand.Read(pk)
	id := NewID()
	return catalog.Device{ID: id, TenantID: tenant, StoreID: store, ZoneID: zone, Name: "player", PublicKey: pk,
		PeerID: "12D3Koo" + id[:8], CredentialHash: randHash(), EnrolledAt: t0}
}

func (f *fx) device(tenant, store, zone string) catalog.Device {
	f.Helper()
	d := f.newDevice(tenant, store, zone)
	f.update(tenant, func(tx catalog.Tx) error { return tx.CreateDevice(d) })
	return d
}

// place makes a store, a zone and a device of tenant.
func (f *fx) place(tenant string) (catalog.Shop, catalog.Zone, catalog.Device) {
	f.Helper()
	s := f.shop(tenant)
	z := f.zone(tenant, s.ID)
	return s, z, f.device(tenant, s.ID, z.ID)
}

func (f *fx) newAsset(tenant string) catalog.Asset {
	id := NewID()
	return catalog.Asset{ID: id, TenantID: tenant, Kind: catalog.KindMusic, Title: "song " + id[:6], Artist: "band",
		ISRC: "BRXXX2600001", SHA256: hexHash(id), MD5: hexHash(id)[:32], Size: 4 << 20, DurationMS: 200000,
		Codec: "vorbis", LoudnessLUFS: -13.5, CueOutMS: 199000, ValidFrom: t0, ValidUntil: t0.Add(30 * 24 * time.Hour),
		State: catalog.AssetReady, MasterKey: "masters/" + id, RenditionSHA256: hexHash("r" + id), RenditionSize: 1 << 20,
		CreatedAt: t0, UpdatedAt: t0}
}

func (f *fx) asset(tenant string) catalog.Asset {
	f.Helper()
	a := f.newAsset(tenant)
	f.update(tenant, func(tx catalog.Tx) error { return tx.PutAsset(a) })
	return a
}

func (f *fx) playlist(tenant string, assets ...string) catalog.Playlist {
	f.Helper()
	p := catalog.Playlist{ID: NewID(), TenantID: tenant, Name: "morning", AssetIDs: assets, CreatedAt: t0, UpdatedAt: t0}
	f.update(tenant, func(tx catalog.Tx) error { return tx.PutPlaylist(p) })
	return p
}

// rec builds a record signed by the fixture's key at the transaction's revision.
func (f *fx) rec(tx catalog.Tx, key string, deleted bool) crdt.Record {
	f.Helper()
	rev, err := tx.NextRevision()
	if err != nil {
		f.Fatalf("next revision: %v", err)
	}
	r := crdt.Record{Key: key, Tenant: tx.TenantID(), Rev: rev, Deleted: deleted}
	if !deleted {
		r.Body = fmt.Appendf(nil, `{"key":%q,"rev":%d}`, key, rev)
	}
	r.Sig = ed25519.Sign(f.priv, r.SigningBytes())
	return r
}

// put writes one record per key in one transaction and returns its revision.
func (f *fx) put(tenant, scope string, deleted bool, keys ...string) uint64 {
	f.Helper()
	var rev uint64
	f.update(tenant, func(tx catalog.Tx) error {
		for _, k := range keys {
			r := f.rec(tx, k, deleted)
			rev = r.Rev
			if err := tx.PutRecord(r, scope); err != nil {
				return err
			}
		}
		return nil
	})
	return rev
}

func (f *fx) revision(tenant string) uint64 {
	f.Helper()
	r, err := f.s.Revision(f.ctx, tenant)
	f.is(err, nil, "revision")
	return r
}

// since reads every page of RecordsSince with page size limit.
func (f *fx) since(tenant, store string, rev uint64, limit int) []crdt.Record {
	f.Helper()
	var out []crdt.Record
	cursor := ""
	for i := 0; ; i++ {
		p, err := f.s.RecordsSince(f.ctx, tenant, store, rev, cursor, limit)
		f.is(err, nil, "records since")
		if limit > 0 && len(p.Records) > limit {
			f.Fatalf("page of %d records, limit %d", len(p.Records), limit)
		}
		out = append(out, p.Records...)
		if p.Next == "" {
			return out
		}
		if i > 100000 {
			f.Fatal("RecordsSince does not end")
		}
		cursor = p.Next
	}
}

// live reads every page of LiveRecords.
func (f *fx) live(tenant, store string, limit int) []crdt.Record {
	f.Helper()
	var out []crdt.Record
	cursor := ""
	for i := 0; ; i++ {
		p, err := f.s.LiveRecords(f.ctx, tenant, store, 0, cursor, limit)
		f.is(err, nil, "live records")
		if limit > 0 && len(p.Records) > limit {
			f.Fatalf("page of %d records, limit %d", len(p.Records), limit)
		}
		out = append(out, p.Records...)
		if p.Next == "" {
			return out
		}
		if i > 100000 {
			f.Fatal("LiveRecords does not end")
		}
		cursor = p.Next
	}
}

func keysOf(rs []crdt.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return out
}
