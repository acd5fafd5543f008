package panel_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// panelForms are the panel's POST routes a signed-in director fuzzes; sel picks one. The library's new-asset form
// is a streamed multipart upload, the others urlencoded.
var panelForms = []string{"/panel/fleet", "/panel/library/{{asset}}", "/panel/playlists", "/panel/playlists/{{playlist}}",
	"/panel/schedules", "/panel/zones/{{zone}}", "/panel/library"}

// FuzzPanelForms posts fuzzed form bodies to the panel's forms as a signed-in director, through the real origin
// server: every answer must be below 500 (a panic is answered 500), and a refused form (4xx) must leave the tenant
// as it was. Seeds (testdata/fuzz) are valid forms naming the fixture through {{store}}, {{zone}}, {{asset}} and
// {{playlist}} (and {{sha}}, the uploaded master).
func FuzzPanelForms(f *testing.F) {
	e := newEnv(f, envOpts{})
	c := testCtx(f)
	st, z := e.shop("Loja", "Salão")
	wav := wavBytes(300)
	up, err := e.admin.Upload(c, shaHex(wav), int64(len(wav)), strings.NewReader(string(wav)))
	if err != nil {
		f.Fatal(err)
	}
	a, err := e.admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: "T"})
	if err != nil {
		f.Fatal(err)
	}
	pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: "P", AssetIDs: []string{a.ID}})
	if err != nil {
		f.Fatal(err)
	}
	b := newBrowser(f, e.url)
	_, page := b.login(e.token)
	csrf := b.csrf(page)
	expand := strings.NewReplacer("{{store}}", st.ID, "{{zone}}", z.ID, "{{asset}}", a.ID, "{{playlist}}", pl.ID,
		"{{sha}}", up.SHA256).Replace
	state := func(t *testing.T) string {
		var s strings.Builder
		for _, p := range []string{"/v1/stores", "/v1/assets", "/v1/playlists", "/v1/schedules",
			"/v1/enrollment-tokens", "/v1/zones/" + z.ID + "/override/history"} {
			var v json.RawMessage
			if err := e.admin.Do(testCtx(t), http.MethodGet, p, nil, &v); err != nil {
				t.Fatal(err)
			}
			s.Write(v)
		}
		return s.String()
	}
	tally := testenv.FuzzTally(f)
	f.Fuzz(func(t *testing.T, sel uint8, form string) {
		defer tally()
		path := expand(panelForms[int(sel)%len(panelForms)])
		ctype, body := "application/x-www-form-urlencoded", expand(form)+"&csrf="+csrf
		if path == "/panel/library" {
			// The streamed upload reads its CSRF token from the query, before the body.
			ctype, body, path = "multipart/form-data; boundary=lomuzfuzz", expand(form), path+"?csrf="+csrf
		}
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, e.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		before := state(t)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch {
		case res.StatusCode >= 500:
			t.Fatalf("POST %s %q: status %d", path, body, res.StatusCode)
		case res.StatusCode == http.StatusUnauthorized:
			t.Fatalf("POST %s: the session was lost", path)
		case res.StatusCode >= 400:
			if after := state(t); after != before {
				t.Fatalf("POST %s %q refused with %d but changed the tenant", path, body, res.StatusCode)
			}
		}
	})
}
