package origin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// status returns the HTTP status of a *Problem error (0 for nil, -1 for another error).
func status(err error) int {
	var p *api.Problem
	switch {
	case err == nil:
		return 0
	case errors.As(err, &p):
		return p.Status
	}
	return -1
}

// TestZoneOverrides: a store manager sets and clears overrides of their own store's zones and is refused for
// another store's; bad input is refused with the field named; every change is audited; the store's devices
// receive the current override as a signed record, another store's devices do not; a deleted zone's override
// is withdrawn.
func TestZoneOverrides(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			c := ctx(t)
			f := e.fixture(e.admin)
			other, err := e.admin.CreateStore(c, api.StoreInput{Name: "Loja Norte", TimeZone: "America/Sao_Paulo"})
			if err != nil {
				t.Fatal(err)
			}
			otherZone, err := e.admin.CreateZone(c, other.ID, api.ZoneInput{Name: "Caixa"})
			if err != nil {
				t.Fatal(err)
			}
			devA, devB := e.enroll(e.admin, f.store.ID, f.zone.ID), e.enroll(e.admin, other.ID, otherZone.ID)
			devA.sync(t)
			devB.sync(t)
			var tok api.AdminToken
			if err := e.admin.Do(c, http.MethodPost, "/v1/admin-tokens",
				api.AdminTokenInput{Name: "gerente centro", Role: "manager", StoreID: f.store.ID}, &tok); err != nil {
				t.Fatal(err)
			}
			mgr := e.client(tok.Token, nil)
			vol := func(v int) *int { return &v }
			now := time.Now().UTC().Truncate(time.Millisecond)
			from, until := now.Add(time.Hour), now.Add(3*time.Hour)

			// The director mutes the other store's zone; the manager can neither see nor change it.
			dirSet, err := e.admin.SetZoneOverride(c, otherZone.ID, api.ZoneOverrideInput{VolumePct: vol(80)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mgr.SetZoneOverride(c, otherZone.ID, api.ZoneOverrideInput{VolumePct: vol(0)}); status(err) != 403 {
				t.Fatalf("manager sets another store's zone: %v, want 403", err)
			}
			if _, err := mgr.ClearZoneOverride(c, otherZone.ID); status(err) != 403 {
				t.Fatalf("manager clears another store's zone: %v, want 403", err)
			}
			if _, err := mgr.ZoneOverride(c, otherZone.ID); status(err) != 403 {
				t.Fatalf("manager reads another store's zone: %v, want 403", err)
			}
			if _, err := mgr.ListZoneOverrides(c, other.ID); status(err) != 403 {
				t.Fatalf("manager lists another store's overrides: %v, want 403", err)
			}
			if _, err := mgr.ZoneOverrideHistory(c, otherZone.ID); status(err) != 403 {
				t.Fatalf("manager reads another store's audit trail: %v, want 403", err)
			}
			if got, err := e.admin.ZoneOverride(c, otherZone.ID); err != nil || got.HLC != dirSet.HLC || got.VolumePct != 80 {
				t.Fatalf("the other store's override changed: %+v, %v", got, err)
			}
			// Overrides do not open other writes to a manager.
			if _, err := mgr.CreateZone(c, f.store.ID, api.ZoneInput{Name: "x"}); status(err) != 403 {
				t.Fatalf("manager creates a zone: %v, want 403", err)
			}

			if _, err := mgr.ZoneOverride(c, f.zone.ID); status(err) != 404 {
				t.Fatalf("override never set: %v, want 404", err)
			}
			fromS := from.Format(time.RFC3339)
			for _, bad := range []struct{ field, body string }{
				{"volume_pct", `{"volume_pct": 101}`},
				{"volume_pct", `{}`},
				{"mute_until", `{"volume_pct": 50, "mute_from": "` + fromS + `"}`},
				{"mute_until", `{"volume_pct": 50, "mute_from": "` + fromS + `", "mute_until": "` +
					from.Add(-time.Minute).Format(time.RFC3339) + `"}`},
				{"mute_until", `{"volume_pct": 50, "mute_from": "` + fromS + `", "mute_until": "` +
					from.Add(8*24*time.Hour).Format(time.RFC3339) + `"}`},
				{"mute_until", `{"volume_pct": 50, "mute_from": "2020-01-01T00:00:00Z", "mute_until": "2020-01-01T01:00:00Z"}`},
				{"loud", `{"volume_pct": 50, "loud": true}`},
			} {
				st, p := e.raw(http.MethodPut, "/v1/zones/"+f.zone.ID+"/override", tok.Token, "application/json", []byte(bad.body))
				if st != 400 || p == nil || p.Field != bad.field {
					t.Errorf("PUT %s: status %d, problem %+v; want 400 naming %q", bad.body, st, p, bad.field)
				}
			}

			set, err := mgr.SetZoneOverride(c, f.zone.ID, api.ZoneOverrideInput{VolumePct: vol(30), MuteFrom: &from, MuteUntil: &until})
			if err != nil {
				t.Fatalf("manager sets an override of their store: %v", err)
			}
			if set.VolumePct != 30 || !set.MuteFrom.Equal(from) || !set.MuteUntil.Equal(until) || set.SetBy != tok.ID ||
				set.SetByName != "gerente centro" || set.StoreID != f.store.ID || set.HLC.WallMS == 0 {
				t.Fatalf("override %+v", set)
			}
			// The zone's device receives it, signed (Sync verified it); the other store's device does not.
			devA.sync(t)
			rec, ok := devA.records["override/"+f.zone.ID]
			if !ok {
				t.Fatalf("device of the store did not receive the override; records %v", keys(devA.records))
			}
			var body api.ZoneOverride
			if err := json.Unmarshal(rec.Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.VolumePct != 30 || !body.MuteFrom.Equal(from) || body.HLC != set.HLC || body.SetBy != "" {
				t.Fatalf("record body %+v, want the override without who set it", body)
			}
			devB.sync(t)
			if _, ok := devB.records["override/"+f.zone.ID]; ok {
				t.Fatal("another store's device received the override")
			}
			if _, ok := devB.records["override/"+otherZone.ID]; !ok {
				t.Fatal("the other store's device did not receive its own zone's override")
			}

			cleared, err := mgr.ClearZoneOverride(c, f.zone.ID)
			if err != nil || !cleared.Cleared || cleared.VolumePct != 100 || cleared.MuteFrom != nil || cleared.HLC.WallMS < set.HLC.WallMS || cleared.HLC == set.HLC {
				t.Fatalf("clear: %+v, %v", cleared, err)
			}
			if _, err := mgr.ClearZoneOverride(c, f.zone.ID); status(err) != 404 {
				t.Fatalf("clear twice: %v, want 404", err)
			}
			hist, err := mgr.ZoneOverrideHistory(c, f.zone.ID)
			if err != nil || len(hist) != 2 || !hist[0].Cleared || hist[1].VolumePct != 30 || hist[1].SetBy != tok.ID {
				t.Fatalf("audit trail %+v, %v", hist, err)
			}
			list, err := mgr.ListZoneOverrides(c, f.store.ID)
			if err != nil || len(list) != 1 || !list[0].Cleared {
				t.Fatalf("store's overrides %+v, %v", list, err)
			}
			devA.sync(t)
			if err := json.Unmarshal(devA.records["override/"+f.zone.ID].Body, &body); err != nil || !body.Cleared {
				t.Fatalf("device holds %+v after the clear", body)
			}

			// A deleted zone's override is withdrawn from the store's devices; its audit trail stays.
			z3, err := e.admin.CreateZone(c, f.store.ID, api.ZoneInput{Name: "Vitrine"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.admin.SetZoneOverride(c, z3.ID, api.ZoneOverrideInput{VolumePct: vol(10)}); err != nil {
				t.Fatal(err)
			}
			devA.sync(t)
			if _, ok := devA.records["override/"+z3.ID]; !ok {
				t.Fatal("device did not receive the new zone's override")
			}
			if err := e.admin.Do(c, http.MethodDelete, "/v1/zones/"+z3.ID, nil, nil); err != nil {
				t.Fatal(err)
			}
			devA.sync(t)
			if _, ok := devA.records["override/"+z3.ID]; ok {
				t.Fatal("a deleted zone's override is still on the device")
			}
			if hist, err := e.admin.ZoneOverrideHistory(c, z3.ID); err == nil {
				t.Fatalf("history of a deleted zone read through the zone: %+v", hist)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAssetSearch: GET /v1/assets?q= finds assets by title, artist or ISRC without case or accents, pages, and
// refuses an oversized query.
func TestAssetSearch(t *testing.T) {
	e := newEnv(t, postgresBackend().open(t), nil)
	c := ctx(t)
	want, _ := e.uploadWAV(e.admin, "Canção do Mar", 200)
	e.uploadWAV(e.admin, "Outra Faixa", 200)
	e.uploadWAV(e.admin, "Terceira", 200)
	for _, q := range []string{"cancao", "CANÇÃO DO", "ção do m"} {
		var got []string
		cursor := ""
		for {
			p, err := e.admin.SearchAssets(c, q, cursor, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Items {
				got = append(got, a.ID)
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if len(got) != 1 || got[0] != want.ID {
			t.Fatalf("search %q found %v, want [%s]", q, got, want.ID)
		}
	}
	if p, err := e.admin.SearchAssets(c, "", "", 100); err != nil || len(p.Items) != 3 {
		t.Fatalf("empty search: %d assets, %v", len(p.Items), err)
	}
	st, p := e.raw(http.MethodGet, "/v1/assets?q="+strings.Repeat("x", 201), credOf(t, e.admin), "", nil)
	if st != 400 || p == nil || p.Field != "q" {
		t.Fatalf("long query: %d %+v", st, p)
	}
}
