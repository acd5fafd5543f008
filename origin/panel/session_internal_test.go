package panel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

func TestSessionSealOpen(t *testing.T) {
	k := deriveKeys(bytes.Repeat([]byte{7}, 32))
	now := time.Unix(1_800_000_000, 0)
	s := session{Token: "lmza_abc", Expires: now.Add(time.Hour).Unix(), Nonce: "n1"}
	v := k.seal(s)
	if strings.Contains(v, "lmza_abc") {
		t.Fatal("the token must not be readable in the cookie")
	}
	got, ok := k.open(v, now)
	if !ok || got != s {
		t.Fatalf("open(seal(s)) = %v, %v", got, ok)
	}
	if _, ok := k.open(v, now.Add(time.Hour)); ok {
		t.Error("an expired session opened")
	}
	if _, ok := deriveKeys(bytes.Repeat([]byte{8}, 32)).open(v, now); ok {
		t.Error("a session sealed under another deployment's key opened")
	}
	raw := []byte(v)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 1
		if _, ok := k.open(string(bad), now); ok {
			t.Fatalf("a cookie changed at byte %d still opened", i)
		}
	}
	if _, ok := k.open(strings.Repeat("A", maxCookieLen+1), now); ok {
		t.Error("an oversized cookie opened")
	}
	if k.csrfFor("n1") == k.csrfFor("n2") || k.csrfFor("n1") != deriveKeys(bytes.Repeat([]byte{7}, 32)).csrfFor("n1") {
		t.Error("CSRF tokens must be per session and the same on every replica")
	}
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"":                         "en",
		"pt-BR,pt;q=0.9,en;q=0.8":  "pt-BR",
		"pt-PT":                    "pt-BR",
		"en-US,en;q=0.9,pt;q=0.5":  "en",
		"de, pt;q=0.7, en;q=0.3":   "pt-BR",
		"en;q=0.2, pt-BR;q=0.9":    "pt-BR",
		"xx;q=garbage, pt;q=0.1":   "pt-BR",
		strings.Repeat("a,", 5000): "en",
	} {
		if got := fromAcceptLanguage(h); got != want {
			t.Errorf("fromAcceptLanguage(%.40q) = %s, want %s", h, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/panel/login", nil)
	r.Header.Set("Accept-Language", "pt-BR")
	if got := (&Panel{}).lang(r); got != "pt-BR" {
		t.Errorf("lang = %s", got)
	}
}

// TestCatalogsComplete: both languages have the same keys, and every key a template names exists.
func TestCatalogsComplete(t *testing.T) {
	for _, l := range langs {
		for _, other := range langs {
			for k := range catalogs[l] {
				if _, ok := catalogs[other][k]; !ok {
					t.Errorf("key %q is in %s but not in %s", k, l, other)
				}
			}
		}
	}
	used := regexp.MustCompile(`\b(?:t|tf) (?:\.L|\$L) "([a-z0-9.]+)"`)
	names, _ := fs.Glob(assets, "templates/*.html")
	for _, n := range names {
		b, _ := fs.ReadFile(assets, n)
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := catalogs["en"][m[1]]; !ok {
				t.Errorf("%s uses unknown message %q", n, m[1])
			}
		}
	}
	// Keys built at run time: roles, kinds, states, device status, days, alerts.
	for _, k := range []string{"role.director", "role.manager", "kind.music", "kind.spot", "kind.jingle",
		"state.pending", "state.ready", "state.failed", "fleet.online", "fleet.offline", "fleet.revoked",
		"day.0", "day.6", "alerts.offline", "alerts.never", "alerts.deadair", "alerts.emergency",
		"ok.asset", "ok.playlist", "ok.schedule", "ok.store", "ok.zone", "ok.saved", "level.scheduled", "level.spot",
		"level.emergency", "level.builtin", "level.silence"} {
		if _, ok := catalogs["en"][k]; !ok {
			t.Errorf("missing message %q", k)
		}
	}
}

// TestLevelsAndReasonsTranslated: every fallback level and reason the selection code names has a message.
func TestLevelsAndReasonsTranslated(t *testing.T) {
	for l := schedule.LevelScheduled; l <= schedule.LevelSilence; l++ {
		if _, ok := catalogs["pt-BR"]["level."+l.String()]; !ok {
			t.Errorf("no message for level %s", l)
		}
	}
	for r := schedule.Reason(0); !strings.HasPrefix(r.String(), "reason("); r++ {
		if _, ok := catalogs["pt-BR"]["reason."+r.String()]; !ok {
			t.Errorf("no message for reason %q", r)
		}
	}
}

func TestWeekGrid(t *testing.T) {
	g := gridOf(apiSchedule("22:00", "02:30", 5)) // Friday night into Saturday morning
	on := 0
	for d := range g {
		for h := range g[d] {
			if g[d][h] {
				on++
			}
		}
	}
	// Rows are Monday..Sunday: Friday is row 4, Saturday row 5.
	if on != 5 || !g[4][22] || !g[4][23] || !g[5][0] || !g[5][1] || !g[5][2] || g[5][3] {
		t.Errorf("grid of Fri 22:00-02:30: %d cells %v %v", on, g[4], g[5])
	}
	all := gridOf(apiSchedule("00:00", "00:00"))
	for d := range all {
		for h := range all[d] {
			if !all[d][h] {
				t.Fatalf("all-day schedule: day %d hour %d off", d, h)
			}
		}
	}
}

func apiSchedule(start, end string, days ...int) api.Schedule {
	return api.Schedule{Start: start, End: end, Weekdays: days}
}

// TestTransientAuthFailureKeepsSession: when origin cannot check a token (catalog down), the page says so and
// the session stays; only a token origin refuses ends it.
func TestTransientAuthFailureKeepsSession(t *testing.T) {
	var authErr error
	cfg := DefaultConfig()
	cfg.API = http.NotFoundHandler()
	cfg.Secret = bytes.Repeat([]byte{1}, 32)
	cfg.Authenticate = func(context.Context, string) (Identity, error) { return Identity{}, authErr }
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: sessionCookie, Value: p.keys.seal(session{Token: "lmza_x",
		Expires: time.Now().Add(time.Hour).Unix(), Nonce: "n"})}
	get := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/panel/fleet", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		return w
	}
	authErr = errors.New("catalog unreachable")
	if w := get(); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Header().Get("Set-Cookie"), sessionCookie) {
		t.Fatalf("transient failure: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	authErr = fmt.Errorf("%w: revoked", ErrBadToken)
	if w := get(); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), sessionCookie+"=;") {
		t.Fatalf("refused token: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
}
