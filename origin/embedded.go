package origin

import (
	"context"
	"errors"

	"github.com/lomuz/lomuz/origin/catalog"
)

// openEmbedded opens the embedded catalog in dir.
func openEmbedded(ctx context.Context, dir string) (catalog.Store, error) {
	return nil, errors.New("origin: the embedded catalog is not available in this build; use --postgres")
}
