package panel_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// A store manager sees only their store's zones, sets a volume and a mute there (kept as typed when wrong,
// explained in plain words), clears it, and is refused another store's zone; a director sees every store.
func TestZoneOverridesPage(t *testing.T) {
	e := newEnv(t, envOpts{})
	mine, z := e.shop("Loja Minha", "Salão")
	other, oz := e.shop("Loja Outra", "Caixa")
	vol := 80
	if _, err := e.admin.SetZoneOverride(testCtx(t), oz.ID, api.ZoneOverrideInput{VolumePct: &vol}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.url)
	b.login(e.managerToken(mine.ID))
	st, page := b.get("/panel/zones")
	if st != http.StatusOK || !strings.Contains(page, "Loja Minha") || strings.Contains(page, "Loja Outra") ||
		strings.Contains(page, oz.ID) || !strings.Contains(page, `action="/panel/zones/`+z.ID+`"`) {
		t.Fatalf("manager's zones page: %d, must show only the own store's zones\n%s", st, page)
	}
	csrf := b.csrf(page)
	sp, _ := time.LoadLocation(mine.TimeZone)
	now := time.Now().In(sp)
	from, until := now.Add(-time.Minute).Format("2006-01-02T15:04"), now.Add(2*time.Hour).Format("2006-01-02T15:04")

	// Mistakes are explained and what was typed stays in the form.
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"volume": {"loud"}, "mute_from": {from}, "mute_until": {until}}, "whole number from 0 to 100"},
		{url.Values{"volume": {"50"}, "mute_from": {from}}, "both a start and an end"},
		{url.Values{"volume": {"50"}, "mute_from": {until}, "mute_until": {from}}, "must end after it starts"},
		{url.Values{"volume": {"50"}, "mute_from": {"2020-01-01T10:00"}, "mute_until": {"2020-01-01T11:00"}}, "already be over"},
	} {
		bad.form.Set("csrf", csrf)
		bad.form.Set("action", "set")
		st, page := b.post("/panel/zones/"+z.ID, bad.form)
		if st != http.StatusBadRequest || !strings.Contains(page, bad.want) || !strings.Contains(page, `role="alert"`) {
			t.Errorf("%v: %d, want 400 saying %q", bad.form, st, bad.want)
		}
		if v := bad.form.Get("volume"); !strings.Contains(page, `value="`+v+`"`) {
			t.Errorf("%v: the typed volume %q was lost", bad.form, v)
		}
	}

	st, page = b.post("/panel/zones/"+z.ID, url.Values{"csrf": {csrf}, "action": {"set"}, "volume": {"35"},
		"mute_from": {from}, "mute_until": {until}})
	if st != http.StatusOK || !strings.Contains(page, "Zone override saved.") || !strings.Contains(page, "Muted now") ||
		!strings.Contains(page, `value="35"`) || !strings.Contains(page, `value="`+until+`"`) {
		t.Fatalf("save: %d\n%s", st, page)
	}
	got, err := e.admin.ZoneOverride(testCtx(t), z.ID)
	if err != nil || got.VolumePct != 35 || got.MuteUntil == nil || got.MuteUntil.In(sp).Format("2006-01-02T15:04") != until ||
		got.SetByName != "manager" {
		t.Fatalf("origin holds %+v, %v", got, err)
	}

	// Another store's zone, by a hand-made form: refused by origin, explained, nothing changed.
	st, page = b.post("/panel/zones/"+oz.ID, url.Values{"csrf": {csrf}, "action": {"set"}, "volume": {"0"}})
	if st != http.StatusForbidden || !strings.Contains(page, "role does not allow") {
		t.Fatalf("manager on another store's zone: %d\n%s", st, page)
	}
	st, _ = b.post("/panel/zones/"+oz.ID, url.Values{"csrf": {csrf}, "action": {"clear"}})
	if got, err := e.admin.ZoneOverride(testCtx(t), oz.ID); st != http.StatusForbidden || err != nil || got.VolumePct != 80 || got.Cleared {
		t.Fatalf("another store's override after the manager's attempts: %d, %+v, %v", st, got, err)
	}

	st, page = b.post("/panel/zones/"+z.ID, url.Values{"csrf": {csrf}, "action": {"clear"}})
	if st != http.StatusOK || !strings.Contains(page, "Zone back to normal.") || strings.Contains(page, "Muted now") {
		t.Fatalf("clear: %d\n%s", st, page)
	}

	// The director sees both stores, in Portuguese when asked.
	d := newBrowser(t, e.url)
	d.login(e.token)
	d.get("/panel/lang?l=pt-BR&next=/panel/zones")
	_, page = d.get("/panel/zones")
	for _, want := range []string{"Loja Minha", "Loja Outra", "Zonas: volume e mudo", "Volume 80%.", other.ID} {
		if !strings.Contains(page, want) {
			t.Errorf("director's zones page lacks %q", want)
		}
	}
}
