package origin

import (
	"context"

	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/embedded"
)

// openEmbedded opens the embedded catalog in dir.
func openEmbedded(_ context.Context, dir string) (catalog.Store, error) {
	return embedded.Open(embedded.DefaultConfig(dir))
}
