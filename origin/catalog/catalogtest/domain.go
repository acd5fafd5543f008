package catalogtest

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/catalog"
)

func testTenants(f *fx) {
	id := f.tenant()
	got, err := f.s.GetTenant(f.ctx, id)
	f.is(err, nil, "get tenant")
	f.same(got, catalog.Tenant{ID: id, Name: "chain " + id[:8], CreatedAt: t0}, "tenant")
	f.is(f.s.CreateTenant(f.ctx, catalog.Tenant{ID: id, Name: "again", CreatedAt: t0}), catalog.ErrConflict, "duplicate tenant")
	f.is(f.s.CreateTenant(f.ctx, catalog.Tenant{ID: "not-a-uuid", Name: "x", CreatedAt: t0}), catalog.ErrInvalid, "bad id")
	f.is(f.s.CreateTenant(f.ctx, catalog.Tenant{ID: NewID(), CreatedAt: t0}), catalog.ErrInvalid, "no name")
	_, err = f.s.GetTenant(f.ctx, NewID())
	f.is(err, catalog.ErrNotFound, "unknown tenant")
	_, err = f.s.GetTenant(f.ctx, "x'; DROP TABLE tenants; --")
	f.is(err, catalog.ErrNotFound, "malformed tenant id")
	f.is(f.s.Update(f.ctx, NewID(), func(catalog.Tx) error { return nil }), catalog.ErrNotFound, "update of unknown tenant")
	_, err = f.s.Revision(f.ctx, NewID())
	f.is(err, catalog.ErrNotFound, "revision of unknown tenant")
	if r := f.revision(id); r != 0 {
		f.Fatalf("new tenant at revision %d, want 0", r)
	}
}

func testAdminTokens(f *fx) {
	ten := f.tenant()
	shop := f.shop(ten)
	dir := catalog.AdminToken{ID: NewID(), TenantID: ten, Name: "ana", Role: catalog.RoleDirector, Hash: randHash(), CreatedAt: t0}
	mgr := catalog.AdminToken{ID: NewID(), TenantID: ten, Name: "bruno", Role: catalog.RoleManager, StoreID: shop.ID,
		Hash: randHash(), CreatedAt: t0}
	f.update(ten, func(tx catalog.Tx) error {
		if err := tx.CreateAdminToken(dir); err != nil {
			return err
		}
		return tx.CreateAdminToken(mgr)
	})
	got, err := f.s.AdminTokenByHash(f.ctx, mgr.Hash)
	f.is(err, nil, "token by hash")
	f.same(got, mgr, "manager token")
	_, err = f.s.AdminTokenByHash(f.ctx, randHash())
	f.is(err, catalog.ErrNotFound, "unknown hash")

	dup := dir
	dup.ID = NewID()
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateAdminToken(dup) }), catalog.ErrConflict, "duplicate hash")
	bad := mgr
	bad.ID, bad.Hash, bad.StoreID = NewID(), randHash(), NewID()
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateAdminToken(bad) }), catalog.ErrInvalid, "manager of a missing store")
	bad.Role, bad.StoreID = "owner", ""
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateAdminToken(bad) }), catalog.ErrInvalid, "unknown role")

	at := t0.Add(time.Hour)
	f.update(ten, func(tx catalog.Tx) error { return tx.RevokeAdminToken(dir.ID, at) })
	got, err = f.s.AdminTokenByHash(f.ctx, dir.Hash)
	f.is(err, catalog.ErrRevoked, "revoked token")
	if got.ID != dir.ID || !got.RevokedAt.Equal(at) {
		f.Fatalf("revoked lookup returned %+v", got)
	}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.RevokeAdminToken(dir.ID, at) }), catalog.ErrRevoked, "revoke twice")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.RevokeAdminToken(NewID(), at) }), catalog.ErrNotFound, "revoke unknown")
	list, err := f.s.ListAdminTokens(f.ctx, ten)
	f.is(err, nil, "list tokens")
	if len(list) != 2 || list[0].ID > list[1].ID {
		f.Fatalf("listed %d tokens, want 2 ordered by id: %+v", len(list), list)
	}
}

func testStoresAndZones(f *fx) {
	ten := f.tenant()
	s := f.shop(ten)
	got, err := f.s.GetStore(f.ctx, ten, s.ID)
	f.is(err, nil, "get store")
	f.same(got, s, "store")

	s2 := s
	s2.Name, s2.KeyEpoch, s2.UpdatedAt, s2.CreatedAt = "renamed", 2, t0.Add(time.Minute), t0.Add(time.Hour)
	s2.MeshKey = append([]byte(nil), s.MeshKey...)
	s2.MeshKey[0] ^= 0xff
	f.update(ten, func(tx catalog.Tx) error { return tx.PutStore(s2) })
	got, err = f.s.GetStore(f.ctx, ten, s.ID)
	f.is(err, nil, "get updated store")
	s2.CreatedAt = t0 // kept from the first insert
	f.same(got, s2, "updated store")

	bad := f.newShop()
	bad.TimeZone = "Mars/Olympus"
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutStore(bad) }), catalog.ErrInvalid, "bad time zone")
	bad = f.newShop()
	bad.MeshKey = bad.MeshKey[:16]
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutStore(bad) }), catalog.ErrInvalid, "short mesh key")
	other := f.tenant()
	clash := f.newShop()
	clash.MeshID = s.MeshID
	f.is(f.s.Update(f.ctx, other, func(tx catalog.Tx) error { return tx.PutStore(clash) }), catalog.ErrConflict, "mesh id of another store")

	z := f.zone(ten, s.ID)
	gz, err := f.s.GetZone(f.ctx, ten, z.ID)
	f.is(err, nil, "get zone")
	f.same(gz, z, "zone")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutZone(catalog.Zone{ID: NewID(), StoreID: NewID(), Name: "x", CreatedAt: t0})
	}), catalog.ErrInvalid, "zone of a missing store")
	s3 := f.shop(ten)
	moved := z
	moved.StoreID = s3.ID
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutZone(moved) }), catalog.ErrConflict, "zone moved to another store")
	z2 := f.zone(ten, s3.ID)

	zs, err := f.s.ListZones(f.ctx, ten, s.ID)
	f.is(err, nil, "list zones")
	f.same(zs, []catalog.Zone{z}, "zones of the first store")
	zs, err = f.s.ListZones(f.ctx, ten, "")
	f.is(err, nil, "list all zones")
	if len(zs) != 2 {
		f.Fatalf("%d zones, want 2", len(zs))
	}
	stores, err := f.s.ListStores(f.ctx, ten)
	f.is(err, nil, "list stores")
	if len(stores) != 2 || stores[0].ID > stores[1].ID {
		f.Fatalf("stores %+v, want 2 ordered by id", stores)
	}

	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteStore(s.ID) }), catalog.ErrConflict, "delete store with a zone")
	f.update(ten, func(tx catalog.Tx) error { return tx.DeleteZone(z.ID) })
	f.update(ten, func(tx catalog.Tx) error { return tx.DeleteStore(s.ID) })
	_, err = f.s.GetStore(f.ctx, ten, s.ID)
	f.is(err, catalog.ErrNotFound, "deleted store")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteStore(s.ID) }), catalog.ErrNotFound, "delete twice")
	f.device(ten, s3.ID, z2.ID)
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteZone(z2.ID) }), catalog.ErrConflict, "delete zone with a device")
}

func testDevices(f *fx) {
	ten := f.tenant()
	s, z, d := f.place(ten)
	got, err := f.s.GetDevice(f.ctx, ten, d.ID)
	f.is(err, nil, "get device")
	f.same(got, d, "device")
	got, err = f.s.DeviceByCredential(f.ctx, d.CredentialHash)
	f.is(err, nil, "by credential")
	f.same(got, d, "device by credential")
	_, err = f.s.DeviceByCredential(f.ctx, randHash())
	f.is(err, catalog.ErrNotFound, "unknown credential")

	z2 := f.zone(ten, s.ID)
	d2 := f.device(ten, s.ID, z2.ID)
	dup := f.newDevice(ten, s.ID, z.ID)
	dup.CredentialHash = d.CredentialHash
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateDevice(dup) }), catalog.ErrConflict, "duplicate credential")
	dup = f.newDevice(ten, s.ID, z.ID)
	dup.PeerID = d.PeerID
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateDevice(dup) }), catalog.ErrConflict, "duplicate peer id")
	dup = f.newDevice(ten, s.ID, NewID())
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateDevice(dup) }), catalog.ErrInvalid, "device of a missing zone")
	s2 := f.shop(ten)
	dup = f.newDevice(ten, s2.ID, z.ID)
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateDevice(dup) }), catalog.ErrInvalid, "zone of another store")
	dup = f.newDevice(ten, s.ID, z.ID)
	dup.Telemetry.Status = json.RawMessage(`[1,2]`)
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateDevice(dup) }), catalog.ErrInvalid, "status not an object")

	all, err := f.s.ListDevices(f.ctx, ten, catalog.DeviceFilter{StoreID: s.ID})
	f.is(err, nil, "list devices")
	if len(all) != 2 || all[0].ID > all[1].ID {
		f.Fatalf("devices %+v, want 2 ordered by id", all)
	}
	byZone, err := f.s.ListDevices(f.ctx, ten, catalog.DeviceFilter{ZoneID: z2.ID})
	f.is(err, nil, "list by zone")
	f.same(byZone, []catalog.Device{d2}, "devices of zone 2")

	at := t0.Add(time.Hour)
	f.update(ten, func(tx catalog.Tx) error { return tx.RevokeDevice(d.ID, at) })
	got, err = f.s.DeviceByCredential(f.ctx, d.CredentialHash)
	f.is(err, catalog.ErrRevoked, "revoked credential")
	if got.ID != d.ID || !got.RevokedAt.Equal(at) {
		f.Fatalf("revoked lookup returned %+v", got)
	}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.RevokeDevice(d.ID, at) }), catalog.ErrRevoked, "revoke twice")
	f.update(ten, func(tx catalog.Tx) error {
		g, err := tx.GetDevice(d.ID)
		if err != nil || g.RevokedAt.IsZero() {
			f.Errorf("tx.GetDevice: %+v, %v", g, err)
		}
		l, err := tx.ListDevices(catalog.DeviceFilter{StoreID: s.ID})
		if err != nil || len(l) != 2 {
			f.Errorf("tx.ListDevices: %d, %v", len(l), err)
		}
		return nil
	})
}

func testEnrollmentTokens(f *fx) {
	ten := f.tenant()
	s, z, _ := f.place(ten)
	tok := catalog.EnrollmentToken{Hash: randHash(), TenantID: ten, StoreID: s.ID, ZoneID: z.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	f.update(ten, func(tx catalog.Tx) error { return tx.CreateEnrollmentToken(tok) })
	got, err := f.s.EnrollmentTokenByHash(f.ctx, tok.Hash)
	f.is(err, nil, "token by hash")
	f.same(got, tok, "token")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateEnrollmentToken(tok) }), catalog.ErrConflict, "duplicate")
	bad := tok
	bad.Hash, bad.ZoneID = randHash(), NewID()
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.CreateEnrollmentToken(bad) }), catalog.ErrInvalid, "missing zone")

	other := f.tenant()
	f.is(f.s.Update(f.ctx, other, func(tx catalog.Tx) error {
		_, err := tx.RedeemEnrollmentToken(tok.Hash, NewID(), t0)
		return err
	}), catalog.ErrNotFound, "redeem in another tenant")

	dev := NewID()
	now := t0.Add(time.Minute)
	f.update(ten, func(tx catalog.Tx) error {
		r, err := tx.RedeemEnrollmentToken(tok.Hash, dev, now)
		if err == nil && (r.UsedBy != dev || !r.UsedAt.Equal(now)) {
			f.Errorf("redeemed token %+v", r)
		}
		return err
	})
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		_, err := tx.RedeemEnrollmentToken(tok.Hash, NewID(), now)
		return err
	}), catalog.ErrTokenUsed, "replayed token")
	got, err = f.s.EnrollmentTokenByHash(f.ctx, tok.Hash)
	f.is(err, nil, "used token by hash")
	if got.UsedBy != dev {
		f.Fatalf("token used by %q, want %q", got.UsedBy, dev)
	}

	exp := catalog.EnrollmentToken{Hash: randHash(), StoreID: s.ID, ZoneID: z.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	f.update(ten, func(tx catalog.Tx) error { return tx.CreateEnrollmentToken(exp) })
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		_, err := tx.RedeemEnrollmentToken(exp.Hash, NewID(), t0.Add(2*time.Hour))
		return err
	}), catalog.ErrExpired, "expired token")
	got, err = f.s.EnrollmentTokenByHash(f.ctx, exp.Hash)
	f.is(err, nil, "expired token by hash")
	if got.UsedBy != "" {
		f.Fatal("a refused redeem changed the token")
	}
	list, err := f.s.ListEnrollmentTokens(f.ctx, ten, s.ID)
	f.is(err, nil, "list tokens")
	if len(list) != 2 {
		f.Fatalf("%d tokens, want 2", len(list))
	}
	list, err = f.s.ListEnrollmentTokens(f.ctx, other, "")
	f.is(err, nil, "list other tenant's tokens")
	if len(list) != 0 {
		f.Fatalf("another tenant lists %d tokens", len(list))
	}
}

func testAssets(f *fx) {
	ten := f.tenant()
	a := f.asset(ten)
	got, err := f.s.GetAsset(f.ctx, ten, a.ID)
	f.is(err, nil, "get asset")
	f.same(got, a, "asset")

	open := f.newAsset(ten)
	open.ValidFrom, open.ValidUntil, open.State, open.RenditionSHA256, open.MD5 = time.Time{}, time.Time{}, catalog.AssetPending, "", ""
	open.EmergencyEligible, open.Kind = true, catalog.KindSpot
	f.update(ten, func(tx catalog.Tx) error { return tx.PutAsset(open) })
	got, err = f.s.GetAsset(f.ctx, ten, open.ID)
	f.is(err, nil, "get open asset")
	f.same(got, open, "asset without window")

	upd := a
	upd.State, upd.FailReason, upd.UpdatedAt = catalog.AssetFailed, "decoder error", t0.Add(time.Hour)
	f.update(ten, func(tx catalog.Tx) error { return tx.PutAsset(upd) })
	got, err = f.s.GetAsset(f.ctx, ten, a.ID)
	f.is(err, nil, "get updated asset")
	f.same(got, upd, "updated asset")

	for name, mut := range map[string]func(*catalog.Asset){
		"inverted window": func(x *catalog.Asset) { x.ValidUntil = x.ValidFrom.Add(-time.Second) },
		"bad sha256":      func(x *catalog.Asset) { x.SHA256 = "XYZ" },
		"bad kind":        func(x *catalog.Asset) { x.Kind = "podcast" },
		"ready, no blob":  func(x *catalog.Asset) { x.RenditionSHA256 = "" },
		"no title":        func(x *catalog.Asset) { x.Title = "" },
		"bad id":          func(x *catalog.Asset) { x.ID = "123" },
	} {
		b := f.newAsset(ten)
		mut(&b)
		f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutAsset(b) }), catalog.ErrInvalid, name)
	}
	p := f.playlist(ten, a.ID)
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteAsset(a.ID) }), catalog.ErrConflict, "delete asset in a playlist")
	f.update(ten, func(tx catalog.Tx) error { return tx.DeletePlaylist(p.ID) })
	f.update(ten, func(tx catalog.Tx) error { return tx.DeleteAsset(a.ID) })
	_, err = f.s.GetAsset(f.ctx, ten, a.ID)
	f.is(err, catalog.ErrNotFound, "deleted asset")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteAsset(a.ID) }), catalog.ErrNotFound, "delete twice")
}

func testAssetPaging(f *fx) {
	ten := f.tenant()
	want := map[string]bool{}
	f.update(ten, func(tx catalog.Tx) error {
		for i := 0; i < 25; i++ {
			a := f.newAsset(ten)
			want[a.ID] = true
			if err := tx.PutAsset(a); err != nil {
				return err
			}
		}
		return nil
	})
	f.asset(f.tenant()) // another tenant's asset is never listed
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Cursor: cursor, Limit: 10})
		f.is(err, nil, "list assets")
		if len(p.Assets) > 10 || pages > 3 {
			f.Fatalf("page %d has %d assets", pages, len(p.Assets))
		}
		for _, a := range p.Assets {
			seen = append(seen, a.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(seen) != 25 {
		f.Fatalf("listed %d assets, want 25", len(seen))
	}
	for i, id := range seen {
		if !want[id] || i > 0 && seen[i-1] >= id {
			f.Fatalf("listing is not the tenant's assets in id order: %v", seen)
		}
	}
	_, err := f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Cursor: "garbage"})
	f.is(err, catalog.ErrInvalid, "bad cursor")
}

// testAssetsByIDs checks the batched read: the tenant's assets among the ids in id order, each once; another
// tenant's ids left out exactly like unknown ones; the count and the form of the ids bounded. It also checks the
// emergency filter of ListAssets, which the preview pairs with it.
func testAssetsByIDs(f *fx) {
	ten := f.tenant()
	var mine []catalog.Asset
	f.update(ten, func(tx catalog.Tx) error {
		for i := 0; i < 5; i++ {
			a := f.newAsset(ten)
			a.EmergencyEligible = i%2 == 0
			mine = append(mine, a)
			if err := tx.PutAsset(a); err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortFunc(mine, func(a, b catalog.Asset) int { return strings.Compare(a.ID, b.ID) })
	other := f.asset(f.tenant())
	ids := []string{mine[3].ID, other.ID, mine[0].ID, NewID(), mine[3].ID, mine[1].ID}
	got, err := f.s.GetAssets(f.ctx, ten, ids)
	f.is(err, nil, "get assets by ids")
	f.same(got, []catalog.Asset{mine[0], mine[1], mine[3]}, "assets by ids")
	withOther, err := f.s.GetAssets(f.ctx, ten, []string{mine[2].ID, other.ID})
	f.is(err, nil, "get assets with another tenant's id")
	withUnknown, err := f.s.GetAssets(f.ctx, ten, []string{mine[2].ID, NewID()})
	f.is(err, nil, "get assets with an unknown id")
	f.same(withOther, withUnknown, "another tenant's id answered unlike an unknown one")
	f.same(withOther, []catalog.Asset{mine[2]}, "assets by ids with another tenant's")
	got, err = f.s.GetAssets(f.ctx, other.TenantID, []string{mine[0].ID})
	f.is(err, nil, "get assets of the other tenant")
	f.same(len(got), 0, "another tenant's assets by ids")
	got, err = f.s.GetAssets(f.ctx, ten, nil)
	f.is(err, nil, "get no assets")
	f.same(len(got), 0, "assets by no ids")

	_, err = f.s.GetAssets(f.ctx, ten, []string{mine[0].ID, "123"})
	f.is(err, catalog.ErrInvalid, "malformed id")
	many := make([]string, catalog.MaxAssetIDs+1)
	for i := range many {
		many[i] = NewID()
	}
	_, err = f.s.GetAssets(f.ctx, ten, many)
	f.is(err, catalog.ErrInvalid, "too many ids")
	_, err = f.s.GetAssets(f.ctx, ten, many[:catalog.MaxAssetIDs])
	f.is(err, nil, "as many ids as allowed")

	var emerg []string
	for cursor := ""; ; {
		p, err := f.s.ListAssets(f.ctx, ten, catalog.ListOptions{Emergency: true, Cursor: cursor, Limit: 2})
		f.is(err, nil, "list emergency assets")
		for _, a := range p.Assets {
			emerg = append(emerg, a.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	var want []string
	for _, a := range mine {
		if a.EmergencyEligible {
			want = append(want, a.ID)
		}
	}
	f.same(emerg, want, "emergency assets in id order")
}

func testPlaylists(f *fx) {
	ten := f.tenant()
	a, b := f.asset(ten), f.asset(ten)
	p := f.playlist(ten, b.ID, a.ID, b.ID) // order kept, repeats allowed
	got, err := f.s.GetPlaylist(f.ctx, ten, p.ID)
	f.is(err, nil, "get playlist")
	f.same(got, p, "playlist")
	empty := f.playlist(ten)
	got, err = f.s.GetPlaylist(f.ctx, ten, empty.ID)
	f.is(err, nil, "get empty playlist")
	f.same(got, empty, "empty playlist")

	bad := p
	bad.AssetIDs = []string{a.ID, NewID()}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutPlaylist(bad) }), catalog.ErrInvalid, "missing asset")
	foreign := f.asset(f.tenant())
	bad.AssetIDs = []string{foreign.ID}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutPlaylist(bad) }), catalog.ErrInvalid, "another tenant's asset")
	got, _ = f.s.GetPlaylist(f.ctx, ten, p.ID)
	f.same(got, p, "playlist after refused writes")

	upd := p
	upd.AssetIDs, upd.Name, upd.UpdatedAt = []string{a.ID}, "evening", t0.Add(time.Hour)
	f.update(ten, func(tx catalog.Tx) error { return tx.PutPlaylist(upd) })
	got, _ = f.s.GetPlaylist(f.ctx, ten, p.ID)
	f.same(got, upd, "updated playlist")
	list, err := f.s.ListPlaylists(f.ctx, ten)
	f.is(err, nil, "list playlists")
	if len(list) != 2 {
		f.Fatalf("%d playlists, want 2", len(list))
	}
}

func testSchedules(f *fx) {
	ten := f.tenant()
	s1, z1, _ := f.place(ten)
	s2 := f.shop(ten)
	music := f.playlist(ten, f.asset(ten).ID)
	spots := f.playlist(ten, f.asset(ten).ID)
	wide := catalog.Schedule{ID: NewID(), TenantID: ten, PlaylistID: music.ID, Priority: 1, Start: "08:00", End: "08:00",
		CreatedAt: t0, UpdatedAt: t0}
	zoned := catalog.Schedule{ID: NewID(), TenantID: ten, StoreID: s1.ID, ZoneID: z1.ID, PlaylistID: music.ID, Priority: 5,
		DateFrom: "2026-12-01", DateTo: "2026-12-24", Weekdays: []int{1, 2, 3, 4, 5}, Start: "22:00", End: "02:00",
		SpotRules: []catalog.SpotRule{{PlaylistID: spots.ID, EveryNTracks: 3}, {PlaylistID: spots.ID, At: []string{"09:00", "12:30"}}},
		CreatedAt: t0, UpdatedAt: t0}
	other := catalog.Schedule{ID: NewID(), TenantID: ten, StoreID: s2.ID, PlaylistID: music.ID, Start: "00:00", End: "00:00",
		CreatedAt: t0, UpdatedAt: t0}
	f.update(ten, func(tx catalog.Tx) error {
		for _, s := range []catalog.Schedule{wide, zoned, other} {
			if err := tx.PutSchedule(s); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := f.s.GetSchedule(f.ctx, ten, zoned.ID)
	f.is(err, nil, "get schedule")
	f.same(got, zoned, "zone schedule")
	forS1, err := f.s.ListSchedules(f.ctx, ten, catalog.ScheduleFilter{StoreID: s1.ID})
	f.is(err, nil, "list for store")
	if len(forS1) != 2 {
		f.Fatalf("%d schedules for store 1, want the tenant-wide and the zone one", len(forS1))
	}
	all, err := f.s.ListSchedules(f.ctx, ten, catalog.ScheduleFilter{})
	f.is(err, nil, "list all")
	if len(all) != 3 {
		f.Fatalf("%d schedules, want 3", len(all))
	}
	for name, mut := range map[string]func(*catalog.Schedule){
		"missing playlist":      func(s *catalog.Schedule) { s.PlaylistID = NewID() },
		"missing spot playlist": func(s *catalog.Schedule) { s.SpotRules = []catalog.SpotRule{{PlaylistID: NewID(), EveryNTracks: 2}} },
		"bad time":              func(s *catalog.Schedule) { s.Start = "25:00" },
		"inverted dates":        func(s *catalog.Schedule) { s.DateFrom, s.DateTo = "2026-12-02", "2026-12-01" },
		"bad weekday":           func(s *catalog.Schedule) { s.Weekdays = []int{7} },
		"zone without store":    func(s *catalog.Schedule) { s.StoreID = "" },
		"zone of another store": func(s *catalog.Schedule) { s.StoreID = s2.ID },
		"empty spot rule":       func(s *catalog.Schedule) { s.SpotRules = []catalog.SpotRule{{PlaylistID: spots.ID}} },
	} {
		b := zoned
		b.ID = NewID()
		mut(&b)
		f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.PutSchedule(b) }), catalog.ErrInvalid, name)
	}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeletePlaylist(spots.ID) }), catalog.ErrConflict, "delete a spot playlist in use")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeletePlaylist(music.ID) }), catalog.ErrConflict, "delete a playlist in use")
	f.update(ten, func(tx catalog.Tx) error { return tx.DeleteSchedule(zoned.ID) })
	f.update(ten, func(tx catalog.Tx) error { return tx.DeletePlaylist(spots.ID) })
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error { return tx.DeleteSchedule(zoned.ID) }), catalog.ErrNotFound, "delete twice")
}
