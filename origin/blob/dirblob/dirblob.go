package dirblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lomuz/lomuz/origin/blob"
)

// Config configures a directory store.
type Config struct {
	// Dir is the root directory; created if missing. Required.
	Dir string
	// MaxSize bounds one blob in bytes; 0 means blob.DefaultMaxSize.
	MaxSize int64
	// StaleTemp is the age after which a temp file left in DIR/tmp is taken for a crashed write and removed at open;
	// it must exceed the longest Put (a 4 GiB master over a slow disk), hence an hour.
	StaleTemp time.Duration
}

// DefaultConfig returns the defaults for a store rooted at dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, MaxSize: blob.DefaultMaxSize, StaleTemp: time.Hour}
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return errors.New("dirblob: Dir is required")
	}
	if c.MaxSize < 0 {
		return fmt.Errorf("dirblob: MaxSize %d is negative", c.MaxSize)
	}
	if c.MaxSize == 0 {
		c.MaxSize = blob.DefaultMaxSize
	}
	if c.StaleTemp <= 0 {
		c.StaleTemp = time.Hour
	}
	return nil
}

// Store is a blob.Store over a local directory. Safe for concurrent use, also by several processes sharing Dir.
type Store struct {
	cfg  Config
	data string
	tmp  string
}

var _ blob.Store = (*Store)(nil)

// New opens (creating if needed) the store at cfg.Dir and removes stale temp files.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, data: filepath.Join(cfg.Dir, "data"), tmp: filepath.Join(cfg.Dir, "tmp")}
	for _, d := range []string{s.data, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("dirblob: %w", err)
		}
	}
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return nil, fmt.Errorf("dirblob: %w", err)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > cfg.StaleTemp {
			_ = os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
	return s, nil
}

func (s *Store) path(key string) string { return filepath.Join(s.data, filepath.FromSlash(key)) }

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, err
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w", key, err)
	}
	published := false
	defer func() {
		if !published {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	v := blob.NewVerifyingReader(r, opts, s.cfg.MaxSize)
	if _, err := io.Copy(f, ctxReader{ctx, v}); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w", key, err)
	}
	if !v.Verified() {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: stream ended unverified", key)
	}
	if err := f.Sync(); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w", key, err)
	}
	dst := s.path(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w (is a parent key a blob?)", key, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		if fi, serr := os.Stat(dst); serr == nil && fi.IsDir() {
			return blob.Info{}, fmt.Errorf("%w: %q is a parent of other keys", blob.ErrInvalidKey, key)
		}
		return blob.Info{}, fmt.Errorf("dirblob: put %s: %w", key, err)
	}
	published = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %s: sync dir: %w", key, err)
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return blob.Info{}, err
	}
	info.SHA256 = v.SHA256()
	return info, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, blob.Info{}, s.mapErr(key, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, blob.Info{}, s.mapErr(key, err)
	}
	info := blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if off < 0 || off > info.Size {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("%w: offset %d of %d bytes", blob.ErrInvalidRange, off, info.Size)
	}
	if n < 0 || off+n > info.Size {
		n = info.Size - off
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, blob.Info{}, s.mapErr(key, err)
	}
	return &fileRange{lr: io.LimitedReader{R: f, N: n}, f: f}, info, nil
}

// fileRange reads a byte range of an open file. Its WriteTo hands the writer an *io.LimitedReader over the
// *os.File, the shape net.TCPConn.ReadFrom turns into sendfile(2): origin serving a blob (or a range of it) to a
// device copies no bytes through user space.
type fileRange struct {
	lr io.LimitedReader
	f  *os.File
}

func (r *fileRange) Read(p []byte) (int, error)         { return r.lr.Read(p) }
func (r *fileRange) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, &r.lr) }
func (r *fileRange) Close() error                       { return r.f.Close() }

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(s.path(key))
	if err == nil && fi.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return blob.Info{}, s.mapErr(key, err)
	}
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (s *Store) mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return fmt.Errorf("dirblob: %s: %w", key, err)
}

// Delete implements blob.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	p := s.path(key)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return nil // a parent of other keys is not a blob
	}
	err := os.Remove(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("dirblob: delete %s: %w", key, err)
	}
	return nil
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		if err := blob.CheckPrefix(prefix); err != nil {
			yield(blob.Info{}, err)
			return
		}
		// Walk the deepest directory that holds every key with this prefix.
		base := ""
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			base = prefix[:i]
		}
		var out []blob.Info
		err := filepath.WalkDir(filepath.Join(s.data, filepath.FromSlash(base)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
					return nil // gone during the walk, or the base is itself a blob
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(s.data, p)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			if !strings.HasPrefix(key, prefix) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil // removed since the directory was read
			}
			out = append(out, blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
			return nil
		})
		if err != nil {
			yield(blob.Info{}, fmt.Errorf("dirblob: list %q: %w", prefix, err))
			return
		}
		slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range out {
			if !yield(info, nil) {
				return
			}
		}
	}
}
