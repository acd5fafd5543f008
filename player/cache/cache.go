package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Sentinel errors, compared with errors.Is.
var (
	ErrNotFound      = errors.New("cache: blob not present")
	ErrInvalid       = errors.New("cache: invalid argument")
	ErrExists        = errors.New("cache: blob already installed")
	ErrBusy          = errors.New("cache: blob is being written by another writer")
	ErrHashMismatch  = errors.New("cache: content does not match its hash")
	ErrIncomplete    = errors.New("cache: blob is incomplete")
	ErrTooLarge      = errors.New("cache: more bytes than the declared size")
	ErrQuotaExceeded = errors.New("cache: quota exceeded by pinned content")
	ErrDiskFull      = errors.New("cache: disk full")
	ErrClosed        = errors.New("cache: closed")
)

// MaxBlobSize bounds the declared size of one blob (an hour of high-bitrate audio is ~300 MB).
const MaxBlobSize = 4 << 30

// Config configures a Cache. Zero fields are filled by validate.
type Config struct {
	// Dir is the cache's directory; created if missing.
	Dir string
	// QuotaBytes caps blobs plus partial files; 0 means no quota (the disk is the limit).
	QuotaBytes int64
	// VerifyBytesPerSec bounds the background re-hash so that boot verification of a full cache does not starve
	// playback of disk and CPU; 0 means the default (16 MiB/s, about 10 minutes for 10,000 x 1 MB blobs),
	// negative means unbounded.
	VerifyBytesPerSec int64
	// Notify receives quarantines, evictions and late verifications. It is called without locks held, from the
	// goroutine that caused the event (Serve's verifier, or a Create that evicted); it must not block and must not
	// call back into the Cache synchronously. Nil drops events.
	Notify func(Event)
	// Logger for warnings; nil uses slog.Default.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration for dir with no quota.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, VerifyBytesPerSec: 16 << 20}
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir is empty", ErrInvalid)
	}
	if c.QuotaBytes < 0 {
		return fmt.Errorf("%w: negative QuotaBytes", ErrInvalid)
	}
	if c.VerifyBytesPerSec == 0 {
		c.VerifyBytesPerSec = DefaultConfig("").VerifyBytesPerSec
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// EventKind says what happened to a blob outside a caller's direct request.
type EventKind int

const (
	// Quarantined: a re-hash failed; the blob was moved aside and is no longer present.
	Quarantined EventKind = iota + 1
	// Evicted: removed to make room under the quota.
	Evicted
	// Verified: a blob found on disk without a fast-path record was hashed and is now present.
	Verified
)

func (k EventKind) String() string {
	switch k {
	case Quarantined:
		return "quarantined"
	case Evicted:
		return "evicted"
	case Verified:
		return "verified"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change to the set of present blobs.
type Event struct {
	Kind   EventKind
	SHA256 string
	Size   int64
	Err    error // for Quarantined: why
}

type blob struct {
	size  int64
	mtime int64  // unix ns at install, for the boot fast path
	use   uint64 // logical LRU clock; higher is more recent
}

// Cache is the blob cache. Safe for concurrent use.
type Cache struct {
	cfg Config

	mu            sync.Mutex
	closed        bool
	present       map[string]*blob // verified, servable
	unverified    map[string]int64 // on disk, waiting for a full hash before it is served
	partials      map[string]int64 // idle partial files: bytes on disk
	writing       map[string]int64 // open writers: declared size (reserved against the quota)
	pinned        map[string]bool
	clock         uint64
	used          int64 // present + partials + writing
	quarantine    int   // blobs quarantined since Open
	verified      int   // blobs re-hashed since Open
	verifiedBytes int64
	verifyQ       []string
	verifyKick    chan struct{}
	j             *journal
	// journalLimit: appended journal bytes that trigger a compaction (defaultJournalLimit; tests lower it).
	journalLimit int64
}

// Open opens the cache at cfg.Dir, recovering from any crash: it reads the journal, trusts blobs whose size and mtime
// match it, queues the others for hashing (not served until Serve has verified them), keeps partial files for
// resume and compacts the journal. Run Serve to verify in the background.
func Open(cfg Config) (*Cache, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{"blobs", "partial", "quarantine"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	c := &Cache{
		cfg:          cfg,
		present:      map[string]*blob{},
		unverified:   map[string]int64{},
		partials:     map[string]int64{},
		writing:      map[string]int64{},
		pinned:       map[string]bool{},
		verifyKick:   make(chan struct{}, 1),
		journalLimit: defaultJournalLimit,
	}
	recs, err := readJournal(c.journalPath())
	if err != nil {
		return nil, err
	}
	if err := c.scan(recs); err != nil {
		return nil, err
	}
	if c.j, err = compactJournal(c.journalPath(), c.present); err != nil {
		return nil, err
	}
	// Unverified blobs first: they are unavailable until hashed. Then every fast-path blob, least recently used
	// last so that what plays soonest is checked first.
	for sha := range c.unverified {
		c.verifyQ = append(c.verifyQ, sha)
	}
	slices.Sort(c.verifyQ)
	fast := make([]string, 0, len(c.present))
	for sha := range c.present {
		fast = append(fast, sha)
	}
	slices.SortFunc(fast, func(a, b string) int { return -cmpU64(c.present[a].use, c.present[b].use) })
	c.verifyQ = append(c.verifyQ, fast...)
	return c, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *Cache) journalPath() string        { return filepath.Join(c.cfg.Dir, "index.log") }
func (c *Cache) blobPath(sha string) string { return filepath.Join(c.cfg.Dir, "blobs", sha[:2], sha) }
func (c *Cache) partialPath(sha string) string {
	return filepath.Join(c.cfg.Dir, "partial", sha)
}

// scan walks blobs/ and partial/ and sorts what it finds against the journal records.
func (c *Cache) scan(recs map[string]*blob) error {
	root := filepath.Join(c.cfg.Dir, "blobs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if !ValidSHA256(name) || filepath.Base(filepath.Dir(p)) != name[:2] {
			c.cfg.Logger.Warn("cache: removing stray file", "path", p)
			return os.Remove(p)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if r := recs[name]; r != nil && r.size == fi.Size() && r.mtime == fi.ModTime().UnixNano() {
			c.present[name] = r
			c.used += r.size
			c.clock = max(c.clock, r.use)
			return nil
		}
		c.unverified[name] = fi.Size()
		c.used += fi.Size()
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: scan blobs: %w", err)
	}
	ents, err := os.ReadDir(filepath.Join(c.cfg.Dir, "partial"))
	if err != nil {
		return fmt.Errorf("cache: scan partials: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(c.cfg.Dir, "partial", e.Name())
		fi, err := e.Info()
		if err != nil || !ValidSHA256(e.Name()) || !fi.Mode().IsRegular() {
			_ = os.RemoveAll(p)
			continue
		}
		if c.present[e.Name()] != nil || c.unverified[e.Name()] > 0 {
			_ = os.Remove(p) // installed already; the rename raced a crash
			continue
		}
		c.partials[e.Name()] = fi.Size()
		c.used += fi.Size()
	}
	return nil
}

// Close stops accepting work and closes the journal. Writers still open fail on their next call.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.j.close()
}

// ValidSHA256 reports whether s is a sha256 in lowercase hex, the only form the cache accepts as a name.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// Has reports whether sha is present and servable.
func (c *Cache) Has(sha string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.present[sha] != nil
}

// List returns the present blobs, sorted.
func (c *Cache) List() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.present))
	for sha := range c.present {
		out = append(out, sha)
	}
	slices.Sort(out)
	return out
}

// Open returns the blob for reading and marks it used (for LRU). The caller closes the file. An evicted or
// quarantined blob stays readable through a file already open (POSIX unlink semantics).
func (c *Cache) Open(sha string) (*os.File, error) {
	c.mu.Lock()
	b := c.present[sha]
	if b == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sha)
	}
	c.clock++
	b.use = c.clock
	use := b.use
	c.mu.Unlock()
	f, err := os.Open(c.blobPath(sha))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	// A lost use record only makes LRU order slightly staler after a reboot: no fsync.
	c.j.append(fmt.Sprintf("U %s %d\n", sha, use), false)
	if c.j.grown(c.journalLimit) {
		c.compact()
	}
	return f, nil
}

// PartialSize is how many bytes of sha an earlier download left on disk (0 if none).
func (c *Cache) PartialSize(sha string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partials[sha]
}

// SetPinned replaces the set of pinned blobs (and partial downloads): those are never evicted. The caller pins the
// current and emergency content.
func (c *Cache) SetPinned(shas []string) {
	m := make(map[string]bool, len(shas))
	for _, s := range shas {
		m[s] = true
	}
	c.mu.Lock()
	c.pinned = m
	c.mu.Unlock()
}

// Stats is a snapshot for status pages.
type Stats struct {
	Blobs, Unverified, Partials, Writing, Pinned int
	BlobBytes, UsedBytes, QuotaBytes             int64
	PendingVerify, QuarantinedSinceOpen          int
	// VerifiedSinceOpen and VerifiedBytes count the blobs (and their bytes) re-hashed since Open, good or bad:
	// the progress of boot verification.
	VerifiedSinceOpen int
	VerifiedBytes     int64
}

// Stats returns counts and bytes.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Blobs: len(c.present), Unverified: len(c.unverified), Partials: len(c.partials),
		Writing: len(c.writing), Pinned: len(c.pinned), UsedBytes: c.used, QuotaBytes: c.cfg.QuotaBytes,
		PendingVerify: len(c.verifyQ), QuarantinedSinceOpen: c.quarantine, VerifiedSinceOpen: c.verified,
		VerifiedBytes: c.verifiedBytes}
	for _, b := range c.present {
		s.BlobBytes += b.size
	}
	return s
}

func (c *Cache) notify(evs []Event) {
	if c.cfg.Notify == nil {
		return
	}
	for _, e := range evs {
		c.cfg.Notify(e)
	}
}

// syncDir fsyncs a directory so that a rename or unlink in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
