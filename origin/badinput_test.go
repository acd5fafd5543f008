package origin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
)

// raw sends one request and returns the status and the decoded problem (nil when the answer is not one).
func (e *env) raw(method, path, token, ctype string, body []byte) (int, *api.Problem) {
	e.t.Helper()
	status, mt, b, _ := e.send(method, path, token, ctype, body)
	if mt != api.ProblemContentType || method == http.MethodHead {
		return status, nil
	}
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		e.t.Fatalf("%s %s: problem body %q: %v", method, path, b, err)
	}
	return status, &p
}

// send performs one request and returns its status, media type, body and headers.
func (e *env) send(method, path, token, ctype string, body []byte) (int, string, []byte, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx(e.t), method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	var hdr strings.Builder
	_ = resp.Header.Write(&hdr)
	return resp.StatusCode, mt, b, hdr.String()
}

// snapshot is what bad input must not change: the tenant's revision and its rows.
func (e *env) snapshot(tenant string, admin *api.Client) string {
	e.t.Helper()
	rev, err := e.cat.Revision(ctx(e.t), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	var parts []string
	for _, path := range []string{"/v1/stores", "/v1/assets", "/v1/playlists", "/v1/schedules", "/v1/devices",
		"/v1/enrollment-tokens", "/v1/plays"} {
		var v json.RawMessage
		if err := admin.Do(ctx(e.t), http.MethodGet, path, nil, &v); err != nil {
			e.t.Fatal(err)
		}
		parts = append(parts, string(v))
	}
	return fmt.Sprintf("rev %d\n%s", rev, strings.Join(parts, "\n"))
}

func TestBadInput(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			f := e.fixture(e.admin)
			tokA := e.admin
			d := e.enroll(e.admin, f.store.ID, f.zone.ID)
			revoked := e.enroll(e.admin, f.store.ID, f.zone.ID)
			if _, err := e.admin.RevokeDevice(ctx(t), revoked.id); err != nil {
				t.Fatal(err)
			}
			used, err := e.admin.CreateEnrollmentToken(ctx(t), api.EnrollmentTokenInput{StoreID: f.store.ID, ZoneID: f.zone.ID})
			if err != nil {
				t.Fatal(err)
			}
			e.redeem(used.Token)

			// A second tenant with its own store, for cross-tenant cases.
			tenantB, adminB := e.bootstrap("Chain B")
			fB := e.fixture(adminB)
			dB := e.enroll(adminB, fB.store.ID, fB.zone.ID)

			other := []byte("not the declared bytes")
			declared := sha256.Sum256([]byte("the declared bytes"))
			admin := credOf(t, tokA)
			adminBTok := credOf(t, adminB)
			devTok := credOf(t, d.c)
			future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
			past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
			big := []byte(`{"name":"` + strings.Repeat("x", api.MaxAdminBody) + `","time_zone":"UTC"}`)
			pub := d.enroll.OriginPublicKey

			cases := []struct {
				name, method, path, token, ctype string
				body                             []byte
				status                           int
			}{
				{"oversized body", "POST", "/v1/stores", admin, "application/json", big, 413},
				{"oversized sync", "POST", "/v1/device/sync", devTok, "", bytes.Repeat([]byte(" "), api.MaxSyncBody+1), 413},
				{"malformed JSON", "POST", "/v1/stores", admin, "", []byte(`{"name": "x",`), 400},
				{"not an object", "POST", "/v1/playlists", admin, "", []byte(`[1,2]`), 400},
				{"trailing data", "POST", "/v1/stores", admin, "", []byte(`{"name":"x","time_zone":"UTC"} {}`), 400},
				{"unknown field", "POST", "/v1/stores", admin, "", []byte(`{"name":"x","time_zone":"UTC","colour":"red"}`), 400},
				{"unknown sync field", "POST", "/v1/device/sync", devTok, "", []byte(`{"revision":1,"hash":"x"}`), 400},
				{"wrong type", "POST", "/v1/device/sync", devTok, "", []byte(`{"revision":"one"}`), 400},
				{"wrong content type", "POST", "/v1/stores", admin, "text/plain", []byte(`{"name":"x","time_zone":"UTC"}`), 415},
				{"bad time zone", "POST", "/v1/stores", admin, "", []byte(`{"name":"x","time_zone":"Mars/Olympus"}`), 400},
				{"bad UUID in path", "GET", "/v1/stores/not-a-uuid", admin, "", nil, 400},
				{"bad UUID in body", "POST", "/v1/playlists", admin, "", []byte(`{"name":"p","asset_ids":["123"]}`), 400},
				{"bad UUID in query", "GET", "/v1/devices?store_id=zzz", admin, "", nil, 400},
				{"bad UUID among asset ids", "GET", "/v1/assets?ids=" + f.asset.ID + ",zzz", admin, "", nil, 400},
				{"too many asset ids", "GET", "/v1/assets?ids=" + strings.Repeat(f.asset.ID+",", api.MaxAssetIDs) + f.asset.ID, admin, "", nil, 400},
				{"asset ids with a cursor", "GET", "/v1/assets?ids=" + f.asset.ID + "&cursor=" + f.asset.ID, admin, "", nil, 400},
				{"asset ids twice", "GET", "/v1/assets?ids=" + f.asset.ID + "&ids=" + f.asset.ID, admin, "", nil, 400},
				{"bad emergency filter", "GET", "/v1/assets?emergency=yes", admin, "", nil, 400},
				{"inverted validity window", "POST", "/v1/assets", admin, "", []byte(`{"master_sha256":"` + f.asset.SHA256 +
					`","kind":"spot","title":"t","valid_from":"` + future + `","valid_until":"` + past + `"}`), 400},
				{"inverted date range", "POST", "/v1/schedules", admin, "", []byte(`{"scope":"store","store_id":"` + f.store.ID +
					`","playlist_id":"` + f.playlist.ID + `","start":"08:00","end":"12:00","date_from":"2026-05-02","date_to":"2026-05-01"}`), 400},
				{"bad day-part", "POST", "/v1/schedules", admin, "", []byte(`{"scope":"tenant","playlist_id":"` + f.playlist.ID +
					`","start":"25:00","end":"12:00"}`), 400},
				{"asset without upload", "POST", "/v1/assets", admin, "", []byte(`{"master_sha256":"` + hex.EncodeToString(declared[:]) +
					`","kind":"music","title":"t"}`), 422},
				{"sha256 mismatch", "PUT", "/v1/uploads/" + hex.EncodeToString(declared[:]), admin, "application/octet-stream", other, 422},
				{"bad sha256 in path", "PUT", "/v1/uploads/XYZ", admin, "application/octet-stream", other, 400},
				{"no credential", "GET", "/v1/stores", "", "", nil, 401},
				{"unknown admin token", "GET", "/v1/stores", "lmza_nope", "", nil, 401},
				{"device credential on admin API", "GET", "/v1/stores", devTok, "", nil, 401},
				{"admin token on device API", "POST", "/v1/device/sync", admin, "", []byte(`{}`), 401},
				{"another tenant's store", "GET", "/v1/stores/" + f.store.ID, adminBTok, "", nil, 404},
				{"another tenant's playlist", "PUT", "/v1/playlists/" + f.playlist.ID, adminBTok, "", []byte(`{"name":"mine","asset_ids":[]}`), 404},
				{"another tenant's asset", "DELETE", "/v1/assets/" + f.asset.ID, adminBTok, "", nil, 404},
				{"another tenant's device", "POST", "/v1/devices/" + d.id + "/revoke", adminBTok, "", nil, 404},
				{"another tenant's zone in a token", "POST", "/v1/enrollment-tokens", adminBTok, "", []byte(`{"store_id":"` + f.store.ID + `","zone_id":"` + f.zone.ID + `"}`), 404},
				{"another tenant's playlist in a schedule", "POST", "/v1/schedules", adminBTok, "", []byte(`{"scope":"tenant","playlist_id":"` + f.playlist.ID + `","start":"00:00","end":"00:00"}`), 400},
				{"another tenant's plays", "GET", "/v1/plays?device_id=" + d.id, adminBTok, "", nil, 200},
				{"replayed enrollment token", "POST", "/v1/device/enroll", "", "", enrollBody(t, used.Token), 409},
				{"unknown enrollment token", "POST", "/v1/device/enroll", "", "", enrollBody(t, "lmze_unknown"), 401},
				{"bad peer key", "POST", "/v1/device/enroll", "", "", []byte(`{"token":"lmze_x","peer_public_key":"AAAA"}`), 400},
				{"revoked device", "POST", "/v1/device/sync", credOf(t, revoked.c), "", []byte(`{}`), 403},
				{"play event of another tenant's device", "POST", "/v1/device/plays", devTok, "", []byte(`{"events":[{"device_id":"` + dB.id +
					`","seq":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"fallback":"scheduled"}]}`), 400},
				{"bad fallback", "POST", "/v1/device/plays", devTok, "", []byte(`{"events":[{"device_id":"` + d.id +
					`","seq":1,"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"fallback":"loud"}]}`), 400},
				{"bad blob name", "GET", "/v1/blobs/..%2f..%2fetc", "", "", nil, 400},
				{"unknown blob", "GET", "/v1/blobs/" + hex.EncodeToString(declared[:]), "", "", nil, 404},
				{"unknown route", "GET", "/v1/nothing", admin, "", nil, 404},
			}
			d.sync(t)
			beforeA, beforeB := e.snapshot(e.tenant, tokA), e.snapshot(tenantB, adminB)
			for _, c := range cases {
				status, p := e.raw(c.method, c.path, c.token, c.ctype, c.body)
				if status != c.status {
					t.Errorf("%s: status %d, want %d (%+v)", c.name, status, c.status, p)
					continue
				}
				if status >= 400 && (p == nil || p.Status != status || p.Detail == "" || !strings.HasPrefix(p.Type, api.ProblemPrefix)) {
					t.Errorf("%s: want a problem+json body with a detail, got %+v", c.name, p)
				}
			}
			if a, b := e.snapshot(e.tenant, tokA), e.snapshot(tenantB, adminB); a != beforeA || b != beforeB {
				t.Errorf("bad input changed the catalog:\nbefore %s\nafter  %s", beforeA, a)
			}
			if ok, _ := blob.Exists(context.Background(), e.blobs, blob.ContentKey(hex.EncodeToString(declared[:]))); ok {
				t.Error("an upload whose bytes did not match its sha256 was stored")
			}
			var plays api.Page[api.Play]
			if err := adminB.Do(ctx(t), http.MethodGet, "/v1/plays?device_id="+d.id, nil, &plays); err != nil || len(plays.Items) != 0 {
				t.Errorf("another tenant's plays leaked: %v %v", plays.Items, err)
			}
			// The device's view is unchanged too.
			m, err := d.c.Sync(ctx(t), api.SyncRequest{Revision: d.rev, StateHash: d.hash()})
			if err != nil || len(m.Records) != 0 || !m.Time.Verify(pub) {
				t.Errorf("device sync after bad input: %v %+v", err, m)
			}
		})
	}
}

func credOf(t *testing.T, c *api.Client) string {
	t.Helper()
	return api.CredentialOf(c)
}

func enrollBody(t *testing.T, token string) []byte {
	t.Helper()
	b, _ := json.Marshal(api.EnrollRequest{Token: token, PeerPublicKey: newPeerKey(t)})
	return b
}

// redeem enrolls a throwaway device with token.
func (e *env) redeem(token string) {
	e.t.Helper()
	if _, err := e.client("", nil).Enroll(ctx(e.t), api.EnrollRequest{Token: token, PeerPublicKey: newPeerKey(e.t)}); err != nil {
		e.t.Fatal(err)
	}
}
