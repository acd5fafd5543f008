package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/blob"
)

// benchSize is one master-sized blob: 32 MiB, four 8 MiB parts.
const benchSize = 32 << 20

func benchSetup(b *testing.B) (testenv.S3Server, []byte, string) {
	srv := testenv.S3(b)
	p := make([]byte, benchSize)
	_, _ = rand.Read(p)
	s := sha256.Sum256(p)
	return srv, p, hex.EncodeToString(s[:])
}

// BenchmarkPut streams a master through the store: 8 MiB parts of a multipart upload, sha256 checked before the
// upload completes.
func BenchmarkPut(b *testing.B) {
	srv, p, sha := benchSetup(b)
	s := newStore(b, srv, blob.DefaultMaxSize, "")
	b.SetBytes(benchSize)
	for b.Loop() {
		// Hide the length: masters arrive as streams.
		if _, err := s.Put(context.Background(), blob.ContentKey(sha), struct{ io.Reader }{bytes.NewReader(p)}, blob.PutOptions{SHA256: sha}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselinePutObject is the floor for Put: one PutObject of the whole blob from memory with the SDK,
// nothing streamed or checked.
func BenchmarkBaselinePutObject(b *testing.B) {
	srv, p, _ := benchSetup(b)
	newStore(b, srv, blob.DefaultMaxSize, "") // creates the bucket
	c := rawClient(srv)
	bucket := bucketOf(b, c)
	b.SetBytes(benchSize)
	for b.Loop() {
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("raw"),
			Body: bytes.NewReader(p), ContentLength: aws.Int64(benchSize)})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineMultipart is the floor for a streamed Put: the SDK's multipart upload of the same bytes from
// memory, 8 MiB parts one after another, no hashing of ours. (A server such as versitygw then concatenates the parts,
// which a single PutObject avoids; a stream of unknown length cannot be one PutObject without spooling it.)
func BenchmarkBaselineMultipart(b *testing.B) {
	srv, p, _ := benchSetup(b)
	newStore(b, srv, blob.DefaultMaxSize, "") // creates the bucket
	c := rawClient(srv)
	bucket := bucketOf(b, c)
	ctx := context.Background()
	b.SetBytes(benchSize)
	for b.Loop() {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("raw")})
		if err != nil {
			b.Fatal(err)
		}
		var parts []types.CompletedPart
		for i := 0; i*partSize < benchSize; i++ {
			num := aws.Int32(int32(i + 1))
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("raw"),
				UploadId: up.UploadId, PartNumber: num, Body: bytes.NewReader(p[i*partSize : (i+1)*partSize]),
				ContentLength: aws.Int64(partSize)})
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: num})
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket),
			Key: aws.String("raw"), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

const partSize = 8 << 20

// BenchmarkGet reads a whole blob back through the store.
func BenchmarkGet(b *testing.B) {
	srv, p, sha := benchSetup(b)
	s := newStore(b, srv, blob.DefaultMaxSize, "")
	if _, err := s.Put(context.Background(), blob.ContentKey(sha), bytes.NewReader(p), blob.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		rc, _, err := s.Get(context.Background(), blob.ContentKey(sha), 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkBaselineGetObject is the floor for Get: one GetObject with the SDK.
func BenchmarkBaselineGetObject(b *testing.B) {
	srv, p, _ := benchSetup(b)
	newStore(b, srv, blob.DefaultMaxSize, "") // creates the bucket
	c := rawClient(srv)
	bucket := bucketOf(b, c)
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("raw"),
		Body: bytes.NewReader(p), ContentLength: aws.Int64(benchSize)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("raw")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, out.Body); err != nil {
			b.Fatal(err)
		}
		out.Body.Close()
	}
}

func rawClient(srv testenv.S3Server) *s3.Client {
	return s3.New(s3.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func bucketOf(b testing.TB, c *s3.Client) string {
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 {
		b.Fatalf("buckets: %v %v", out, err)
	}
	return aws.ToString(out.Buckets[0].Name)
}
