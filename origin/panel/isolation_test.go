package panel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
)

// panelRoute finds the panel's routes in panel.go ("GET /fleet"), so a new page needs a case below.
var panelRoute = regexp.MustCompile(`m\.Handle(?:Func)?\("([A-Z]+) "\+pre\+"([^"]*)"`)

// TestPanelTenantIsolation signs in to the panel as tenant B and names tenant A's ids on every page and form that
// takes one (path, query or form field), then compares each answer with the answer for an id that exists nowhere:
// same status, none of A's ids or names in the page, and A unchanged. Pages that take no id must show nothing of A.
func TestPanelTenantIsolation(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := testCtx(t)
	mark := func(what string) string { return "tenant-a-" + what + "-" + uuid.NewString()[:8] }
	st, z := e.shop(mark("store"), mark("zone"))
	wav := wavBytes(500)
	up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: mark("title")})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: mark("playlist"), AssetIDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.admin.CreateSchedule(c, api.ScheduleInput{Scope: "zone", StoreID: st.ID, ZoneID: z.ID,
		PlaylistID: pl.ID, Start: "00:00", End: "00:00"})
	if err != nil {
		t.Fatal(err)
	}
	d := e.enroll(st.ID, z.ID)
	d.sync(t, a.ID, time.Now().Add(-time.Minute))
	if err := e.admin.Do(c, http.MethodPut, "/v1/zones/"+z.ID+"/override", map[string]any{"volume_pct": 30}, nil); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"store": st.ID, "zone": z.ID, "asset": a.ID, "playlist": pl.ID, "schedule": sc.ID,
		"device": d.id}
	secrets := []string{st.Name, z.Name, a.Title, pl.Name, up.SHA256, e.token, st.MeshID}
	for _, id := range ids {
		secrets = append(secrets, id)
	}
	state := func() string {
		var b strings.Builder
		for _, p := range []string{"/v1/stores", "/v1/assets", "/v1/playlists", "/v1/schedules", "/v1/devices",
			"/v1/enrollment-tokens", "/v1/plays", "/v1/zones/" + z.ID + "/override/history"} {
			var v json.RawMessage
			if err := e.admin.Do(c, http.MethodGet, p, nil, &v); err != nil {
				t.Fatal(err)
			}
			b.Write(v)
		}
		return b.String()
	}
	before := state()

	// Tenant B, with a store of its own, signed in as its director.
	_, tokB, err := origin.Bootstrap(context.Background(), e.cat, "Chain B", "director")
	if err != nil {
		t.Fatal(err)
	}
	adminB := e.client(e.url, tokB)
	stB, err := adminB.CreateStore(c, api.StoreInput{Name: "b", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.url)
	if status, _ := b.login(tokB); status != http.StatusOK {
		t.Fatalf("B's login: %d", status)
	}
	_, page := b.get("/panel/fleet")
	csrf := b.csrf(page)

	type panelCase struct {
		route, kind  string // kind "" names nothing of A
		path         string // may hold {ref}
		form         url.Values
		formRefField string
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {csrf}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []panelCase{
		{route: "GET /login", path: "/panel/login"},
		{route: "GET /lang", path: "/panel/lang?l=en&next=/panel/fleet"},
		{route: "GET /static/", path: "/panel/static/panel.css"},
		{route: "GET /{$}", path: "/panel/"},
		{route: "GET /fleet", path: "/panel/fleet"},
		{route: "GET /fleet", kind: "store", path: "/panel/fleet?store={ref}"},
		{route: "POST /fleet", kind: "store", path: "/panel/fleet", form: form("form", "zone", "zone_name", "x"), formRefField: "zone_store"},
		{route: "POST /fleet", kind: "zone", path: "/panel/fleet", form: form("form", "enroll"), formRefField: "enroll_zone"},
		{route: "GET /alerts", path: "/panel/alerts"},
		{route: "GET /library", path: "/panel/library"},
		{route: "POST /library", path: "/panel/library", form: form("kind", "music", "title", "x")},
		{route: "GET /library/{id}", kind: "asset", path: "/panel/library/{ref}"},
		{route: "POST /library/{id}", kind: "asset", path: "/panel/library/{ref}", form: form("kind", "music", "title", "x")},
		{route: "GET /playlists", path: "/panel/playlists"},
		{route: "POST /playlists", kind: "asset", path: "/panel/playlists", form: form("name", "x"), formRefField: "asset"},
		{route: "GET /playlists/{id}", kind: "playlist", path: "/panel/playlists/{ref}"},
		{route: "POST /playlists/{id}", kind: "playlist", path: "/panel/playlists/{ref}", form: form("name", "x")},
		{route: "POST /playlists/{id}/delete", kind: "playlist", path: "/panel/playlists/{ref}/delete", form: form()},
		{route: "GET /schedules", path: "/panel/schedules"},
		{route: "POST /schedules", kind: "playlist", path: "/panel/schedules", form: form("scope", "tenant", "start", "08:00", "end", "12:00", "priority", "0"), formRefField: "playlist"},
		{route: "POST /schedules/{id}/delete", kind: "schedule", path: "/panel/schedules/{ref}/delete", form: form()},
		{route: "GET /preview", kind: "zone", path: "/panel/preview?zone={ref}"},
		{route: "GET /plays", kind: "store", path: "/panel/plays?store={ref}"},
		{route: "GET /plays", kind: "zone", path: "/panel/plays?zone={ref}"},
		{route: "GET /plays", kind: "device", path: "/panel/plays?device={ref}"},
		{route: "GET /plays.csv", kind: "store", path: "/panel/plays.csv?store={ref}"},
		{route: "GET /zones", path: "/panel/zones"},
		{route: "POST /zones/{id}", kind: "zone", path: "/panel/zones/{ref}", form: form("action", "set", "volume", "100")},
		{route: "POST /zones/{id}", kind: "zone", path: "/panel/zones/{ref}", form: form("action", "clear")},
		{route: "POST /login", path: "/panel/login", form: url.Values{"token": {"lmza_not-a-token"}}},
		{route: "POST /logout", path: "/panel/logout", form: form()}, // last: it ends B's session
	}
	src, err := os.ReadFile("panel.go")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, pc := range cases {
		covered[pc.route] = true
	}
	for _, m := range panelRoute.FindAllStringSubmatch(string(src), -1) {
		if r := m[1] + " " + m[2]; !covered[r] {
			t.Errorf("panel route %s has no tenant-isolation case", r)
		}
	}

	send := func(pc panelCase, ref string) (int, string) {
		path := strings.ReplaceAll(pc.path, "{ref}", ref)
		if pc.form == nil {
			return b.get(path)
		}
		f := url.Values{}
		for k, v := range pc.form {
			f[k] = v
		}
		switch pc.formRefField {
		case "":
		case "enroll_zone":
			f.Set(pc.formRefField, "zone:"+stB.ID+":"+ref)
		default:
			f.Set(pc.formRefField, ref)
		}
		return b.post(path, f)
	}
	for _, pc := range cases {
		ref := ids[pc.kind]
		statusA, pageA := send(pc, ref)
		for _, s := range secrets {
			if s != ref && strings.Contains(pageA, s) {
				t.Errorf("%s %s: B's page holds A's %q", pc.route, pc.path, s)
			}
		}
		if pc.route != "GET /login" && pc.route != "POST /login" && pc.route != "POST /logout" &&
			strings.Contains(pageA, `name="token"`) {
			t.Fatalf("%s %s: answered with the sign-in page: B's session is gone", pc.route, pc.path)
		}
		if statusA >= 500 {
			t.Errorf("%s %s: status %d", pc.route, pc.path, statusA)
		}
		if pc.kind == "" {
			continue
		}
		statusR, _ := send(pc, uuid.NewString())
		if statusR != statusA {
			t.Errorf("%s %s: status %d for A's %s, %d for one that does not exist", pc.route, pc.path, statusA,
				pc.kind, statusR)
		}
	}
	if after := state(); after != before {
		t.Errorf("B's panel requests changed tenant A:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("%d panel (page x attack) cases", len(cases))
}
