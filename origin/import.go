package origin

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/lomuz/lomuz/origin/catalog"
)

// ImportReadyAssets writes assets whose delivery renditions already exist in the blob store (a catalog migrated
// from another system, or a benchmark's fixture) and publishes their signed records, batch assets per
// transaction (each transaction is one tenant revision). Every asset must be State ready with its rendition set;
// the catalog validates them.
func ImportReadyAssets(ctx context.Context, cat catalog.Store, key ed25519.PrivateKey, tenantID string,
	assets []catalog.Asset, batch int) error {
	if batch <= 0 {
		batch = 1000
	}
	p := publisher{key: key}
	for start := 0; start < len(assets); start += batch {
		part := assets[start:min(start+batch, len(assets))]
		err := cat.Update(ctx, tenantID, func(tx catalog.Tx) error {
			for _, a := range part {
				if a.State != catalog.AssetReady || a.TenantID != tenantID {
					return fmt.Errorf("%w: asset %s must be ready and of tenant %s", catalog.ErrInvalid, a.ID, tenantID)
				}
				if err := p.publishAsset(tx, a, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
