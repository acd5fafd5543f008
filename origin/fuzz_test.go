package origin_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog/embedded"
)

// The fuzz targets below drive the real HTTP handler of an origin on its embedded catalog, in-process, with
// fuzzed request bodies (and queries). Every answer must be a 2xx or a problem+json 4xx, never a 5xx or a panic,
// and a 4xx must leave the tenant as it was. Seed inputs (testdata/fuzz/FuzzX) are valid requests; they name the
// fixture's ids through placeholders ({{store}}, {{zone}}, {{asset}}, {{playlist}}, {{schedule}}, {{device}},
// {{sha}}, {{token}}, {{peerkey}}), replaced before each request, so mutations start from requests that pass.

// fuzzEnv is one origin with one tenant's store, zone, asset, playlist, schedule and enrolled device.
type fuzzEnv struct {
	*env
	f      fixture
	d      *device
	execs  func() // counts one execution (testenv.FuzzTally)
	admin  string // the tenant's director token
	device string // the device's credential
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	cat, err := embedded.Open(embedded.DefaultConfig(f.TempDir()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cat.Close() })
	e := newEnv(f, cat, nil)
	fe := &fuzzEnv{env: e, f: e.fixture(e.admin), admin: api.CredentialOf(e.admin), execs: testenv.FuzzTally(f)}
	fe.d = e.enroll(e.admin, fe.f.store.ID, fe.f.zone.ID)
	fe.device = api.CredentialOf(fe.d.c)
	return fe
}

// expand replaces the placeholders of b. A fresh enrollment token is made only when b asks for one.
func (fe *fuzzEnv) expand(t testing.TB, b []byte) []byte {
	if !bytes.Contains(b, []byte("{{")) {
		return b
	}
	r := []string{"{{store}}", fe.f.store.ID, "{{zone}}", fe.f.zone.ID, "{{asset}}", fe.f.asset.ID,
		"{{playlist}}", fe.f.playlist.ID, "{{schedule}}", fe.f.schedule.ID, "{{device}}", fe.d.id,
		"{{sha}}", fe.f.asset.SHA256, "{{peerkey}}", base64.StdEncoding.EncodeToString(newPeerKey(t))}
	if bytes.Contains(b, []byte("{{token}}")) {
		tok, err := fe.env.admin.CreateEnrollmentToken(ctx(t), api.EnrollmentTokenInput{StoreID: fe.f.store.ID,
			ZoneID: fe.f.zone.ID})
		if err != nil {
			t.Fatal(err)
		}
		r = append(r, "{{token}}", tok.Token)
	}
	return []byte(strings.NewReplacer(r...).Replace(string(b)))
}

// serve runs one request through the server's handler, in-process.
func (fe *fuzzEnv) serve(t testing.TB, method, path, token, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx(t), method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	fe.srv.Handler().ServeHTTP(w, req)
	return w
}

// state is what a refused request must not change: the tenant's revision and every row the admin API lists.
func (fe *fuzzEnv) state(t testing.TB) string {
	rev, err := fe.cat.Revision(ctx(t), fe.tenant)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rev %d\n", rev)
	for _, p := range []string{"/v1/stores", "/v1/assets", "/v1/playlists", "/v1/schedules", "/v1/devices",
		"/v1/enrollment-tokens", "/v1/admin-tokens", "/v1/plays", "/v1/devices/" + fe.d.id + "/sync-logs",
		"/v1/stores/" + fe.f.store.ID + "/overrides", "/v1/zones/" + fe.f.zone.ID + "/override/history"} {
		w := fe.serve(t, http.MethodGet, p, fe.admin, "", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, w.Code, w.Body)
		}
		b.Write(w.Body.Bytes())
		b.WriteByte('\n')
	}
	return b.String()
}

// check holds one answer to the rules: a 2xx or a problem+json 4xx, and a 4xx changed nothing.
func (fe *fuzzEnv) check(t *testing.T, what string, w *httptest.ResponseRecorder, before string) {
	t.Helper()
	if w.Code >= 500 || w.Code < 200 || (w.Code >= 300 && w.Code < 400) {
		t.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	if w.Code < 400 {
		return
	}
	var p api.Problem
	if ct := w.Header().Get("Content-Type"); ct != api.ProblemContentType {
		t.Fatalf("%s: status %d with Content-Type %q, want %s", what, w.Code, ct, api.ProblemContentType)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Detail == "" ||
		!strings.HasPrefix(p.Type, api.ProblemPrefix) {
		t.Fatalf("%s: status %d with a bad problem body %q (%v)", what, w.Code, w.Body, err)
	}
	if after := fe.state(t); after != before {
		t.Fatalf("%s: refused with %d (%s) but changed the tenant:\nbefore %s\nafter  %s", what, w.Code,
			p.Detail, before, after)
	}
}

// fuzzJSON fuzzes JSON bodies sent to routes ("METHOD /path", placeholders allowed); sel picks the route.
func fuzzJSON(f *testing.F, device bool, routes ...string) {
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		defer fe.execs()
		route := routes[int(sel)%len(routes)]
		method, path, _ := strings.Cut(string(fe.expand(t, []byte(route))), " ")
		token := fe.admin
		if device {
			token = fe.device
		}
		if path == "/v1/device/enroll" {
			token = ""
		}
		body = fe.expand(t, body)
		before := fe.state(t)
		fe.check(t, route, fe.serve(t, method, path, token, "application/json", body), before)
	})
}

func FuzzDeviceEnroll(f *testing.F) { fuzzJSON(f, true, "POST /v1/device/enroll") }
func FuzzDeviceSync(f *testing.F)   { fuzzJSON(f, true, "POST /v1/device/sync") }
func FuzzDevicePlays(f *testing.F)  { fuzzJSON(f, true, "POST /v1/device/plays") }
func FuzzAdminStores(f *testing.F) {
	fuzzJSON(f, false, "POST /v1/stores", "PUT /v1/stores/{{store}}", "POST /v1/stores/{{store}}/zones")
}
func FuzzAdminAssets(f *testing.F) { fuzzJSON(f, false, "POST /v1/assets", "PUT /v1/assets/{{asset}}") }
func FuzzAdminPlaylists(f *testing.F) {
	fuzzJSON(f, false, "POST /v1/playlists", "PUT /v1/playlists/{{playlist}}")
}
func FuzzAdminSchedules(f *testing.F) {
	fuzzJSON(f, false, "POST /v1/schedules", "PUT /v1/schedules/{{schedule}}")
}
func FuzzAdminOverrides(f *testing.F)        { fuzzJSON(f, false, "PUT /v1/zones/{{zone}}/override") }
func FuzzAdminEnrollmentTokens(f *testing.F) { fuzzJSON(f, false, "POST /v1/enrollment-tokens") }
func FuzzAdminTokens(f *testing.F)           { fuzzJSON(f, false, "POST /v1/admin-tokens") }

// FuzzAdminQuery fuzzes the query string of the admin API's reads (ids, times, cursors, limits).
func FuzzAdminQuery(f *testing.F) {
	fe := newFuzzEnv(f)
	paths := []string{"/v1/plays", "/v1/devices", "/v1/assets", "/v1/schedules", "/v1/enrollment-tokens",
		"/v1/devices/{{device}}/sync-logs"}
	f.Fuzz(func(t *testing.T, sel uint8, query string) {
		defer fe.execs()
		path := string(fe.expand(t, []byte(paths[int(sel)%len(paths)])))
		target := path + "?" + string(fe.expand(t, []byte(query)))
		line := "GET " + target + " HTTP/1.1\r\nHost: origin\r\n\r\n"
		if _, err := http.ReadRequest(bufio.NewReader(strings.NewReader(line))); err != nil {
			return // the server refuses this request line before any handler runs
		}
		before := fe.state(t)
		fe.check(t, "GET "+target, fe.serve(t, http.MethodGet, target, fe.admin, "", nil), before)
	})
}

// FuzzUpload fuzzes uploaded files: under their own sha256 (odd sel) they are stored, under another they are
// refused and not stored.
func FuzzUpload(f *testing.F) {
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		defer fe.execs()
		sum := sha256.Sum256(body)
		if sel%2 == 0 {
			sum = sha256.Sum256(append([]byte("other "), body...))
		}
		sha := hex.EncodeToString(sum[:])
		before := fe.state(t)
		w := fe.serve(t, http.MethodPut, "/v1/uploads/"+sha, fe.admin, "application/octet-stream", body)
		fe.check(t, "PUT /v1/uploads", w, before)
		stored, err := blob.Exists(ctx(t), fe.blobs, blob.ContentKey(sha))
		if err != nil {
			t.Fatal(err)
		}
		if sel%2 == 0 && (w.Code < 400 || stored) {
			t.Fatalf("bytes under another sha256: status %d, stored %v", w.Code, stored)
		}
		if sel%2 == 1 && (w.Code != http.StatusOK || !stored) {
			t.Fatalf("bytes under their own sha256: status %d, stored %v: %s", w.Code, stored, w.Body)
		}
	})
}
