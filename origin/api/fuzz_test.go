package api_test

import (
	"crypto/ed25519"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// FuzzDecodeSyncRequest: any input is either a *Problem or a request that validates and survives a round trip.
func FuzzDecodeSyncRequest(f *testing.F) {
	f.Add([]byte(`{"revision":3,"state_hash":"` + strings.Repeat("0", 64) + `","inventory":{"cached_assets":2}}`))
	f.Add([]byte(`{"play_events":[{"device_id":"6f1c1a8e-8a52-4a8e-9d5c-4f3b1e2d7a90","seq":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":5,"fallback":"spot"}]}`))
	f.Add([]byte(`{"revision":1}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.SyncRequest
		err := api.UnmarshalStrict(b, &req)
		if err != nil {
			if _, ok := err.(*api.Problem); !ok {
				t.Fatalf("error %T is not a *Problem: %v", err, err)
			}
			return
		}
		again, _ := json.Marshal(&req)
		var req2 api.SyncRequest
		if err := api.UnmarshalStrict(again, &req2); err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if !reflect.DeepEqual(normalize(req), normalize(req2)) {
			t.Fatalf("round trip changed the request")
		}
	})
}

// normalize drops time zones (a round trip keeps the instant, not the location).
func normalize(r api.SyncRequest) api.SyncRequest {
	evs := make([]api.PlayEvent, len(r.PlayEvents))
	for i, e := range r.PlayEvents {
		e.StartedAt = e.StartedAt.UTC()
		evs[i] = e
	}
	r.PlayEvents = evs
	if len(r.Inventory.Missing) == 0 {
		r.Inventory.Missing = nil
	}
	return r
}

// fuzzOriginKey signs the committed FuzzVerifyManifest seeds (valid sync answers of a fixed origin).
var fuzzOriginKey = ed25519.NewKeyFromSeed([]byte("lomuz-fuzz-origin-key-seed-32byt"))

// FuzzVerifyManifest feeds a device's decoding of origin's sync answer arbitrary bytes: as received, and with the
// manifest re-signed by origin's key, so mutations inside it reach the decoding of records and time. It must not
// panic, and a manifest it accepts has a signed time and only records of its tenant signed by origin.
func FuzzVerifyManifest(f *testing.F) {
	pub := fuzzOriginKey.Public().(ed25519.PublicKey)
	tally := testenv.FuzzTally(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		defer tally()
		var sm api.SignedManifest
		if json.Unmarshal(b, &sm) != nil {
			return
		}
		resigned := api.SignedManifest{Manifest: sm.Manifest,
			Sig: ed25519.Sign(fuzzOriginKey, append([]byte(api.ManifestSigningContext), sm.Manifest...))}
		for _, s := range []api.SignedManifest{sm, resigned} {
			m, err := api.VerifyManifest(pub, s)
			if err != nil {
				continue
			}
			if !m.Time.Verify(pub) {
				t.Fatalf("accepted a manifest whose time does not verify")
			}
			for _, set := range [][]api.Record{m.Records, m.Tombstones} {
				for _, r := range set {
					if r.Tenant != m.TenantID || !r.Verify(pub) {
						t.Fatalf("accepted record %s of tenant %s in a manifest of %s", r.Key, r.Tenant, m.TenantID)
					}
				}
			}
		}
	})
}
