package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

func sortTokens(ts []catalog.EnrollmentToken) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].ExpiresAt.Equal(ts[j].ExpiresAt) {
			return ts[i].ExpiresAt.Before(ts[j].ExpiresAt)
		}
		return bytes.Compare(ts[i].Hash[:], ts[j].Hash[:]) < 0
	})
}

// Update holds the tenant's lock for the whole transaction, so reference checks cannot race with another writer
// of the tenant and revisions commit in order. Rows shared across tenants (global indexes, telemetry written by
// RecordSyncs) are protected by badger's conflict detection: a losing commit re-runs fn.
func (s *Store) Update(ctx context.Context, tenantID string, fn func(catalog.Tx) error) error {
	if !catalog.ValidID(tenantID) {
		return notFound("tenant", tenantID)
	}
	unlock := s.lockTenant(tenantID)
	defer unlock()
	return s.update(ctx, func(txn *badger.Txn) error {
		b, ok, err := getRaw(txn, key("rev", tenantID))
		if err != nil {
			return err
		}
		if !ok {
			return notFound("tenant", tenantID)
		}
		t := &tx{txn: txn, tenant: tenantID, cur: binary.BigEndian.Uint64(b), hashes: map[string]*crdt.StateHash{}}
		defer func() { t.done = true }()
		if err := fn(t); err != nil {
			return err
		}
		if t.failed != nil {
			return t.failed
		}
		return t.flush()
	})
}

// tx implements catalog.Tx over one badger transaction.
type tx struct {
	txn    *badger.Txn
	tenant string
	cur    uint64
	rev    uint64
	hashes map[string]*crdt.StateHash
	failed error // first storage error; the transaction then fails as a whole, as in PostgreSQL
	done   bool
}

var _ catalog.Tx = (*tx)(nil)

func (t *tx) check() error {
	if t.done {
		return errors.New("embedded: Tx used after its Update returned")
	}
	return t.failed
}

// fail records a storage error (not a domain refusal) and returns it.
func (t *tx) fail(err error) error {
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

func (t *tx) TenantID() string { return t.tenant }

func (t *tx) NextRevision() (uint64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	if t.rev == 0 {
		t.rev = t.cur + 1
	}
	return t.rev, nil
}

func (t *tx) hash(scope string) (*crdt.StateHash, error) {
	if h, ok := t.hashes[scope]; ok {
		return h, nil
	}
	b, _, err := getRaw(t.txn, key("h", t.tenant, scope))
	if err != nil {
		return nil, t.fail(err)
	}
	h := new(crdt.StateHash)
	copy(h[:], b)
	t.hashes[scope] = h
	return h, nil
}

func (t *tx) flush() error {
	if t.rev != 0 {
		if err := t.txn.Set(key("rev", t.tenant), u64(t.rev)); err != nil {
			return err
		}
	}
	for scope, h := range t.hashes {
		if err := t.txn.Set(key("h", t.tenant, scope), bytes.Clone(h[:])); err != nil {
			return err
		}
	}
	return nil
}

// encodeRecord: scope length (uvarint), scope, deleted (1 byte), rev (8 bytes), body length (uvarint), body, sig.
func encodeRecord(r crdt.Record, scope string) []byte {
	b := make([]byte, 0, 32+len(scope)+len(r.Body)+len(r.Sig))
	b = binary.AppendUvarint(b, uint64(len(scope)))
	b = append(b, scope...)
	if r.Deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, r.Rev)
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	b = append(b, r.Body...)
	return append(b, r.Sig...)
}

// decodeRecord reverses encodeRecord; the record's slices alias b.
func decodeRecord(tenant, k string, b []byte) (crdt.Record, string, error) {
	bad := fmt.Errorf("embedded: corrupt record %s", k)
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n+9 {
		return crdt.Record{}, "", bad
	}
	scope := string(b[w : w+int(n)])
	b = b[w+int(n):]
	r := crdt.Record{Key: k, Tenant: tenant, Deleted: b[0] == 1, Rev: binary.BigEndian.Uint64(b[1:9])}
	b = b[9:]
	n, w = binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return crdt.Record{}, "", bad
	}
	if n > 0 {
		r.Body = b[w : w+int(n)]
	}
	r.Sig = b[w+int(n):]
	return r, scope, nil
}

func logKey(tenant string, rev uint64, k string) []byte {
	return append(append(key("rl", tenant, ""), u64(rev)...), "/"+k...)
}

func (t *tx) PutRecord(rec crdt.Record, scope string) error {
	if err := t.check(); err != nil {
		return err
	}
	if rec.Tenant != t.tenant || t.rev == 0 || rec.Rev != t.rev {
		return fmt.Errorf("%w: record %s has tenant %s rev %d, transaction tenant %s rev %d", catalog.ErrRevisionMismatch,
			rec.Key, rec.Tenant, rec.Rev, t.tenant, t.rev)
	}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", catalog.ErrInvalid, err)
	}
	if scope != catalog.TenantScope {
		if err := t.need(kindStore, scope); err != nil {
			return fmt.Errorf("%w: record scope %q is not a store of the tenant", catalog.ErrInvalid, scope)
		}
	}
	rk := key("r", t.tenant, rec.Key)
	old, ok, err := getRaw(t.txn, rk)
	if err != nil {
		return t.fail(err)
	}
	h, err := t.hash(scope)
	if err != nil {
		return err
	}
	if ok {
		o, oscope, err := decodeRecord(t.tenant, rec.Key, old)
		if err != nil {
			return t.fail(err)
		}
		if oscope != scope {
			return fmt.Errorf("%w: record %s has scope %q, not %q", catalog.ErrConflict, rec.Key, oscope, scope)
		}
		if err := t.txn.Delete(logKey(t.tenant, o.Rev, rec.Key)); err != nil {
			return t.fail(err)
		}
		if !o.Deleted {
			h.Remove(rec.Key, o.Rev)
		}
	}
	if !rec.Deleted {
		h.Add(rec.Key, rec.Rev)
	}
	if err := t.txn.Set(rk, encodeRecord(rec, scope)); err != nil {
		return t.fail(err)
	}
	return t.fail(t.txn.Set(logKey(t.tenant, rec.Rev, rec.Key), []byte(scope)))
}

// need checks that a row of kind exists in the tenant (ErrInvalid otherwise).
func (t *tx) need(kind, id string) error {
	ok, err := has(t.txn, entityKey(t.tenant, kind, id))
	if err != nil {
		return t.fail(err)
	}
	if !ok || !catalog.ValidID(id) {
		return fmt.Errorf("%w: %s %s does not exist", catalog.ErrInvalid, kind, id)
	}
	return nil
}

// claim reserves id for the tenant: ErrConflict if another tenant owns it.
func (t *tx) claim(kind, id string) error {
	owner, ok, err := getRaw(t.txn, key("id", kind, id))
	if err != nil {
		return t.fail(err)
	}
	if ok && string(owner) != t.tenant {
		return fmt.Errorf("%w: %s id %s is taken", catalog.ErrConflict, kind, id)
	}
	if !ok {
		return t.fail(t.txn.Set(key("id", kind, id), []byte(t.tenant)))
	}
	return nil
}

// inUse reports whether any row of kind in the tenant satisfies pred.
func inUse[T any](t *tx, kind string, pred func(T) bool) (bool, error) {
	used, err := anyJSON(t.txn, entityPrefix(t.tenant, kind), pred)
	return used, t.fail(err)
}

// remove deletes a row and its id claim after the in-use checks said nothing references it.
func (t *tx) remove(kind, id string, checks ...func() (bool, error)) error {
	if err := t.check(); err != nil {
		return err
	}
	if !catalog.ValidID(id) {
		return notFound(kind, id)
	}
	ok, err := has(t.txn, entityKey(t.tenant, kind, id))
	if err != nil {
		return t.fail(err)
	}
	if !ok {
		return notFound(kind, id)
	}
	for _, c := range checks {
		used, err := c()
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: %s %s is in use", catalog.ErrConflict, kind, id)
		}
	}
	if err := t.txn.Delete(entityKey(t.tenant, kind, id)); err != nil {
		return t.fail(err)
	}
	return t.fail(t.txn.Delete(key("id", kind, id)))
}

// put stores a row after claiming its id; created keeps the first insert's CreatedAt (read through createdAt).
func put[T any](t *tx, kind, id string, v *T, createdAt func(*T) *time.Time) error {
	if err := t.claim(kind, id); err != nil {
		return err
	}
	if createdAt != nil {
		var old T
		ok, err := getJSON(t.txn, entityKey(t.tenant, kind, id), &old)
		if err != nil {
			return t.fail(err)
		}
		if ok {
			*createdAt(v) = *createdAt(&old)
		}
	}
	return t.fail(putJSON(t.txn, entityKey(t.tenant, kind, id), v))
}

func txGet[T any](t *tx, kind, id string) (T, error) {
	var v T
	if err := t.check(); err != nil {
		return v, err
	}
	v, err := getEntity[T](t.txn, t.tenant, kind, id)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		t.fail(err)
	}
	return v, err
}

func (t *tx) GetStore(id string) (catalog.Shop, error) { return txGet[catalog.Shop](t, kindStore, id) }
func (t *tx) GetZone(id string) (catalog.Zone, error)  { return txGet[catalog.Zone](t, kindZone, id) }
func (t *tx) GetDevice(id string) (catalog.Device, error) {
	d, err := txGet[catalog.Device](t, kindDevice, id)
	return fixDevice(d), err
}
func (t *tx) GetAsset(id string) (catalog.Asset, error) {
	return txGet[catalog.Asset](t, kindAsset, id)
}
func (t *tx) GetPlaylist(id string) (catalog.Playlist, error) {
	return txGet[catalog.Playlist](t, kindPlaylist, id)
}
func (t *tx) GetSchedule(id string) (catalog.Schedule, error) {
	return txGet[catalog.Schedule](t, kindSchedule, id)
}

func (t *tx) ListDevices(f catalog.DeviceFilter) ([]catalog.Device, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	ds, err := listJSON(t.txn, entityPrefix(t.tenant, kindDevice), deviceFilter(f))
	return fixDevices(ds), t.fail(err)
}

func (t *tx) PutStore(s catalog.Shop) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	ref := t.tenant + "/" + s.ID
	owner, ok, err := getRaw(t.txn, key("x", "mesh", s.MeshID))
	if err != nil {
		return t.fail(err)
	}
	if ok && string(owner) != ref {
		return fmt.Errorf("%w: mesh id %q is taken", catalog.ErrConflict, s.MeshID)
	}
	var old catalog.Shop
	had, err := getJSON(t.txn, entityKey(t.tenant, kindStore, s.ID), &old)
	if err != nil {
		return t.fail(err)
	}
	if had && old.MeshID != s.MeshID {
		if err := t.txn.Delete(key("x", "mesh", old.MeshID)); err != nil {
			return t.fail(err)
		}
	}
	s.TenantID = t.tenant
	s.CreatedAt, s.UpdatedAt = catalog.NormTime(s.CreatedAt), catalog.NormTime(s.UpdatedAt)
	if err := put(t, kindStore, s.ID, &s, func(x *catalog.Shop) *time.Time { return &x.CreatedAt }); err != nil {
		return err
	}
	return t.fail(t.txn.Set(key("x", "mesh", s.MeshID), []byte(ref)))
}

func (t *tx) DeleteStore(id string) error {
	var meshID string
	if old, err := getEntity[catalog.Shop](t.txn, t.tenant, kindStore, id); err == nil {
		meshID = old.MeshID
	}
	err := t.remove(kindStore, id,
		func() (bool, error) { return inUse(t, kindZone, func(z catalog.Zone) bool { return z.StoreID == id }) },
		func() (bool, error) {
			return inUse(t, kindSchedule, func(s catalog.Schedule) bool { return s.StoreID == id })
		},
		func() (bool, error) {
			return inUse(t, kindAdmin, func(a catalog.AdminToken) bool { return a.StoreID == id })
		})
	if err == nil && meshID != "" {
		err = t.fail(t.txn.Delete(key("x", "mesh", meshID)))
	}
	return err
}

func (t *tx) PutZone(z catalog.Zone) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := z.Validate(); err != nil {
		return err
	}
	if err := t.need(kindStore, z.StoreID); err != nil {
		return err
	}
	var old catalog.Zone
	had, err := getJSON(t.txn, entityKey(t.tenant, kindZone, z.ID), &old)
	if err != nil {
		return t.fail(err)
	}
	if had && old.StoreID != z.StoreID {
		return fmt.Errorf("%w: zone %s belongs to another store", catalog.ErrConflict, z.ID)
	}
	z.TenantID, z.CreatedAt = t.tenant, catalog.NormTime(z.CreatedAt)
	return put(t, kindZone, z.ID, &z, func(x *catalog.Zone) *time.Time { return &x.CreatedAt })
}

func (t *tx) DeleteZone(id string) error {
	if err := t.removeZone(id); err != nil {
		return err
	}
	return t.deleteOverride(id)
}

func (t *tx) removeZone(id string) error {
	return t.remove(kindZone, id,
		func() (bool, error) {
			return inUse(t, kindDevice, func(d catalog.Device) bool { return d.ZoneID == id })
		},
		func() (bool, error) {
			return inUse(t, kindSchedule, func(s catalog.Schedule) bool { return s.ZoneID == id })
		},
		func() (bool, error) {
			used := false
			err := scan(t.txn, entityPrefix(t.tenant, kindEnroll), nil, nil, func(k, _ []byte) (bool, error) {
				h, err := hex.DecodeString(string(k[len(entityPrefix(t.tenant, kindEnroll)):]))
				if err != nil {
					return false, err
				}
				var e catalog.EnrollmentToken
				if _, err := getJSON(t.txn, key("enr", string(h)), &e); err != nil {
					return false, err
				}
				used = e.ZoneID == id
				return !used, nil
			})
			return used, t.fail(err)
		})
}

// needZone checks that zone exists in store.
func (t *tx) needZone(storeID, zoneID string) error {
	z, err := getEntity[catalog.Zone](t.txn, t.tenant, kindZone, zoneID)
	if errors.Is(err, catalog.ErrNotFound) || err == nil && z.StoreID != storeID {
		return fmt.Errorf("%w: zone %s of store %s does not exist", catalog.ErrInvalid, zoneID, storeID)
	}
	return t.fail(err)
}

func (t *tx) CreateDevice(d catalog.Device) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if err := t.needZone(d.StoreID, d.ZoneID); err != nil {
		return err
	}
	for _, k := range [][]byte{key("id", kindDevice, d.ID), key("x", "cred", string(d.CredentialHash[:])), key("x", "peer", t.tenant, d.PeerID)} {
		taken, err := has(t.txn, k)
		if err != nil {
			return t.fail(err)
		}
		if taken {
			return fmt.Errorf("%w: device id, credential or peer id is taken", catalog.ErrConflict)
		}
	}
	d.TenantID = t.tenant
	d.EnrolledAt, d.RevokedAt = catalog.NormTime(d.EnrolledAt), catalog.NormTime(d.RevokedAt)
	d.Telemetry.LastSyncAt = catalog.NormTime(d.Telemetry.LastSyncAt)
	if err := put(t, kindDevice, d.ID, &d, nil); err != nil {
		return err
	}
	if err := t.txn.Set(key("x", "cred", string(d.CredentialHash[:])), []byte(t.tenant+"/"+d.ID)); err != nil {
		return t.fail(err)
	}
	return t.fail(t.txn.Set(key("x", "peer", t.tenant, d.PeerID), []byte(d.ID)))
}

// revoke sets the revocation time of a row that has none yet.
func revoke[T any](t *tx, kind, id string, at time.Time, revokedAt func(*T) *time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("%w: revocation time is zero", catalog.ErrInvalid)
	}
	v, err := txGet[T](t, kind, id)
	if err != nil {
		return err
	}
	if !revokedAt(&v).IsZero() {
		return fmt.Errorf("%w: %s %s", catalog.ErrRevoked, kind, id)
	}
	*revokedAt(&v) = catalog.NormTime(at)
	return t.fail(putJSON(t.txn, entityKey(t.tenant, kind, id), v))
}

func (t *tx) RevokeDevice(id string, at time.Time) error {
	return revoke(t, kindDevice, id, at, func(d *catalog.Device) *time.Time { return &d.RevokedAt })
}

func (t *tx) PutAsset(a catalog.Asset) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	a.TenantID = t.tenant
	a.ValidFrom, a.ValidUntil = catalog.NormTime(a.ValidFrom), catalog.NormTime(a.ValidUntil)
	a.CreatedAt, a.UpdatedAt = catalog.NormTime(a.CreatedAt), catalog.NormTime(a.UpdatedAt)
	return put(t, kindAsset, a.ID, &a, func(x *catalog.Asset) *time.Time { return &x.CreatedAt })
}

func (t *tx) DeleteAsset(id string) error {
	return t.remove(kindAsset, id, func() (bool, error) {
		return inUse(t, kindPlaylist, func(p catalog.Playlist) bool { return slices.Contains(p.AssetIDs, id) })
	})
}

func (t *tx) PutPlaylist(p catalog.Playlist) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	missing := 0
	for _, id := range p.AssetIDs {
		ok, err := has(t.txn, entityKey(t.tenant, kindAsset, id))
		if err != nil {
			return t.fail(err)
		}
		if !ok {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%w: %d of the playlist's assets do not exist", catalog.ErrInvalid, missing)
	}
	p.TenantID = t.tenant
	p.CreatedAt, p.UpdatedAt = catalog.NormTime(p.CreatedAt), catalog.NormTime(p.UpdatedAt)
	return put(t, kindPlaylist, p.ID, &p, func(x *catalog.Playlist) *time.Time { return &x.CreatedAt })
}

func (t *tx) DeletePlaylist(id string) error {
	return t.remove(kindPlaylist, id, func() (bool, error) {
		return inUse(t, kindSchedule, func(s catalog.Schedule) bool { return slices.Contains(s.PlaylistIDs(), id) })
	})
}

func (t *tx) PutSchedule(s catalog.Schedule) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	for _, id := range s.PlaylistIDs() {
		if err := t.need(kindPlaylist, id); err != nil {
			return err
		}
	}
	if s.StoreID != "" {
		if err := t.need(kindStore, s.StoreID); err != nil {
			return err
		}
	}
	if s.ZoneID != "" {
		if err := t.needZone(s.StoreID, s.ZoneID); err != nil {
			return err
		}
	}
	s.TenantID = t.tenant
	s.CreatedAt, s.UpdatedAt = catalog.NormTime(s.CreatedAt), catalog.NormTime(s.UpdatedAt)
	return put(t, kindSchedule, s.ID, &s, func(x *catalog.Schedule) *time.Time { return &x.CreatedAt })
}

func (t *tx) DeleteSchedule(id string) error { return t.remove(kindSchedule, id) }

func (t *tx) CreateAdminToken(a catalog.AdminToken) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if a.StoreID != "" {
		if err := t.need(kindStore, a.StoreID); err != nil {
			return err
		}
	}
	for _, k := range [][]byte{key("id", kindAdmin, a.ID), key("x", "admin", string(a.Hash[:]))} {
		taken, err := has(t.txn, k)
		if err != nil {
			return t.fail(err)
		}
		if taken {
			return fmt.Errorf("%w: admin token id or hash is taken", catalog.ErrConflict)
		}
	}
	a.TenantID = t.tenant
	a.CreatedAt, a.RevokedAt = catalog.NormTime(a.CreatedAt), catalog.NormTime(a.RevokedAt)
	if err := put(t, kindAdmin, a.ID, &a, nil); err != nil {
		return err
	}
	return t.fail(t.txn.Set(key("x", "admin", string(a.Hash[:])), []byte(t.tenant+"/"+a.ID)))
}

func (t *tx) RevokeAdminToken(id string, at time.Time) error {
	return revoke(t, kindAdmin, id, at, func(a *catalog.AdminToken) *time.Time { return &a.RevokedAt })
}

func (t *tx) CreateEnrollmentToken(e catalog.EnrollmentToken) error {
	if err := t.check(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if err := t.needZone(e.StoreID, e.ZoneID); err != nil {
		return err
	}
	k := key("enr", string(e.Hash[:]))
	taken, err := has(t.txn, k)
	if err != nil {
		return t.fail(err)
	}
	if taken {
		return fmt.Errorf("%w: enrollment token hash is taken", catalog.ErrConflict)
	}
	e.TenantID = t.tenant
	e.CreatedAt, e.ExpiresAt, e.UsedAt = catalog.NormTime(e.CreatedAt), catalog.NormTime(e.ExpiresAt), catalog.NormTime(e.UsedAt)
	if err := putJSON(t.txn, k, e); err != nil {
		return t.fail(err)
	}
	return t.fail(t.txn.Set(entityKey(t.tenant, kindEnroll, hex.EncodeToString(e.Hash[:])), nil))
}

func (t *tx) RedeemEnrollmentToken(h catalog.Hash, deviceID string, now time.Time) (catalog.EnrollmentToken, error) {
	var e catalog.EnrollmentToken
	if err := t.check(); err != nil {
		return e, err
	}
	if !catalog.ValidID(deviceID) {
		return e, fmt.Errorf("%w: device id %q", catalog.ErrInvalid, deviceID)
	}
	k := key("enr", string(h[:]))
	ok, err := getJSON(t.txn, k, &e)
	if err != nil {
		return e, t.fail(err)
	}
	if !ok || e.TenantID != t.tenant {
		return catalog.EnrollmentToken{}, fmt.Errorf("%w: enrollment token", catalog.ErrNotFound)
	}
	if e.UsedBy != "" {
		return e, fmt.Errorf("%w: by device %s", catalog.ErrTokenUsed, e.UsedBy)
	}
	if now.After(e.ExpiresAt) {
		return e, fmt.Errorf("%w: at %s", catalog.ErrExpired, e.ExpiresAt.Format(time.RFC3339))
	}
	e.UsedBy, e.UsedAt = deviceID, catalog.NormTime(now)
	return e, t.fail(putJSON(t.txn, k, e))
}
