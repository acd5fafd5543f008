package embedded

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/lomuz/lomuz/origin/catalog"
)

// fixRaw turns the "null" that encoding/json leaves in a json.RawMessage back into nil.
func fixRaw(b []byte) []byte {
	if string(b) == "null" {
		return nil
	}
	return b
}

func fixDevice(d catalog.Device) catalog.Device {
	d.Telemetry.Status = fixRaw(d.Telemetry.Status)
	return d
}

// getEntity reads one row of tenant; an id that is not a UUID is not found.
func getEntity[T any](txn *badger.Txn, tenant, kind, id string) (T, error) {
	var v T
	if !catalog.ValidID(tenant) || !catalog.ValidID(id) {
		return v, notFound(kind, id)
	}
	ok, err := getJSON(txn, entityKey(tenant, kind, id), &v)
	if err == nil && !ok {
		err = notFound(kind, id)
	}
	return v, err
}

// readEntity is getEntity in its own read transaction.
func readEntity[T any](ctx context.Context, s *Store, tenant, kind, id string) (T, error) {
	var v T
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		v, err = getEntity[T](txn, tenant, kind, id)
		return err
	})
	return v, err
}

// readList lists a tenant's rows of a kind that keep accepts.
func readList[T any](ctx context.Context, s *Store, tenant, kind string, keep func(T) bool) ([]T, error) {
	if !catalog.ValidID(tenant) {
		return nil, nil
	}
	var out []T
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = listJSON(txn, entityPrefix(tenant, kind), keep)
		return err
	})
	return out, err
}

func (s *Store) CreateTenant(ctx context.Context, t catalog.Tenant) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		return fmt.Errorf("%w: tenant has no creation time", catalog.ErrInvalid)
	}
	t.CreatedAt = catalog.NormTime(t.CreatedAt)
	return s.update(ctx, func(txn *badger.Txn) error {
		if ok, err := has(txn, key("t", t.ID)); err != nil || ok {
			if ok {
				return fmt.Errorf("%w: tenant %s exists", catalog.ErrConflict, t.ID)
			}
			return err
		}
		if err := putJSON(txn, key("t", t.ID), t); err != nil {
			return err
		}
		return txn.Set(key("rev", t.ID), u64(0))
	})
}

func (s *Store) GetTenant(ctx context.Context, tenantID string) (catalog.Tenant, error) {
	var t catalog.Tenant
	if !catalog.ValidID(tenantID) {
		return t, notFound("tenant", tenantID)
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		ok, err := getJSON(txn, key("t", tenantID), &t)
		if err == nil && !ok {
			err = notFound("tenant", tenantID)
		}
		return err
	})
	return t, err
}

// byIndex follows a global index x/<kind>/<hash> to "<tenant>/<id>" and reads the row.
func byIndex[T any](txn *badger.Txn, index, kind string, h catalog.Hash) (T, error) {
	var v T
	ref, ok, err := getRaw(txn, key("x", index, string(h[:])))
	if err != nil {
		return v, err
	}
	if !ok {
		return v, fmt.Errorf("%w: %s", catalog.ErrNotFound, index)
	}
	tenant, id, _ := strings.Cut(string(ref), "/")
	return getEntity[T](txn, tenant, kind, id)
}

func (s *Store) AdminTokenByHash(ctx context.Context, h catalog.Hash) (catalog.AdminToken, error) {
	var t catalog.AdminToken
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		t, err = byIndex[catalog.AdminToken](txn, "admin", kindAdmin, h)
		return err
	})
	if err == nil && !t.RevokedAt.IsZero() {
		err = fmt.Errorf("%w: admin token %s", catalog.ErrRevoked, t.ID)
	}
	return t, err
}

func (s *Store) ListAdminTokens(ctx context.Context, tenantID string) ([]catalog.AdminToken, error) {
	return readList[catalog.AdminToken](ctx, s, tenantID, kindAdmin, nil)
}

func (s *Store) GetStore(ctx context.Context, tenantID, storeID string) (catalog.Shop, error) {
	return readEntity[catalog.Shop](ctx, s, tenantID, kindStore, storeID)
}

func (s *Store) ListStores(ctx context.Context, tenantID string) ([]catalog.Shop, error) {
	return readList[catalog.Shop](ctx, s, tenantID, kindStore, nil)
}

func (s *Store) GetZone(ctx context.Context, tenantID, zoneID string) (catalog.Zone, error) {
	return readEntity[catalog.Zone](ctx, s, tenantID, kindZone, zoneID)
}

func (s *Store) ListZones(ctx context.Context, tenantID, storeID string) ([]catalog.Zone, error) {
	return readList(ctx, s, tenantID, kindZone, func(z catalog.Zone) bool { return storeID == "" || z.StoreID == storeID })
}

func (s *Store) GetDevice(ctx context.Context, tenantID, deviceID string) (catalog.Device, error) {
	d, err := readEntity[catalog.Device](ctx, s, tenantID, kindDevice, deviceID)
	return fixDevice(d), err
}

func deviceFilter(f catalog.DeviceFilter) func(catalog.Device) bool {
	return func(d catalog.Device) bool {
		return (f.StoreID == "" || d.StoreID == f.StoreID) && (f.ZoneID == "" || d.ZoneID == f.ZoneID)
	}
}

func fixDevices(ds []catalog.Device) []catalog.Device {
	for i := range ds {
		ds[i] = fixDevice(ds[i])
	}
	return ds
}

func (s *Store) ListDevices(ctx context.Context, tenantID string, f catalog.DeviceFilter) ([]catalog.Device, error) {
	ds, err := readList(ctx, s, tenantID, kindDevice, deviceFilter(f))
	return fixDevices(ds), err
}

func (s *Store) DeviceByCredential(ctx context.Context, h catalog.Hash) (catalog.Device, error) {
	var d catalog.Device
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		d, err = byIndex[catalog.Device](txn, "cred", kindDevice, h)
		return err
	})
	d = fixDevice(d)
	if err == nil && !d.RevokedAt.IsZero() {
		err = fmt.Errorf("%w: device %s", catalog.ErrRevoked, d.ID)
	}
	return d, err
}

func (s *Store) EnrollmentTokenByHash(ctx context.Context, h catalog.Hash) (catalog.EnrollmentToken, error) {
	var t catalog.EnrollmentToken
	err := s.view(ctx, func(txn *badger.Txn) error {
		ok, err := getJSON(txn, key("enr", string(h[:])), &t)
		if err == nil && !ok {
			err = fmt.Errorf("%w: enrollment token", catalog.ErrNotFound)
		}
		return err
	})
	return t, err
}

func (s *Store) ListEnrollmentTokens(ctx context.Context, tenantID, storeID string) ([]catalog.EnrollmentToken, error) {
	if !catalog.ValidID(tenantID) {
		return nil, nil
	}
	var out []catalog.EnrollmentToken
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scan(txn, entityPrefix(tenantID, kindEnroll), nil, nil, func(k, _ []byte) (bool, error) {
			h, err := hex.DecodeString(string(k[len(entityPrefix(tenantID, kindEnroll)):]))
			if err != nil {
				return false, err
			}
			var t catalog.EnrollmentToken
			if _, err := getJSON(txn, key("enr", string(h)), &t); err != nil {
				return false, err
			}
			if storeID == "" || t.StoreID == storeID {
				out = append(out, t)
			}
			return true, nil
		})
	})
	sortTokens(out)
	return out, err
}

func (s *Store) GetAsset(ctx context.Context, tenantID, assetID string) (catalog.Asset, error) {
	return readEntity[catalog.Asset](ctx, s, tenantID, kindAsset, assetID)
}

func (s *Store) ListAssets(ctx context.Context, tenantID string, o catalog.ListOptions) (catalog.AssetPage, error) {
	var p catalog.AssetPage
	if !catalog.ValidID(tenantID) {
		return p, nil
	}
	if o.Cursor != "" && !catalog.ValidID(o.Cursor) {
		return p, fmt.Errorf("%w: cursor %q", catalog.ErrInvalid, o.Cursor)
	}
	if err := catalog.CheckQuery(o.Query); err != nil {
		return p, err
	}
	limit := catalog.ClampLimit(o.Limit)
	prefix := entityPrefix(tenantID, kindAsset)
	var start, skip []byte
	if o.Cursor != "" {
		start = entityKey(tenantID, kindAsset, o.Cursor)
		skip = start
	}
	needle := catalog.FoldSearch(o.Query)
	scanned := 0
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scan(txn, prefix, start, skip, func(k, v []byte) (bool, error) {
			if len(p.Assets) == limit {
				p.Next = p.Assets[limit-1].ID
				return false, nil
			}
			if (needle != "" || o.Emergency) && scanned == catalog.MaxSearchScan {
				// The scan budget is spent: a short page that continues after the last row read.
				p.Next = string(k[len(prefix):])
				return false, nil
			}
			scanned++
			var a catalog.Asset
			if err := decodeValue(v, &a); err != nil {
				return false, err
			}
			if (needle == "" || strings.Contains(catalog.SearchText(a.Title, a.Artist, a.ISRC), needle)) &&
				(!o.Emergency || a.EmergencyEligible) {
				p.Assets = append(p.Assets, a)
			}
			return true, nil
		})
	})
	return p, err
}

func (s *Store) GetAssets(ctx context.Context, tenantID string, ids []string) ([]catalog.Asset, error) {
	if err := catalog.CheckAssetIDs(ids); err != nil {
		return nil, err
	}
	if !catalog.ValidID(tenantID) {
		return nil, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []catalog.Asset
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		for _, id := range ids {
			var a catalog.Asset
			ok, err := getJSON(txn, entityKey(tenantID, kindAsset, id), &a)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

func (s *Store) GetPlaylist(ctx context.Context, tenantID, playlistID string) (catalog.Playlist, error) {
	return readEntity[catalog.Playlist](ctx, s, tenantID, kindPlaylist, playlistID)
}

func (s *Store) ListPlaylists(ctx context.Context, tenantID string) ([]catalog.Playlist, error) {
	return readList[catalog.Playlist](ctx, s, tenantID, kindPlaylist, nil)
}

func (s *Store) GetSchedule(ctx context.Context, tenantID, scheduleID string) (catalog.Schedule, error) {
	return readEntity[catalog.Schedule](ctx, s, tenantID, kindSchedule, scheduleID)
}

func (s *Store) ListSchedules(ctx context.Context, tenantID string, f catalog.ScheduleFilter) ([]catalog.Schedule, error) {
	return readList(ctx, s, tenantID, kindSchedule, func(x catalog.Schedule) bool {
		return f.StoreID == "" || x.StoreID == "" || x.StoreID == f.StoreID
	})
}
