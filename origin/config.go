package origin

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config tunes one origin server. Start from DefaultConfig and change what differs; New calls validate.
type Config struct {
	// Listen is the TCP address Serve binds. Loopback by default: exposing origin is a deliberate choice.
	Listen string
	// MaxInFlight bounds concurrent device requests (enroll, sync, plays). Past it, origin answers 429 with
	// Retry-After at once rather than queueing: after an outage every device of a chain syncs at the same time,
	// and a queue would only turn overload into timeouts. 0 disables shedding.
	MaxInFlight int
	// RetryAfter is the base delay (seconds) sent with a 429; each answer adds up to RetryAfter of jitter so shed
	// devices do not come back together. Within [1, 3600].
	RetryAfter int
	// SyncInterval is the delay (seconds) suggested to devices between syncs; they add their own jitter.
	SyncInterval int
	// MaxUploadBytes bounds one uploaded asset master, in bytes.
	MaxUploadBytes int64
	// EnrollTokenTTL is how long a new enrollment token stays redeemable when the request does not say.
	EnrollTokenTTL time.Duration
	// CDNPrefix, when set, makes download URLs and /v1/blobs/ redirects point at <CDNPrefix><sha256>, a CDN in
	// front of this origin (or of the bucket). Must be an absolute http(s) URL.
	CDNPrefix string
	// Presign makes download URLs and /v1/blobs/ redirects presigned GETs of the blob store, when the store can
	// presign (S3). Ignored with CDNPrefix set.
	Presign bool
	// PresignTTL is the validity of a presigned URL. Devices fetch within minutes of a sync; a longer TTL only
	// widens the window a leaked URL is good for.
	PresignTTL time.Duration
	// AuthCacheTTL bounds how long a verified device credential or admin token is remembered by one server
	// process, so the no-change sync does not read the devices table every time. A revoked credential keeps
	// working for at most this long on a server that saw it just before. Negative disables the cache.
	AuthCacheTTL time.Duration
	// StateCacheTTL bounds how long one server reuses a (revision, state hash) read for a store. A device that
	// reports a newer revision than the cached one always bypasses it, so no device is ever sent backwards.
	// Negative disables the cache.
	StateCacheTTL time.Duration
	// SyncLogBatch and SyncLogWindow group sync-log and telemetry writes: up to SyncLogBatch reports, or what
	// arrived within SyncLogWindow (0: none; write as soon as the writer is free), are written in one RecordSyncs
	// call; reports that arrive while the writer is busy join the next batch, so batches grow with load without a
	// window. The sync answer waits for its batch to be durable, so an acknowledged sync's record is never lost.
	SyncLogBatch  int
	SyncLogWindow time.Duration
	// SyncLogFlushers is how many batches may be written at once, within [1, 64]. One is best for both catalogs:
	// batches of concurrent flushers update the same device rows, so they wait on each other's row locks (and
	// deadlock) in PostgreSQL and conflict in badger; measured here with 20 devices on PostgreSQL, 4 flushers gave
	// 84 no-change syncs/s and 1 flusher 2,348.
	SyncLogFlushers int
	// PageSize is the records read per catalog call while building a manifest.
	PageSize int
	// ReadHeaderTimeout, ReadTimeout, IdleTimeout and WriteTimeout protect the HTTP server from slow clients.
	// ReadTimeout bounds reading a whole request, body included, except on upload routes, whose bodies may take
	// longer while they keep arriving at MinUploadRate bytes/s or faster (see limits.go). WriteTimeout bounds the
	// whole answer, blob downloads included, so it is generous.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	MinUploadRate     int64
	IdleTimeout       time.Duration
	WriteTimeout      time.Duration
	// MaxConns bounds the connections served at once (keep-alive ones included); more wait in the kernel's
	// accept queue. It keeps file descriptors and memory for the catalog, blob files and the clients being
	// served when thousands connect at once or hold connections open. An open keep-alive connection costs
	// ~20 KiB of RSS (RELIABILITY.md). -1 disables the bound.
	MaxConns int
}

// DefaultConfig is a single-box origin on loopback.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		MaxInFlight:       512,
		RetryAfter:        30,
		SyncInterval:      600,
		MaxUploadBytes:    1 << 30,
		EnrollTokenTTL:    7 * 24 * time.Hour,
		PresignTTL:        15 * time.Minute,
		AuthCacheTTL:      2 * time.Second,
		StateCacheTTL:     250 * time.Millisecond,
		SyncLogBatch:      1024,
		SyncLogWindow:     0,
		SyncLogFlushers:   1,
		PageSize:          5000,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		MinUploadRate:     8 << 10,
		IdleTimeout:       120 * time.Second,
		WriteTimeout:      30 * time.Minute,
		MaxConns:          4096,
	}
}

// validate fills zero values from DefaultConfig and rejects nonsense.
func (c *Config) validate() error {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.MaxInFlight < 0 {
		return errors.New("origin: MaxInFlight must be >= 0")
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = d.RetryAfter
	}
	if c.RetryAfter < 1 || c.RetryAfter > 3600 {
		return fmt.Errorf("origin: RetryAfter %d outside [1, 3600] seconds", c.RetryAfter)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = d.SyncInterval
	}
	if c.SyncInterval < 10 || c.SyncInterval > 86400 {
		return fmt.Errorf("origin: SyncInterval %d outside [10, 86400] seconds", c.SyncInterval)
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = d.MaxUploadBytes
	}
	if c.MaxUploadBytes < 0 {
		return errors.New("origin: MaxUploadBytes must be > 0")
	}
	if c.EnrollTokenTTL == 0 {
		c.EnrollTokenTTL = d.EnrollTokenTTL
	}
	if c.PresignTTL == 0 {
		c.PresignTTL = d.PresignTTL
	}
	if c.EnrollTokenTTL < time.Minute || c.PresignTTL < time.Minute || c.PresignTTL > 7*24*time.Hour {
		return errors.New("origin: EnrollTokenTTL >= 1m and PresignTTL within [1m, 7d]")
	}
	if c.CDNPrefix != "" {
		u, err := url.Parse(c.CDNPrefix)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("origin: CDNPrefix %q is not an absolute http(s) URL", c.CDNPrefix)
		}
		if !strings.HasSuffix(c.CDNPrefix, "/") {
			c.CDNPrefix += "/"
		}
	}
	if c.AuthCacheTTL == 0 {
		c.AuthCacheTTL = d.AuthCacheTTL
	}
	if c.StateCacheTTL == 0 {
		c.StateCacheTTL = d.StateCacheTTL
	}
	if c.AuthCacheTTL > time.Minute || c.StateCacheTTL > 10*time.Second {
		return errors.New("origin: AuthCacheTTL at most 1m and StateCacheTTL at most 10s")
	}
	if c.SyncLogBatch == 0 {
		c.SyncLogBatch = d.SyncLogBatch
	}
	if c.SyncLogWindow == 0 {
		c.SyncLogWindow = d.SyncLogWindow
	}
	if c.SyncLogBatch < 1 || c.SyncLogBatch > 10000 || c.SyncLogWindow < 0 || c.SyncLogWindow > time.Second {
		return errors.New("origin: SyncLogBatch within [1, 10000] and SyncLogWindow within [0, 1s]")
	}
	if c.SyncLogFlushers == 0 {
		c.SyncLogFlushers = d.SyncLogFlushers
	}
	if c.SyncLogFlushers < 1 || c.SyncLogFlushers > 64 {
		return fmt.Errorf("origin: SyncLogFlushers %d outside [1, 64]", c.SyncLogFlushers)
	}
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.PageSize < 1 || c.PageSize > 10000 {
		return fmt.Errorf("origin: PageSize %d outside [1, 10000]", c.PageSize)
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.MinUploadRate == 0 {
		c.MinUploadRate = d.MinUploadRate
	}
	if c.MaxConns == 0 {
		c.MaxConns = d.MaxConns
	}
	if c.ReadHeaderTimeout < 0 || c.ReadTimeout < 0 || c.MinUploadRate < 1 || c.MaxConns < -1 {
		return errors.New("origin: ReadHeaderTimeout and ReadTimeout >= 0, MinUploadRate >= 1 and MaxConns >= -1")
	}
	return nil
}
