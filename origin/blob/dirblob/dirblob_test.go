package dirblob_test

import (
	"testing"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/blobtest"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T, maxSize int64) blob.Store {
		cfg := dirblob.DefaultConfig(t.TempDir())
		cfg.MaxSize = maxSize
		s, err := dirblob.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
