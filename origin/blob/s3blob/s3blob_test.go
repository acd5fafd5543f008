package s3blob_test

import (
	"context"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/blobtest"
	"github.com/lomuz/lomuz/origin/blob/s3blob"
)

// newStore makes a store on a fresh bucket of srv; each subtest gets its own bucket so they cannot see each other.
func newStore(t testing.TB, srv testenv.S3Server, maxSize int64, prefix string) *s3blob.Store {
	t.Helper()
	cfg := s3blob.DefaultConfig("lomuz-" + testenv.RandomHex(6))
	cfg.Endpoint, cfg.Region, cfg.UsePathStyle = srv.Endpoint, srv.Region, true
	cfg.AccessKey, cfg.SecretKey = srv.AccessKey, srv.SecretKey
	cfg.MaxSize, cfg.KeyPrefix = maxSize, prefix
	s, err := s3blob.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := testenv.S3(t)
	blobtest.Run(t, func(t *testing.T, maxSize int64) blob.Store { return newStore(t, srv, maxSize, "") })
}

func TestConformanceWithKeyPrefix(t *testing.T) {
	srv := testenv.S3(t)
	blobtest.Run(t, func(t *testing.T, maxSize int64) blob.Store { return newStore(t, srv, maxSize, "lomuz/blobs/") })
}
