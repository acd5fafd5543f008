package origin_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
)

// victim is what tenant A owns and tenant B's requests name. secrets holds every id, name and credential of A that
// no answer to B may contain.
type victim struct {
	ids     map[string]string // kind -> one of A's ids: store, zone, device, asset, playlist, schedule, admin, sha, peer
	secrets []string
}

// attack is one request of B that names one thing of A. build makes the request for a reference ref of kind:
// A's own, then a fresh one that exists nowhere, and the two answers are compared.
type attack struct {
	route, name, kind string
	build             func(ref string) (method, path, token string, body []byte)
	// expect: "reject" (a path id: 403 or 404), "same" (a reference in a body or query: any answer, as long as it
	// is the answer for a reference that does not exist), "public" (content-addressed blobs: served to whoever
	// names the hash, like a CDN, carrying no tenant data).
	expect string
}

// TestTenantIsolation tries every route of openapi.yaml with tenant B's credentials against tenant A's ids, in the
// path, the query and the body. Every route must have a case. B's answer for A's id must be B's answer for an id
// that does not exist (same status, same body but for the id), must hold none of A's ids, names or secrets, and A's
// catalog must be unchanged afterwards.
func TestTenantIsolation(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			v, bx := e.isolationFixture(t)
			attacks := isolationAttacks(t, v, bx)
			covered := map[string]int{}
			for _, a := range attacks {
				covered[a.route]++
			}
			routes := documentedRoutes(t)
			for _, r := range routes {
				if covered[r] == 0 {
					t.Errorf("route %s has no tenant-isolation case: add one to isolationAttacks", r)
				}
			}
			for r := range covered {
				if !slices.Contains(routes, r) {
					t.Errorf("isolation case for %s, which openapi.yaml does not document", r)
				}
			}
			state := func() string {
				var h json.RawMessage // A's overrides are outside snapshot's lists
				if err := e.admin.Do(ctx(t), http.MethodGet, "/v1/zones/"+v.ids["zone"]+"/override/history", nil, &h); err != nil {
					t.Fatal(err)
				}
				return e.snapshot(e.tenant, e.admin) + "\n" + string(h)
			}
			before := state()
			failed := 0
			for _, a := range attacks {
				if !e.tryAttack(t, a, v) {
					failed++
				}
			}
			if after := state(); after != before {
				t.Errorf("tenant B's requests changed tenant A:\nbefore %s\nafter  %s", before, after)
			}
			kinds := map[string]int{}
			for _, a := range attacks {
				k := a.expect
				if a.kind == "none" {
					k = "no reference"
				}
				kinds[k]++
			}
			t.Logf("%d (endpoint x attack) cases over %d routes (%d A's id in the path, %d A's id in a query or body, "+
				"%d naming nothing of A, %d public blobs), %d failed", len(attacks), len(routes), kinds["reject"],
				kinds["same"], kinds["no reference"], kinds["public"], failed)
		})
	}
}

// bSide is what tenant B uses to attack: its credentials and its own ids, so that only the attacked reference is
// foreign.
type bSide struct {
	admin, device string
	manager       string // a store manager of B's store: it may change its own zones' overrides
	f             fixture
	deviceID      string
	newEnrollment func() string
}

// isolationFixture builds two tenants with stores, zones, devices, assets, playlists, schedules, plays, sync logs,
// enrollment and admin tokens. A's names are unique markers, so any of them in an answer to B is a leak.
func (e *env) isolationFixture(t *testing.T) (victim, bSide) {
	c := ctx(t)
	fA := e.fixture(e.admin)
	mark := func(what string) string { return "tenant-a-" + what + "-" + uuid.NewString()[:8] }
	storeName, playlistName, title := mark("store"), mark("playlist"), mark("title")
	if err := e.admin.Do(c, http.MethodPut, "/v1/stores/"+fA.store.ID,
		api.StoreInput{Name: storeName, TimeZone: "America/Sao_Paulo"}, &fA.store); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(c, http.MethodPut, "/v1/playlists/"+fA.playlist.ID,
		api.PlaylistInput{Name: playlistName, AssetIDs: []string{fA.asset.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(c, http.MethodPut, "/v1/assets/"+fA.asset.ID,
		api.AssetInput{Kind: api.KindMusic, Title: title, Artist: mark("artist")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(c, http.MethodPut, "/v1/zones/"+fA.zone.ID+"/override",
		map[string]any{"volume_pct": 40}, nil); err != nil {
		t.Fatal(err)
	}
	dA := e.enroll(e.admin, fA.store.ID, fA.zone.ID)
	dA.sync(t, api.PlayEvent{DeviceID: dA.id, Seq: 1, AssetID: fA.asset.ID, StartedAt: time.Now().UTC(),
		DurationMS: 1500, Fallback: "scheduled"})
	var mgr api.AdminToken
	if err := e.admin.Do(c, http.MethodPost, "/v1/admin-tokens",
		api.AdminTokenInput{Name: mark("manager"), Role: "manager", StoreID: fA.store.ID}, &mgr); err != nil {
		t.Fatal(err)
	}
	unused, err := e.admin.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: fA.store.ID, ZoneID: fA.zone.ID})
	if err != nil {
		t.Fatal(err)
	}
	var dev api.Device
	if err := e.admin.Do(c, http.MethodGet, "/v1/devices/"+dA.id, nil, &dev); err != nil {
		t.Fatal(err)
	}
	v := victim{ids: map[string]string{"store": fA.store.ID, "zone": fA.zone.ID, "device": dA.id,
		"asset": fA.asset.ID, "playlist": fA.playlist.ID, "schedule": fA.schedule.ID, "admin": mgr.ID,
		"sha": fA.asset.SHA256, "peer": base64.StdEncoding.EncodeToString(dA.peerKey)}}
	v.secrets = []string{e.tenant, mgr.Name, storeName, playlistName, title, fA.store.MeshID, dev.PeerID, mgr.Token,
		unused.Token, dA.enroll.Credential, base64.StdEncoding.EncodeToString(dA.enroll.Mesh.Key), "Chain A"}
	for k, id := range v.ids {
		if k != "peer" {
			v.secrets = append(v.secrets, id)
		}
	}

	_, adminB := e.bootstrap("Chain B")
	fB := e.fixture(adminB)
	dB := e.enroll(adminB, fB.store.ID, fB.zone.ID)
	dB.sync(t)
	var mgrB api.AdminToken
	if err := adminB.Do(c, http.MethodPost, "/v1/admin-tokens",
		api.AdminTokenInput{Name: "manager b", Role: "manager", StoreID: fB.store.ID}, &mgrB); err != nil {
		t.Fatal(err)
	}
	bx := bSide{admin: credOf(t, adminB), manager: mgrB.Token, device: credOf(t, dB.c), f: fB, deviceID: dB.id,
		newEnrollment: func() string {
			tok, err := adminB.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: fB.store.ID, ZoneID: fB.zone.ID})
			if err != nil {
				t.Fatal(err)
			}
			return tok.Token
		}}
	return v, bx
}

// fresh makes a reference of kind that exists nowhere.
func fresh(t *testing.T, kind string) string {
	switch kind {
	case "sha":
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	case "peer":
		return base64.StdEncoding.EncodeToString(newPeerKey(t))
	case "none":
		return ""
	}
	return uuid.NewString()
}

// withType adds the request's media type: uploads are bytes, the rest JSON (or nothing).
func withType(method, path, token string, body []byte) (string, string, string, string, []byte) {
	ctype := ""
	if strings.HasPrefix(path, "/v1/uploads/") {
		ctype = "application/octet-stream"
	}
	return method, path, token, ctype, body
}

// tryAttack runs a with A's reference and with a fresh one and checks the answers; it reports whether a passed.
func (e *env) tryAttack(t *testing.T, a attack, v victim) bool {
	t.Helper()
	ref := v.ids[a.kind]
	name := a.route + " " + a.name
	method, _, _ := strings.Cut(a.route, " ")
	fr := fresh(t, a.kind)
	stA, ctA, bodyA, hdrA := e.send(withType(a.build(ref)))
	stR, ctR, bodyR, _ := e.send(withType(a.build(fr)))
	ok := true
	fail := func(format string, args ...any) {
		t.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
		ok = false
	}
	for _, s := range v.secrets {
		if s != ref && s != "" && (bytes.Contains(bodyA, []byte(s)) || strings.Contains(hdrA, s)) {
			fail("answer for A's %s holds A's %q: %s", a.kind, s, bodyA)
		}
	}
	if stA >= 500 {
		fail("status %d: %s", stA, bodyA)
	}
	switch a.expect {
	case "reject":
		if stA != http.StatusNotFound && stA != http.StatusForbidden {
			fail("status %d for A's %s, want 404 or 403: %s", stA, a.kind, bodyA)
		}
	case "public":
		if stA != http.StatusOK || ctA != "application/octet-stream" {
			fail("content-addressed blob: status %d %s", stA, ctA)
		}
		return ok
	}
	if stA != stR || ctA != ctR {
		fail("status %d %s for A's %s, %d %s for one that does not exist", stA, ctA, a.kind, stR, ctR)
	} else if ctA == api.ProblemContentType || stA >= 400 || method == http.MethodGet {
		// Problems and reads must match but for the id echoed. Other successful answers (opaque references) carry
		// fresh ids and signed times, so only their status is compared; the leak check above reads their bodies.
		na, nr := string(bodyA), string(bodyR)
		if ref != "" {
			na, nr = strings.ReplaceAll(na, ref, "<ref>"), strings.ReplaceAll(nr, fr, "<ref>")
		}
		if na != nr {
			fail("answers differ:\n  A's id:   %s\n  no such:  %s", na, nr)
		}
	}
	return ok
}

// isolationAttacks lists, per route of openapi.yaml, B's requests that name one thing of A.
func isolationAttacks(t *testing.T, v victim, b bSide) []attack {
	var out []attack
	add := func(route, name, kind, expect string, build func(ref string) (string, string, string, []byte)) {
		out = append(out, attack{route: route, name: name, kind: kind, expect: expect, build: build})
	}
	// inPath: A's id (or hash) as the route's {id} (or {sha256}), with a valid body so only the id can fail.
	inPathAs := func(who, token, route, kind, expect, body string) {
		m, p, _ := strings.Cut(route, " ")
		add(route, "A's "+kind+" in the path"+who, kind, expect, func(ref string) (string, string, string, []byte) {
			return m, strings.NewReplacer("{id}", ref, "{sha256}", ref).Replace(p), token, []byte(body)
		})
	}
	inPath := func(route, kind, expect, body string) { inPathAs("", b.admin, route, kind, expect, body) }
	// inBody: A's reference in the body of a request to a path of B's own.
	inBody := func(route, field, kind, path, token, body string) {
		m, _, _ := strings.Cut(route, " ")
		add(route, "A's "+kind+" as "+field, kind, "same", func(ref string) (string, string, string, []byte) {
			return m, path, token, []byte(strings.ReplaceAll(body, "{ref}", ref))
		})
	}
	inQuery := func(route, param, kind string) {
		m, p, _ := strings.Cut(route, " ")
		add(route, "A's "+kind+" as ?"+param, kind, "same", func(ref string) (string, string, string, []byte) {
			return m, p + "?" + param + "=" + ref, b.admin, nil
		})
	}
	// plain: a request that names nothing of A; its answer must still hold nothing of A.
	plain := func(route, token, body string) {
		m, p, _ := strings.Cut(route, " ")
		add(route, "no reference, nothing of A in the answer", "none", "same",
			func(string) (string, string, string, []byte) { return m, p, token, []byte(body) })
	}
	const started = `"started_at":"2026-01-01T00:00:00Z","duration_ms":1,"fallback":"scheduled"`
	event := func(fields string) string { return `{"seq":7,` + fields + `,` + started + `}` }
	own := `"device_id":"` + b.deviceID + `"`
	store, zone := `{"name":"b","time_zone":"UTC"}`, `{"name":"b"}`
	asset, playlist := `{"kind":"music","title":"b"}`, `{"name":"b","asset_ids":[]}`
	schedule := `{"scope":"store","store_id":"` + b.f.store.ID + `","playlist_id":"` + b.f.playlist.ID +
		`","start":"00:00","end":"00:00"}`
	schedRef := func(fields string) string { return `{` + fields + `,"start":"00:00","end":"00:00"}` }

	plain("GET /healthz", "", "")
	plain("GET /v1/tenant", b.admin, "")
	plain("POST /v1/stores", b.admin, store)
	plain("GET /v1/stores", b.admin, "")
	inPath("GET /v1/stores/{id}", "store", "reject", "")
	inPath("PUT /v1/stores/{id}", "store", "reject", store)
	inPath("DELETE /v1/stores/{id}", "store", "reject", "")
	inPath("POST /v1/stores/{id}/zones", "store", "reject", zone)
	inPath("GET /v1/stores/{id}/zones", "store", "reject", "")
	inPath("DELETE /v1/zones/{id}", "zone", "reject", "")
	for _, as := range []struct{ who, token string }{{"", b.admin}, {", as B's store manager", b.manager}} {
		inPathAs(as.who, as.token, "GET /v1/stores/{id}/overrides", "store", "reject", "")
		inPathAs(as.who, as.token, "GET /v1/zones/{id}/override", "zone", "reject", "")
		inPathAs(as.who, as.token, "PUT /v1/zones/{id}/override", "zone", "reject", `{"volume_pct":100}`)
		inPathAs(as.who, as.token, "DELETE /v1/zones/{id}/override", "zone", "reject", "")
		inPathAs(as.who, as.token, "GET /v1/zones/{id}/override/history", "zone", "reject", "")
	}
	plain("GET /v1/devices", b.admin, "")
	inQuery("GET /v1/devices", "store_id", "store")
	inQuery("GET /v1/devices", "zone_id", "zone")
	inPath("GET /v1/devices/{id}", "device", "reject", "")
	inPath("POST /v1/devices/{id}/revoke", "device", "reject", "")
	inPath("GET /v1/devices/{id}/sync-logs", "device", "reject", "")
	inBody("POST /v1/enrollment-tokens", "store_id", "store", "/v1/enrollment-tokens", b.admin,
		`{"store_id":"{ref}","zone_id":"`+b.f.zone.ID+`"}`)
	inBody("POST /v1/enrollment-tokens", "zone_id", "zone", "/v1/enrollment-tokens", b.admin,
		`{"store_id":"`+b.f.store.ID+`","zone_id":"{ref}"}`)
	inQuery("GET /v1/enrollment-tokens", "store_id", "store")
	for _, q := range []struct{ param, kind string }{{"store_id", "store"}, {"zone_id", "zone"},
		{"device_id", "device"}, {"asset_id", "asset"}} {
		inQuery("GET /v1/plays", q.param, q.kind)
	}
	inBody("POST /v1/admin-tokens", "a manager's store_id", "store", "/v1/admin-tokens", b.admin,
		`{"name":"m","role":"manager","store_id":"{ref}"}`)
	plain("GET /v1/admin-tokens", b.admin, "")
	inPath("POST /v1/admin-tokens/{id}/revoke", "admin", "reject", "")
	// Uploading needs the bytes themselves: other bytes under A's hash are a mismatch, as under any hash.
	inPath("PUT /v1/uploads/{sha256}", "sha", "same", "not the bytes of that hash")
	inBody("POST /v1/assets", "master_sha256", "sha", "/v1/assets", b.admin,
		`{"master_sha256":"{ref}","kind":"music","title":"b"}`)
	plain("GET /v1/assets", b.admin, "")
	inQuery("GET /v1/assets", "ids", "asset")
	inPath("GET /v1/assets/{id}", "asset", "reject", "")
	inPath("PUT /v1/assets/{id}", "asset", "reject", asset)
	inBody("PUT /v1/assets/{id}", "master_sha256", "sha", "/v1/assets/"+b.f.asset.ID, b.admin,
		`{"master_sha256":"{ref}","kind":"music","title":"b"}`)
	inPath("DELETE /v1/assets/{id}", "asset", "reject", "")
	inBody("POST /v1/playlists", "asset_ids", "asset", "/v1/playlists", b.admin, `{"name":"b","asset_ids":["{ref}"]}`)
	plain("GET /v1/playlists", b.admin, "")
	inPath("GET /v1/playlists/{id}", "playlist", "reject", "")
	inPath("PUT /v1/playlists/{id}", "playlist", "reject", playlist)
	inBody("PUT /v1/playlists/{id}", "asset_ids", "asset", "/v1/playlists/"+b.f.playlist.ID, b.admin,
		`{"name":"b","asset_ids":["{ref}"]}`)
	inPath("DELETE /v1/playlists/{id}", "playlist", "reject", "")
	inBody("POST /v1/schedules", "playlist_id", "playlist", "/v1/schedules", b.admin,
		schedRef(`"scope":"tenant","playlist_id":"{ref}"`))
	inBody("POST /v1/schedules", "store_id", "store", "/v1/schedules", b.admin,
		schedRef(`"scope":"store","store_id":"{ref}","playlist_id":"`+b.f.playlist.ID+`"`))
	inBody("POST /v1/schedules", "zone_id", "zone", "/v1/schedules", b.admin,
		schedRef(`"scope":"zone","zone_id":"{ref}","playlist_id":"`+b.f.playlist.ID+`"`))
	inBody("POST /v1/schedules", "spot rule playlist_id", "playlist", "/v1/schedules", b.admin,
		schedRef(`"scope":"tenant","playlist_id":"`+b.f.playlist.ID+`","spot_rules":[{"playlist_id":"{ref}","every_n_tracks":3}]`))
	inQuery("GET /v1/schedules", "store_id", "store")
	inPath("GET /v1/schedules/{id}", "schedule", "reject", "")
	inPath("PUT /v1/schedules/{id}", "schedule", "reject", schedule)
	inBody("PUT /v1/schedules/{id}", "playlist_id", "playlist", "/v1/schedules/"+b.f.schedule.ID, b.admin,
		schedRef(`"scope":"store","store_id":"`+b.f.store.ID+`","playlist_id":"{ref}"`))
	inPath("DELETE /v1/schedules/{id}", "schedule", "reject", "")

	// The device API last: opaque references B's devices report (an asset id in a play event) are stored as B's
	// own rows, which the reads above would then rightly show B; and the enrollment registers A's device key in B.
	add("POST /v1/device/enroll", "A's device key as peer_public_key", "peer", "same",
		func(ref string) (string, string, string, []byte) {
			return "POST", "/v1/device/enroll", "", []byte(`{"token":"` + b.newEnrollment() + `","peer_public_key":"` + ref + `"}`)
		})
	for _, dev := range []string{"/v1/device/sync", "/v1/device/plays"} {
		route := "POST " + dev
		wrap := func(evs string) string { return `{"events":[` + evs + `]}` }
		if dev == "/v1/device/sync" {
			wrap = func(evs string) string { return `{"revision":0,"play_events":[` + evs + `]}` }
			inBody(route, "inventory.missing", "sha", dev, b.device, `{"inventory":{"cached_assets":0,"missing":["{ref}"]}}`)
			inBody(route, "status.now_playing_asset_id", "asset", dev, b.device, `{"status":{"now_playing_asset_id":"{ref}"}}`)
		}
		inBody(route, "play event device_id", "device", dev, b.device, wrap(event(`"device_id":"{ref}"`)))
		inBody(route, "play event asset_id", "asset", dev, b.device, wrap(event(own+`,"asset_id":"{ref}"`)))
		inBody(route, "play event zone_id", "zone", dev, b.device, wrap(event(own+`,"zone_id":"{ref}"`)))
	}
	for _, r := range []string{"GET /v1/blobs/{sha256}", "HEAD /v1/blobs/{sha256}"} {
		inPath(r, "sha", "public", "")
	}

	return out
}
