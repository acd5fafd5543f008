package origin

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// TestSignManifestRoundTrip checks the hand-written record encoding: the envelope decodes with encoding/json, the
// signature verifies, and the manifest equals the one encoded.
func TestSignManifestRoundTrip(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tenant := "6f1c1a8e-8a52-4a8e-9d5c-4f3b1e2d7a90"
	var recs, tombs []api.Record
	for i, body := range []any{api.Asset{ID: "a1", Title: "Canção \"nova\" <&> \u2028", Kind: "music"}, api.Playlist{ID: "p1", AssetIDs: []string{}}} {
		r, err := signRecord(key, tenant, []string{"asset/a1", "playlist/p1"}[i], uint64(7+i), body)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, api.RecordToWire(r))
	}
	ts, _ := signRecord(key, tenant, "schedule/s1", 9, nil)
	tombs = append(tombs, api.RecordToWire(ts))
	m := &api.SyncManifest{TenantID: tenant, DeviceID: "d", Revision: 9, StateHash: "00", Records: recs,
		Tombstones: tombs, Time: (&timeSigner{key: key}).sign(nowForTest()), NextSyncS: 600}
	b, err := signManifest(key, m)
	if err != nil {
		t.Fatal(err)
	}
	var sm api.SignedManifest
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatalf("envelope %q: %v", b, err)
	}
	got, err := api.VerifyManifest(pub, sm)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	// A flipped byte anywhere in the manifest fails verification.
	sm.Manifest[len(sm.Manifest)/2] ^= 1
	if _, err := api.VerifyManifest(pub, sm); err == nil {
		t.Fatal("a tampered manifest verified")
	}
}

func nowForTest() time.Time { return time.Unix(1_790_000_000, 0) }
