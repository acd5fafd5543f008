package embedded

import (
	"context"
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Zone overrides: the current one at e/<tenant>/ovr/<zone> (deleted with its zone), every change at
// oh/<tenant>/<zone>/<^wall ms><^logical> (kept), so a prefix scan lists a zone's history newest first.
const kindOverride = "ovr"

func overrideLogKey(tenant, zone string, h crdt.HLC) []byte {
	k := key("oh", tenant, zone, "")
	k = binary.BigEndian.AppendUint64(k, ^uint64(h.WallMS))
	return binary.BigEndian.AppendUint32(k, ^h.Logical)
}

func (s *Store) GetZoneOverride(ctx context.Context, tenantID, zoneID string) (catalog.ZoneOverride, error) {
	return readEntity[catalog.ZoneOverride](ctx, s, tenantID, kindOverride, zoneID)
}

func (s *Store) ListZoneOverrides(ctx context.Context, tenantID, storeID string) ([]catalog.ZoneOverride, error) {
	return readList(ctx, s, tenantID, kindOverride, func(o catalog.ZoneOverride) bool {
		return storeID == "" || o.StoreID == storeID
	})
}

func (s *Store) ZoneOverrideHistory(ctx context.Context, tenantID, zoneID string, limit int) ([]catalog.ZoneOverride, error) {
	if !catalog.ValidID(tenantID) || !catalog.ValidID(zoneID) {
		return nil, nil
	}
	if limit <= 0 || limit > catalog.MaxOverrideHistory {
		limit = catalog.MaxOverrideHistory
	}
	var out []catalog.ZoneOverride
	err := s.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, key("oh", tenantID, zoneID, ""), func(o catalog.ZoneOverride) (bool, error) {
			out = append(out, o)
			return len(out) < limit, nil
		})
	})
	return out, err
}

func (t *tx) GetZoneOverride(zoneID string) (catalog.ZoneOverride, error) {
	return txGet[catalog.ZoneOverride](t, kindOverride, zoneID)
}

func (t *tx) PutZoneOverride(o catalog.ZoneOverride) error {
	if err := t.check(); err != nil {
		return err
	}
	o.TenantID = t.tenant
	o = catalog.NormOverride(o)
	if err := o.Validate(); err != nil {
		return err
	}
	if err := t.needZone(o.StoreID, o.ZoneID); err != nil {
		return err
	}
	cur, err := t.GetZoneOverride(o.ZoneID)
	if err := catalog.CheckOverrideOrder(cur, err, o); err != nil {
		return err
	}
	if err := putJSON(t.txn, entityKey(t.tenant, kindOverride, o.ZoneID), o); err != nil {
		return t.fail(err)
	}
	return t.fail(putJSON(t.txn, overrideLogKey(t.tenant, o.ZoneID, o.HLC), o))
}

// deleteOverride removes a deleted zone's current override; its history stays.
func (t *tx) deleteOverride(zoneID string) error {
	return t.fail(t.txn.Delete(entityKey(t.tenant, kindOverride, zoneID)))
}
