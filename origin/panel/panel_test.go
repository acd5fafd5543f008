package panel_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

func TestLoginRejectsBadTokenAndForeignForms(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t, e.url)
	if st, page := b.login("lmza_not-a-real-token"); st != http.StatusUnauthorized || !strings.Contains(page, "was not accepted") {
		t.Fatalf("bad token: %d\n%s", st, page)
	}
	// A sign-in form not issued to this browser (CSRF) is refused even with a good token.
	if st, _ := b.post("/panel/login", url.Values{"csrf": {"forged"}, "token": {e.token}}); st != http.StatusForbidden {
		t.Fatalf("forged login form: %d, want 403", st)
	}
	if st, _ := b.get("/panel/fleet"); st != http.StatusOK {
		t.Fatalf("fleet after refused logins: %d", st)
	}
	if _, page := b.get("/panel/fleet"); !strings.Contains(page, `id="token"`) {
		t.Fatal("not signed in, the fleet must redirect to the sign-in page")
	}
}

// TestSessionSurvivesRestartAndWorksOnAnotherReplica: two origin replicas on one PostgreSQL catalog, sharing
// the signing key as a deployment does; a session made on one works on the other.
func TestSessionSurvivesRestartAndWorksOnAnotherReplica(t *testing.T) {
	e := newEnv(t, envOpts{postgres: true})
	e.shop("Loja Centro", "Salão")
	b := newBrowser(t, e.url)
	if st, page := b.login(e.token); st != http.StatusOK || !strings.Contains(page, "Loja Centro") {
		t.Fatalf("login: %d\n%s", st, page)
	}
	// A second replica (or the same origin after a restart) with the same signing key and catalog.
	other := e.start(envOpts{})
	u, _ := url.Parse(e.url)
	u2, _ := url.Parse(other)
	b.c.Jar.SetCookies(u2, b.c.Jar.Cookies(u)) // the browser sends the cookie to the same site; ports differ here
	b.base = other
	st, page := b.get("/panel/fleet")
	if st != http.StatusOK || !strings.Contains(page, "Loja Centro") {
		t.Fatalf("session on the other replica: %d\n%s", st, page)
	}
	// A server with another signing key (another deployment) does not accept the cookie.
	_, foreign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	third := e.startWithKey(envOpts{}, foreign)
	u3, _ := url.Parse(third)
	b.c.Jar.SetCookies(u3, b.c.Jar.Cookies(u))
	b.base = third
	if _, page := b.get("/panel/fleet"); !strings.Contains(page, `id="token"`) {
		t.Fatal("a session sealed under another key was accepted")
	}
	b.base = other
	// Signing out ends the session in this browser.
	if st, _ := b.post("/panel/logout", url.Values{"csrf": {b.csrf(page)}}); st != http.StatusOK {
		t.Fatalf("logout: %d", st)
	}
	if _, page := b.get("/panel/fleet"); !strings.Contains(page, `id="token"`) {
		t.Fatal("after sign-out the fleet must ask to sign in")
	}
}

func TestRevokedTokenEndsSession(t *testing.T) {
	e := newEnv(t, envOpts{})
	st0, _ := e.shop("Loja", "Z")
	tok := e.managerToken(st0.ID)
	b := newBrowser(t, e.url)
	if st, _ := b.login(tok); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	var toks api.Page[api.AdminToken]
	if err := e.admin.Do(testCtx(t), http.MethodGet, "/v1/admin-tokens", nil, &toks); err != nil {
		t.Fatal(err)
	}
	for _, at := range toks.Items {
		if at.Role == "manager" {
			if err := e.admin.Do(testCtx(t), http.MethodPost, "/v1/admin-tokens/"+at.ID+"/revoke", nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, page := b.get("/panel/fleet"); !strings.Contains(page, `id="token"`) {
		t.Fatal("a revoked token's session must end at the next request")
	}
}

func TestCSRFIsRequiredOnEveryForm(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t, e.url)
	_, page := b.login(e.token)
	for _, path := range []string{"/panel/playlists", "/panel/schedules", "/panel/logout"} {
		if st, _ := b.post(path, url.Values{"name": {"Evil"}}); st != http.StatusForbidden {
			t.Errorf("POST %s without csrf: %d, want 403", path, st)
		}
		if st, _ := b.post(path, url.Values{"name": {"Evil"}, "csrf": {"x" + b.csrf(page)}}); st != http.StatusForbidden {
			t.Errorf("POST %s with a wrong csrf: %d, want 403", path, st)
		}
	}
	var pg api.Page[api.Playlist]
	if err := e.admin.Do(testCtx(t), http.MethodGet, "/v1/playlists", nil, &pg); err != nil || len(pg.Items) != 0 {
		t.Fatalf("refused forms must change nothing: %v %v", err, pg.Items)
	}
	// A CSRF token of another session is refused too.
	b2 := newBrowser(t, e.url)
	b2.login(e.token)
	if st, _ := b2.post("/panel/playlists", url.Values{"name": {"X"}, "csrf": {b.csrf(page)}}); st != http.StatusForbidden {
		t.Errorf("another session's csrf: %d, want 403", st)
	}
}

func TestFailedSaveKeepsWhatWasTyped(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t, e.url)
	b.login(e.token)
	_, page := b.get("/panel/schedules")
	st, page := b.post("/panel/schedules", url.Values{"csrf": {b.csrf(page)}, "scope": {"tenant"},
		"playlist": {"00000000-0000-4000-8000-000000000000"}, "priority": {"7"}, "start": {"25:99"}, "end": {"18:00"},
		"at": {"09:15"}, "wd": {"1", "3"}})
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("bad schedule: %d, want 422\n%s", st, page)
	}
	for _, want := range []string{`role="alert"`, "Not saved:", `value="25:99"`, `value="7"`, `value="09:15"`,
		`id="wd1" checked`, `id="wd3" checked`} {
		if !strings.Contains(page, want) {
			t.Errorf("page after a failed save lacks %q", want)
		}
	}
	if strings.Contains(page, `id="wd2" checked`) {
		t.Error("a day that was not ticked came back ticked")
	}
	// A priority that is not a number is explained without asking origin.
	_, page = b.post("/panel/schedules", url.Values{"csrf": {b.csrf(page)}, "priority": {"high"}, "start": {"08:00"}, "end": {"09:00"}})
	if !strings.Contains(page, "whole numbers") || !strings.Contains(page, `value="high"`) {
		t.Errorf("non-numeric priority: no plain-words error or the typed value is lost")
	}
}

func TestManagerSeesOwnStoreReadOnly(t *testing.T) {
	e := newEnv(t, envOpts{})
	mine, z := e.shop("Loja Minha", "Salão")
	e.shop("Loja Outra", "Caixa")
	e.enroll(mine.ID, z.ID)
	b := newBrowser(t, e.url)
	st, page := b.login(e.managerToken(mine.ID))
	if st != http.StatusOK || !strings.Contains(page, "Loja Minha") || strings.Contains(page, "Loja Outra") {
		t.Fatalf("manager fleet: %d, must show only the own store\n%s", st, page)
	}
	if !strings.Contains(page, "1 devices") {
		t.Errorf("manager fleet should count the store's device")
	}
	_, page = b.get("/panel/playlists")
	if strings.Contains(page, `id="playlist-form"`) {
		t.Error("a manager must not be offered the new-playlist form")
	}
	// Even a hand-made POST is refused by origin's rules and explained.
	st, page = b.post("/panel/playlists", url.Values{"csrf": {b.csrf(page)}, "name": {"Sneaky"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(page, "role does not allow") {
		t.Fatalf("manager POST: %d\n%s", st, page)
	}
	var pg api.Page[api.Playlist]
	if err := e.admin.Do(testCtx(t), http.MethodGet, "/v1/playlists", nil, &pg); err != nil || len(pg.Items) != 0 {
		t.Fatalf("a manager's refused save changed something: %v %v", err, pg.Items)
	}
}

func TestLanguageFromAcceptLanguageAndSwitch(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t, e.url)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/panel/login", nil)
	req.Header.Set("Accept-Language", "fr;q=0.9, pt-BR;q=0.8, en;q=0.5")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, res)
	if !strings.Contains(body, `lang="pt-BR"`) || !strings.Contains(body, "Token de acesso") {
		t.Fatalf("Accept-Language pt-BR did not give Portuguese:\n%s", body)
	}
	// The switch wins over the header and goes back to the page, never off-site.
	if _, page := b.get("/panel/lang?l=en&next=" + url.QueryEscape("//evil.example/x")); !strings.Contains(page, "Access token") {
		t.Fatalf("switch to English failed:\n%s", page)
	}
	req, _ = http.NewRequest(http.MethodGet, e.url+"/panel/login", nil)
	req.Header.Set("Accept-Language", "pt-BR")
	res, err = b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, res); !strings.Contains(body, "Access token") {
		t.Fatal("the chosen language must win over Accept-Language")
	}
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

// TestReportsPreviewAndAlerts runs the read screens over real data: a device's plays in the fleet, the report
// and its CSV (with ISRC), the preview from the selection code, and the alerts.
func TestReportsPreviewAndAlerts(t *testing.T) {
	e := newEnv(t, envOpts{}) // direct ingest: a WAV master is its own rendition
	st, z := e.shop("Loja Centro", "Salão")
	c := testCtx(t)
	wav := wavBytes(8000)
	up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: "=Garota", Artist: "Tom",
		ISRC: "BRABC2600001"})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: "Manhã", AssetIDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.CreateSchedule(c, api.ScheduleInput{Scope: "tenant", PlaylistID: pl.ID, Start: "00:00", End: "00:00"}); err != nil {
		t.Fatal(err)
	}
	d := e.enroll(st.ID, z.ID)
	idle := e.enroll(st.ID, z.ID)
	_ = idle
	d.sync(t, a.ID, time.Now().Add(-time.Minute))

	b := newBrowser(t, e.url)
	b.login(e.token)
	_, page := b.get("/panel/fleet")
	for _, want := range []string{"=Garota — Tom", "1.4.2", "online", "never synced", "2 devices, 1 online"} {
		if !strings.Contains(page, want) {
			t.Errorf("fleet lacks %q", want)
		}
	}
	_, page = b.get("/panel/plays?" + url.Values{"store": {st.ID}}.Encode())
	if !strings.Contains(page, "BRABC2600001") {
		t.Errorf("plays report lacks the ISRC")
	}
	res, err := b.c.Get(e.url + "/panel/plays.csv?" + url.Values{"zone": {z.ID}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(readBody(t, res))).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v %v", err, recs)
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["isrc"] != "BRABC2600001" || row["title"] != "'=Garota" || row["device_id"] != d.id || row["store"] != "Loja Centro" {
		t.Errorf("csv row %v", row)
	}
	_, page = b.get("/panel/preview?" + url.Values{"zone": {z.ID}, "hours": {"1"}}.Encode())
	if !strings.Contains(page, `class="lvl-scheduled"`) || !strings.Contains(page, "=Garota") {
		t.Errorf("preview does not play the scheduled track:\n%s", page)
	}
	if st, _ := b.get("/panel/preview?" + url.Values{"zone": {z.ID}, "hours": {"99"}}.Encode()); st != http.StatusBadRequest {
		t.Errorf("preview of 99 hours: %d, want 400", st)
	}
	_, page = b.get("/panel/alerts")
	if !strings.Contains(page, "never synced") {
		t.Errorf("alerts lack the device that never synced")
	}
	_, page = b.get("/panel/schedules")
	if strings.Count(page, `class="on"`) != 7*24 {
		t.Errorf("an all-day, every-day schedule should fill the week grid, got %d cells", strings.Count(page, `class="on"`))
	}
	_, page = b.get("/panel/library?q=garota")
	if !strings.Contains(page, "=Garota") || !strings.Contains(page, "ready") {
		t.Errorf("library search misses the track")
	}
	if _, page = b.get("/panel/library?q=nothing-like-it"); strings.Contains(page, "=Garota") {
		t.Errorf("library search returns a track that does not match")
	}
}

func TestFleetFormsCreateStoreZoneAndEnrollmentToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := newBrowser(t, e.url)
	_, page := b.login(e.token)
	csrf := b.csrf(page)
	// A bad time zone is refused in plain words and the typed name stays.
	st, page := b.post("/panel/fleet", url.Values{"csrf": {csrf}, "form": {"store"}, "store_name": {"Loja Nova"},
		"store_tz": {"Mars/Olympus"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(page, "Not saved:") || !strings.Contains(page, `value="Loja Nova"`) {
		t.Fatalf("bad time zone: %d\n%s", st, page)
	}
	if st, page = b.post("/panel/fleet", url.Values{"csrf": {csrf}, "form": {"store"}, "store_name": {"Loja Nova"},
		"store_tz": {"America/Recife"}}); st != http.StatusOK || !strings.Contains(page, "Store created.") {
		t.Fatalf("create store: %d", st)
	}
	stores, err := e.admin.ListStores(testCtx(t))
	if err != nil || len(stores) != 1 {
		t.Fatalf("stores: %v %v", err, stores)
	}
	if st, page = b.post("/panel/fleet", url.Values{"csrf": {csrf}, "form": {"zone"}, "zone_store": {stores[0].ID},
		"zone_name": {"Caixa"}}); st != http.StatusOK || !strings.Contains(page, "Zone created.") {
		t.Fatalf("create zone: %d", st)
	}
	stores, _ = e.admin.ListStores(testCtx(t))
	st, page = b.post("/panel/fleet", url.Values{"csrf": {csrf}, "form": {"enroll"},
		"enroll_zone": {"zone:" + stores[0].ID + ":" + stores[0].Zones[0].ID}})
	m := regexp.MustCompile(`id="enroll-token">([^<]+)<`).FindStringSubmatch(page)
	if st != http.StatusOK || m == nil {
		t.Fatalf("enrollment token: %d\n%s", st, page)
	}
	// The token shown enrolls a player through the device API.
	if _, err := e.client(e.url, "").Enroll(testCtx(t), api.EnrollRequest{Token: m[1], PeerPublicKey: peerKey(t)}); err != nil {
		t.Fatalf("enroll with the panel's token: %v", err)
	}
}

func TestEditAssetWindowAndEmergencyFlag(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := testCtx(t)
	wav := wavBytes(2000)
	up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "spot", Title: "Promo", CueInMS: 100})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.url)
	b.login(e.token)
	st, page := b.get("/panel/library/" + a.ID)
	if st != http.StatusOK || !strings.Contains(page, `id="asset-form"`) {
		t.Fatalf("asset page: %d", st)
	}
	form := url.Values{"csrf": {b.csrf(page)}, "title": {"Promo de Natal"}, "kind": {"spot"},
		"valid_from": {"2026-12-20T08:00"}, "valid_until": {"2026-12-10T22:00"}, "emergency": {"1"}}
	st, page = b.post("/panel/library/"+a.ID, form)
	if st != http.StatusUnprocessableEntity || !strings.Contains(page, "Not saved:") ||
		!strings.Contains(page, `value="2026-12-10T22:00"`) || !strings.Contains(page, `value="Promo de Natal"`) {
		t.Fatalf("inverted window: %d\n%s", st, page)
	}
	got, err := getAssetAPI(t, e, a.ID)
	if err != nil || got.Title != "Promo" || got.ValidUntil != nil {
		t.Fatalf("a refused edit changed the asset: %v %+v", err, got)
	}
	form.Set("valid_until", "2026-12-24T22:00")
	if st, page = b.post("/panel/library/"+a.ID, form); st != http.StatusOK || !strings.Contains(page, "Saved.") {
		t.Fatalf("edit: %d\n%s", st, page)
	}
	got, err = getAssetAPI(t, e, a.ID)
	want := time.Date(2026, 12, 24, 22, 0, 0, 0, time.UTC)
	if err != nil || got.Title != "Promo de Natal" || got.ValidUntil == nil || !got.ValidUntil.Equal(want) ||
		!got.EmergencyEligible || got.CueInMS != 100 {
		t.Fatalf("after edit: %v %+v", err, got)
	}
}

func getAssetAPI(t *testing.T, e *env, id string) (api.Asset, error) {
	var a api.Asset
	err := e.admin.Do(testCtx(t), http.MethodGet, "/v1/assets/"+id, nil, &a)
	return a, err
}

func TestDeleteScheduleAndPlaylist(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := testCtx(t)
	wav := wavBytes(1000)
	up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: "T"})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: "P", AssetIDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.admin.CreateSchedule(c, api.ScheduleInput{Scope: "tenant", PlaylistID: pl.ID, Start: "08:00", End: "12:00"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.url)
	_, page := b.login(e.token)
	csrf := b.csrf(page)
	if st, _ := b.post("/panel/schedules/"+sc.ID+"/delete", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("delete without csrf: %d, want 403", st)
	}
	if st, page := b.post("/panel/schedules/"+sc.ID+"/delete", url.Values{"csrf": {csrf}}); st != http.StatusOK || !strings.Contains(page, "Deleted.") {
		t.Fatalf("delete schedule: %d", st)
	}
	if st, page := b.post("/panel/playlists/"+pl.ID+"/delete", url.Values{"csrf": {csrf}}); st != http.StatusOK || !strings.Contains(page, "Deleted.") {
		t.Fatalf("delete playlist: %d\n%s", st, page)
	}
	var pls api.Page[api.Playlist]
	var scs api.Page[api.Schedule]
	if e.admin.Do(c, http.MethodGet, "/v1/playlists", nil, &pls) != nil || e.admin.Do(c, http.MethodGet, "/v1/schedules", nil, &scs) != nil ||
		len(pls.Items) != 0 || len(scs.Items) != 0 {
		t.Fatalf("left after delete: %v %v", pls.Items, scs.Items)
	}
	if st, page := b.post("/panel/playlists/"+pl.ID+"/delete", url.Values{"csrf": {csrf}}); st != http.StatusUnprocessableEntity || !strings.Contains(page, "Not saved:") {
		t.Fatalf("deleting a deleted playlist: %d", st)
	}
}

func TestEditPlaylistKeepsOrderAndAddsTracks(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := testCtx(t)
	var ids []string
	for i, title := range []string{"Alpha", "Bravo", "Charlie"} {
		wav := wavBytes(500 + 100*i)
		up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: title})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: "Tarde", AssetIDs: []string{ids[1], ids[0]}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.url)
	b.login(e.token)
	st, page := b.get("/panel/playlists/" + pl.ID + "?q=charlie")
	if st != http.StatusOK || !strings.Contains(page, `id="a-`+ids[2]+`"`) || strings.Index(page, "Bravo") > strings.Index(page, "Alpha") {
		t.Fatalf("playlist page: %d, search result or order wrong\n%s", st, page)
	}
	// Remove Bravo, keep Alpha, add Charlie.
	st, page = b.post("/panel/playlists/"+pl.ID, url.Values{"csrf": {b.csrf(page)}, "name": {"Tarde 2"},
		"keep": {ids[0]}, "asset": {ids[2]}})
	if st != http.StatusOK || !strings.Contains(page, "Playlist saved.") {
		t.Fatalf("save: %d", st)
	}
	var got api.Playlist
	if err := e.admin.Do(c, http.MethodGet, "/v1/playlists/"+pl.ID, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "Tarde 2" || strings.Join(got.AssetIDs, ",") != ids[0]+","+ids[2] {
		t.Fatalf("after edit: %+v", got)
	}
	// An empty name is refused by origin; the typed tracks stay ticked.
	st, page = b.post("/panel/playlists/"+pl.ID, url.Values{"csrf": {b.csrf(page)}, "name": {""}, "keep": {ids[2]}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(page, "Not saved:") ||
		!strings.Contains(page, `id="k-`+ids[2]+`" checked`) || strings.Contains(page, `id="k-`+ids[0]+`" checked`) {
		t.Fatalf("empty name: %d\n%s", st, page)
	}
}
