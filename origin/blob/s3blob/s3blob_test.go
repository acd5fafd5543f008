package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// A failed large Put aborts its multipart upload: no parts are left behind to be billed.
func TestFailedMultipartLeavesNoUpload(t *testing.T) {
	srv := testenv.S3(t)
	s := newStore(t, srv, blob.DefaultMaxSize, "")
	c := rawClient(srv)
	bucket := bucketOf(t, c)
	big := bytes.Repeat([]byte("lomuz"), (20<<20)/5) // 20 MiB: three parts
	_, err := s.Put(context.Background(), "masters/x", struct{ io.Reader }{bytes.NewReader(big)},
		blob.PutOptions{SHA256: strings.Repeat("0", 64)})
	if !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Put = %v, want ErrDigestMismatch", err)
	}
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left after a failed Put", len(out.Uploads))
	}
}

func TestConfigValidation(t *testing.T) {
	for _, mut := range []func(*s3blob.Config){
		func(c *s3blob.Config) { c.Bucket = "Bad_Bucket" },
		func(c *s3blob.Config) { c.KeyPrefix = "no-slash" },
		func(c *s3blob.Config) { c.PartSize = 1 << 20 },
		func(c *s3blob.Config) { c.Uploads = 100 },
		func(c *s3blob.Config) { c.AccessKey = "only-half" },
		func(c *s3blob.Config) { c.MaxSize, c.PartSize = 1<<40, 5<<20 },
	} {
		cfg := s3blob.DefaultConfig("lomuz-ok")
		mut(&cfg)
		if _, err := s3blob.New(context.Background(), cfg); err == nil {
			t.Fatalf("New accepted %+v", cfg)
		}
	}
}
