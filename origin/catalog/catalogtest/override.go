package catalogtest

import (
	"slices"
	"strings"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

func (f *fx) override(store, zone string, wall int64) catalog.ZoneOverride {
	return catalog.ZoneOverride{StoreID: store, ZoneID: zone, VolumePct: 40, MuteFrom: t0.Add(time.Hour),
		MuteUntil: t0.Add(2 * time.Hour), HLC: crdt.HLC{WallMS: wall}, SetBy: NewID(), SetByName: "manager of the store",
		SetAt: t0}
}

func testZoneOverrides(f *fx) {
	ten := f.tenant()
	s := f.shop(ten)
	z1, z2 := f.zone(ten, s.ID), f.zone(ten, s.ID)
	other := f.shop(ten)
	z3 := f.zone(ten, other.ID)

	_, err := f.s.GetZoneOverride(f.ctx, ten, z1.ID)
	f.is(err, catalog.ErrNotFound, "override never set")

	o1 := catalog.NormOverride(f.override(s.ID, z1.ID, 1000)) // mute bounds are kept to the millisecond
	o1.TenantID = ten
	f.update(ten, func(tx catalog.Tx) error { return tx.PutZoneOverride(o1) })
	got, err := f.s.GetZoneOverride(f.ctx, ten, z1.ID)
	f.is(err, nil, "get override")
	f.same(got, o1, "override")

	// A later change replaces it; an earlier or equal HLC is refused and changes nothing.
	o2 := o1
	o2.VolumePct, o2.MuteFrom, o2.MuteUntil, o2.HLC = 100, time.Time{}, time.Time{}, crdt.HLC{WallMS: 1000, Logical: 1}
	o2.Cleared = true
	f.update(ten, func(tx catalog.Tx) error {
		cur, err := tx.GetZoneOverride(z1.ID)
		if err == nil && cur.HLC != o1.HLC {
			f.Errorf("override read in a transaction has HLC %v, want %v", cur.HLC, o1.HLC)
		}
		return tx.PutZoneOverride(o2)
	})
	stale := o1
	stale.VolumePct = 10
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutZoneOverride(stale) }), catalog.ErrConflict, "older HLC")
	got, _ = f.s.GetZoneOverride(f.ctx, ten, z1.ID)
	f.same(got, o2, "override after a refused older one")

	for name, mut := range map[string]func(*catalog.ZoneOverride){
		"volume over 100":      func(o *catalog.ZoneOverride) { o.VolumePct = 101 },
		"negative volume":      func(o *catalog.ZoneOverride) { o.VolumePct = -1 },
		"mute ends first":      func(o *catalog.ZoneOverride) { o.MuteUntil = o.MuteFrom.Add(-time.Minute) },
		"mute without end":     func(o *catalog.ZoneOverride) { o.MuteUntil = time.Time{} },
		"mute over a week":     func(o *catalog.ZoneOverride) { o.MuteUntil = o.MuteFrom.Add(8 * 24 * time.Hour) },
		"cleared with a mute":  func(o *catalog.ZoneOverride) { o.Cleared = true },
		"no HLC":               func(o *catalog.ZoneOverride) { o.HLC = crdt.HLC{} },
		"zone of another shop": func(o *catalog.ZoneOverride) { o.ZoneID = z3.ID },
		"missing zone":         func(o *catalog.ZoneOverride) { o.ZoneID = NewID() },
		"long name":            func(o *catalog.ZoneOverride) { o.SetByName = strings.Repeat("x", catalog.MaxNameLen+1) },
	} {
		b := f.override(s.ID, z2.ID, 5000)
		mut(&b)
		f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutZoneOverride(b) }), catalog.ErrInvalid, name)
	}

	o3 := catalog.NormOverride(f.override(s.ID, z2.ID, 2000))
	o3.TenantID = ten
	o4 := catalog.NormOverride(f.override(other.ID, z3.ID, 2000))
	o4.TenantID = ten
	f.update(ten, func(tx catalog.Tx) error {
		if err := tx.PutZoneOverride(o3); err != nil {
			return err
		}
		return tx.PutZoneOverride(o4)
	})
	list, err := f.s.ListZoneOverrides(f.ctx, ten, s.ID)
	f.is(err, nil, "list overrides")
	want := []catalog.ZoneOverride{o2, o3}
	if z2.ID < z1.ID {
		want = []catalog.ZoneOverride{o3, o2}
	}
	f.same(list, want, "overrides of the store, by zone id")
	all, err := f.s.ListZoneOverrides(f.ctx, ten, "")
	f.is(err, nil, "list all overrides")
	if len(all) != 3 {
		f.Fatalf("%d overrides in the tenant, want 3", len(all))
	}
	none, err := f.s.ListZoneOverrides(f.ctx, f.tenant(), "")
	f.is(err, nil, "list another tenant's overrides")
	f.same(len(none), 0, "another tenant sees no override")
	_, err = f.s.GetZoneOverride(f.ctx, f.tenant(), z1.ID)
	f.is(err, catalog.ErrNotFound, "override read from another tenant")

	// The audit trail keeps every change, newest first, and outlives the zone; the current override goes with it.
	hist, err := f.s.ZoneOverrideHistory(f.ctx, ten, z1.ID, 0)
	f.is(err, nil, "history")
	f.same(hist, []catalog.ZoneOverride{o2, o1}, "history, newest first")
	hist, _ = f.s.ZoneOverrideHistory(f.ctx, ten, z1.ID, 1)
	f.same(hist, []catalog.ZoneOverride{o2}, "history limited to 1")
	f.update(ten, func(tx catalog.Tx) error { return tx.DeleteZone(z1.ID) })
	_, err = f.s.GetZoneOverride(f.ctx, ten, z1.ID)
	f.is(err, catalog.ErrNotFound, "override of a deleted zone")
	hist, _ = f.s.ZoneOverrideHistory(f.ctx, ten, z1.ID, 0)
	f.same(hist, []catalog.ZoneOverride{o2, o1}, "history of a deleted zone")
}

func testAssetSearch(f *fx) {
	ten := f.tenant()
	titles := map[string][3]string{ // id prefix -> title, artist, ISRC
		"a": {"Águas de Março", "Elis Regina", "BRBMG7300001"},
		"b": {"Garota de Ipanema", "Tom Jobim", "USMGM6400002"},
		"c": {"Ação 100% Grátis", "Loja Centro", "BRXXX2600003"},
		"d": {"Mas Que Nada", "Jorge Ben", "BRPHI6300004"},
	}
	ids := map[string]string{}
	f.update(ten, func(tx catalog.Tx) error {
		for k, v := range titles {
			a := f.newAsset(ten)
			a.Title, a.Artist, a.ISRC = v[0], v[1], v[2]
			ids[k] = a.ID
			if err := tx.PutAsset(a); err != nil {
				return err
			}
		}
		for i := 0; i < 30; i++ { // filler that matches nothing below
			a := f.newAsset(ten)
			a.Title = "filler" // its default title holds hex, which could match
			if err := tx.PutAsset(a); err != nil {
				return err
			}
		}
		return nil
	})
	other := f.newAsset(f.tenant())
	other.Title = "Águas de Março"
	f.update(other.TenantID, func(tx catalog.Tx) error { return tx.PutAsset(other) })

	search := func(q string, limit int) []string {
		f.Helper()
		var out []string
		cursor := ""
		for pages := 0; ; pages++ {
			p, err := f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Query: q, Cursor: cursor, Limit: limit})
			f.is(err, nil, "search "+q)
			if len(p.Assets) > limit || pages > 40 {
				f.Fatalf("search %q: page %d has %d assets", q, pages, len(p.Assets))
			}
			for _, a := range p.Assets {
				if len(out) > 0 && out[len(out)-1] >= a.ID {
					f.Fatalf("search %q: results not in id order", q)
				}
				out = append(out, a.ID)
			}
			if p.Next == "" {
				return out
			}
			cursor = p.Next
		}
	}
	expect := func(q string, keys ...string) {
		f.Helper()
		var want []string
		for _, k := range keys {
			want = append(want, ids[k])
		}
		slices.Sort(want)
		f.same(search(q, 1), want, "search "+q+" (pages of 1)")
		f.same(search(q, 100), want, "search "+q)
	}
	expect("aguas", "a")        // accent-insensitive
	expect("MARÇO", "a")        // case- and accent-insensitive, the query accented
	expect("jobim", "b")        // artist
	expect("brphi63", "d")      // ISRC
	expect("de ", "a", "b")     // a substring across words
	expect("100%", "c")         // LIKE's wildcards are text
	expect("10_%")              // and match nothing when they would as wildcards
	expect("acao 100", "c")     // accents folded in the stored title
	expect("nothing like this") // no match: empty, no error
	if n := len(search("", 1000)); n != 34 {
		f.Fatalf("empty query listed %d assets, want 34", n)
	}
	_, err := f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Query: strings.Repeat("x", catalog.MaxQueryLen+1)})
	f.is(err, catalog.ErrInvalid, "query too long")
	_, err = f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Query: "\xff"})
	f.is(err, catalog.ErrInvalid, "query not UTF-8")
}
