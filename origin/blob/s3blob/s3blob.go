package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lomuz/lomuz/origin/blob"
)

// Config configures an S3 store.
type Config struct {
	// Bucket holds the blobs. Required.
	Bucket string
	// KeyPrefix is prepended to every key (e.g. "lomuz/"), so a bucket can be shared; it must be empty or a valid
	// key prefix ending in "/".
	KeyPrefix string
	// Endpoint is the service's base URL (e.g. "http://127.0.0.1:7070"); empty means AWS's own endpoint.
	Endpoint string
	// Region signs requests; S3-compatible servers usually accept "us-east-1".
	Region string
	// UsePathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY; S3-compatible servers
	// need it.
	UsePathStyle bool
	// AccessKey and SecretKey are static credentials; both empty means the SDK's default chain (environment,
	// shared files, instance role).
	AccessKey, SecretKey string
	// PartSize is the multipart part size in bytes, between 5 MiB (S3's minimum) and 512 MiB. 8 MiB keeps a 4 GiB master at 512 parts, far below S3's 10,000.
	PartSize int64
	// Uploads is how many parts of one Put are sent at once; S3's throughput is per connection, so two keep a
	// link busy while the next part is read. Memory per Put is (Uploads+1) parts.
	Uploads int
	// MaxSize bounds one blob in bytes; 0 means blob.DefaultMaxSize.
	MaxSize int64
	// MaxPresignTTL caps PresignGet's ttl; SigV4 allows at most 7 days.
	MaxPresignTTL time.Duration
	// HTTPClient, when set, carries the requests (tests, custom transports).
	HTTPClient *http.Client
}

// DefaultConfig returns the defaults for a bucket on AWS; set Endpoint and UsePathStyle for other services.
func DefaultConfig(bucket string) Config {
	return Config{
		Bucket:        bucket,
		Region:        "us-east-1",
		PartSize:      8 << 20,
		Uploads:       2,
		MaxSize:       blob.DefaultMaxSize,
		MaxPresignTTL: 7 * 24 * time.Hour,
	}
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func (c *Config) validate() error {
	if !bucketRE.MatchString(c.Bucket) {
		return fmt.Errorf("s3blob: bucket %q is not a valid bucket name", c.Bucket)
	}
	if c.KeyPrefix != "" {
		if err := blob.CheckPrefix(c.KeyPrefix); err != nil || !strings.HasSuffix(c.KeyPrefix, "/") {
			return fmt.Errorf("s3blob: KeyPrefix %q must be a key prefix ending in /", c.KeyPrefix)
		}
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.PartSize == 0 {
		c.PartSize = 8 << 20
	}
	if c.PartSize < 5<<20 || c.PartSize > 512<<20 {
		return fmt.Errorf("s3blob: PartSize %d outside [5 MiB, 512 MiB]", c.PartSize)
	}
	if c.Uploads == 0 {
		c.Uploads = 2
	}
	if c.Uploads < 1 || c.Uploads > 16 {
		return fmt.Errorf("s3blob: Uploads %d outside [1, 16]", c.Uploads)
	}
	if c.MaxSize < 0 {
		return fmt.Errorf("s3blob: MaxSize %d is negative", c.MaxSize)
	}
	if c.MaxSize == 0 {
		c.MaxSize = blob.DefaultMaxSize
	}
	if c.MaxSize/c.PartSize >= 10_000 {
		return fmt.Errorf("s3blob: MaxSize %d needs more than 10,000 parts of %d bytes", c.MaxSize, c.PartSize)
	}
	if c.MaxPresignTTL <= 0 || c.MaxPresignTTL > 7*24*time.Hour {
		c.MaxPresignTTL = 7 * 24 * time.Hour
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("s3blob: set both AccessKey and SecretKey, or neither")
	}
	return nil
}

// Store is a blob.Store over one S3 bucket. Safe for concurrent use.
type Store struct {
	cfg     Config
	client  *s3.Client
	presign *s3.PresignClient
	parts   sync.Pool // *[]byte of PartSize: part buffers reused across Puts rather than 8 MiB allocations each
}

var (
	_ blob.Store     = (*Store)(nil)
	_ blob.Presigner = (*Store)(nil)
)

// New builds a store; it does no network I/O (see CreateBucket).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3blob: aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{cfg: cfg, client: client, presign: s3.NewPresignClient(client)}, nil
}

// CreateBucket creates the configured bucket; a bucket that exists and is ours is not an error.
func (s *Store) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3blob: create bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

func (s *Store) objectKey(key string) *string { return aws.String(s.cfg.KeyPrefix + key) }

func isNotFound(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf)
}

func (s *Store) mapErr(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return fmt.Errorf("s3blob: %s %s: %w", op, key, err)
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, err
	}
	v := blob.NewVerifyingReader(r, opts, s.cfg.MaxSize)
	firstBuf := s.getPart()
	defer s.putPart(firstBuf)
	first, eof, err := s.readPart(v, firstBuf)
	if err != nil {
		return blob.Info{}, fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	if eof {
		if !v.Verified() {
			return blob.Info{}, fmt.Errorf("s3blob: put %s: stream ended unverified", key)
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.cfg.Bucket),
			Key:           s.objectKey(key),
			Body:          bytes.NewReader(first),
			ContentLength: aws.Int64(int64(len(first))),
			ContentType:   contentType(opts.ContentType),
		})
		if err != nil {
			return blob.Info{}, fmt.Errorf("s3blob: put %s: %w", key, err)
		}
	} else if err := s.multipart(ctx, key, v, first, opts); err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Key: key, Size: v.N(), SHA256: v.SHA256(), ModTime: time.Now()}, nil
}

func contentType(ct string) *string {
	if ct == "" {
		return nil
	}
	return aws.String(ct)
}

func (s *Store) getPart() []byte {
	if p, ok := s.parts.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, s.cfg.PartSize)
}

func (s *Store) putPart(b []byte) {
	b = b[:cap(b)]
	s.parts.Put(&b)
}

// readPart fills buf (PartSize long) from r. eof reports that the stream ended (verified, or err).
func (s *Store) readPart(r io.Reader, buf []byte) (part []byte, eof bool, err error) {
	n, err := io.ReadFull(r, buf[:s.cfg.PartSize])
	switch {
	case err == nil:
		return buf[:n], false, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return buf[:n], true, nil
	default:
		return nil, true, err
	}
}

func (s *Store) multipart(ctx context.Context, key string, v *blob.VerifyingReader, first []byte, opts blob.PutOptions) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         s.objectKey(key),
		ContentType: contentType(opts.ContentType),
	})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: start multipart: %w", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort with a context of its own: the caller's may be what ended the upload.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key), UploadId: up.UploadId,
		})
	}()
	done, err := s.uploadParts(ctx, key, up.UploadId, v, first)
	if err != nil {
		return err
	}
	if !v.Verified() {
		return fmt.Errorf("s3blob: put %s: stream ended unverified", key)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: complete multipart: %w", key, err)
	}
	return nil
}

// uploadParts reads the stream part by part, uploading up to Config.Uploads parts at once while it reads the next.
// It returns the parts in order, or the first error (after every upload in flight has ended).
func (s *Store) uploadParts(ctx context.Context, key string, uploadID *string, v *blob.VerifyingReader,
	first []byte) ([]types.CompletedPart, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		fail  error
		wg    sync.WaitGroup
	)
	// Buffers cycle through free: Uploads+1 parts in memory at most (Uploads in flight, one being read).
	// The caller owns first's buffer; the Uploads others are taken from and given back to the pool.
	free := make(chan []byte, s.cfg.Uploads+1)
	for range s.cfg.Uploads {
		free <- s.getPart()
	}
	send := func(num int32, data []byte) {
		defer wg.Done()
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key), UploadId: uploadID,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		})
		mu.Lock()
		if err != nil && fail == nil {
			fail = fmt.Errorf("s3blob: put %s: part %d: %w", key, num, err)
			cancel()
		} else if err == nil {
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		}
		mu.Unlock()
		free <- data[:cap(data)]
	}
	cur, curEOF, num := first, false, int32(1)
	var rerr error
	for {
		wg.Add(1)
		go send(num, cur)
		if curEOF {
			break
		}
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done(): // a part failed, or the caller gave up
		}
		if buf == nil {
			break
		}
		next, eof, err := s.readPart(v, buf)
		if err != nil {
			free <- buf
			rerr = fmt.Errorf("s3blob: put %s: %w", key, err)
			cancel()
			break
		}
		if len(next) == 0 {
			free <- buf
			break // the stream ended on a part boundary
		}
		cur, curEOF, num = next, eof, num+1
	}
	wg.Wait()
	// Every buffer is back in free now: Uploads+1, one of which is first's. Keep the caller's, pool the rest.
	close(free)
	for b := range free {
		if &b[:1][0] != &first[:1][0] {
			s.putPart(b)
		}
	}
	switch {
	case rerr != nil:
		return nil, rerr
	case fail != nil:
		return nil, fail
	case ctx.Err() != nil:
		return nil, fmt.Errorf("s3blob: put %s: %w", key, ctx.Err())
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
	return parts, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, blob.Info{}, err
	}
	if off < 0 {
		return nil, blob.Info{}, fmt.Errorf("%w: negative offset %d", blob.ErrInvalidRange, off)
	}
	if n == 0 {
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, blob.Info{}, err
		}
		if off > info.Size {
			return nil, blob.Info{}, fmt.Errorf("%w: offset %d of %d bytes", blob.ErrInvalidRange, off, info.Size)
		}
		return io.NopCloser(bytes.NewReader(nil)), info, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key)}
	if off > 0 || n > 0 {
		rng := fmt.Sprintf("bytes=%d-", off)
		if n > 0 {
			rng += strconv.FormatInt(off+n-1, 10)
		}
		in.Range = aws.String(rng)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable {
			// Offset at or past the end: at the end is an empty read, past it an error.
			info, serr := s.Stat(ctx, key)
			if serr != nil {
				return nil, blob.Info{}, serr
			}
			if off == info.Size {
				return io.NopCloser(bytes.NewReader(nil)), info, nil
			}
			return nil, blob.Info{}, fmt.Errorf("%w: offset %d of %d bytes", blob.ErrInvalidRange, off, info.Size)
		}
		return nil, blob.Info{}, s.mapErr("get", key, err)
	}
	info := blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
	if in.Range != nil {
		total, perr := totalFromContentRange(aws.ToString(out.ContentRange))
		if perr != nil {
			out.Body.Close()
			return nil, blob.Info{}, fmt.Errorf("s3blob: get %s: %w", key, perr)
		}
		info.Size = total
	}
	return out.Body, info, nil
}

// totalFromContentRange parses the total of "bytes FIRST-LAST/TOTAL".
func totalFromContentRange(cr string) (int64, error) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, fmt.Errorf("malformed Content-Range %q", cr)
	}
	total, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil || total < 0 {
		return 0, fmt.Errorf("malformed Content-Range %q", cr)
	}
	return total, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key)})
	if err != nil {
		return blob.Info{}, s.mapErr("stat", key, err)
	}
	return blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3blob: delete %s: %w", key, err)
	}
	return nil
}

// List implements blob.Store. S3 lists keys in ascending UTF-8 byte order, which for our key grammar is byte order.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		if err := blob.CheckPrefix(prefix); err != nil {
			yield(blob.Info{}, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
			Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.KeyPrefix + prefix),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(blob.Info{}, fmt.Errorf("s3blob: list %q: %w", prefix, err))
				return
			}
			for _, o := range page.Contents {
				key := strings.TrimPrefix(aws.ToString(o.Key), s.cfg.KeyPrefix)
				if blob.CheckKey(key) != nil {
					continue // an object not written through this package (e.g. a "dir/" marker)
				}
				info := blob.Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// PresignGet implements blob.Presigner.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > s.cfg.MaxPresignTTL {
		return "", fmt.Errorf("s3blob: presign ttl %v outside (0, %v]", ttl, s.cfg.MaxPresignTTL)
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.objectKey(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3blob: presign %s: %w", key, err)
	}
	return req.URL, nil
}
