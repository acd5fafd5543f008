package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/audio"
	"github.com/lomuz/lomuz/player/cache"
	"github.com/lomuz/lomuz/player/download"
	"github.com/lomuz/lomuz/player/store"
)

// DeviceConfig configures one `lomuz node` process.
type DeviceConfig struct {
	// DataDir holds the device database, the blob cache, the peer key and the state snapshot.
	DataDir string
	// Origins are origin base URLs, tried in order with failover.
	Origins []string
	// Token is the one-time enrollment token, needed only on the first start.
	Token string
	// Name is how the device is listed in the panel.
	Name string
	// Output is "null", "wav:PATH" or "speaker" (binaries built with -tags speaker).
	Output string
	// StatusListen is the status and metrics address; loopback by default, empty disables it.
	StatusListen string
	// CacheQuota bounds the blob cache in bytes (0: the disk is the limit); BytesPerSec caps downloads (0: none).
	CacheQuota  int64
	BytesPerSec int64
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none): on a small device the collector then
	// works harder instead of letting the heap grow to twice its live size. It is process-wide, so it is for a
	// process that runs one node (`lomuz node` sets 48 MiB), not for the demo or tests.
	MemoryLimit int64
	// ClockSkew shifts the wall clock the node reads (diagnostics and tests of a wrong clock); zero: none.
	ClockSkew ClockSkew
	// Core tunes the core; identity fields are filled from enrollment.
	Core   Config
	Logger *slog.Logger
	// OnReady, when set, is called once the node runs, with its Runner (tests and `lomuz demo` read status).
	OnReady func(*Runner)
	// Mesh, when set, attaches the node to its store's LAN once enrolled: it gets the enrollment (device id, mesh
	// key, peer key), the cache to serve blobs from and where to keep a rotated mesh key. Nil runs the node alone.
	Mesh func(en Enrollment, env MeshEnv) (Mesh, error)
}

// releaseEpoch is a time before which this build cannot be running: a device booting with its clock reset to 1970
// still knows true time is later than this, before it has ever synced.
var releaseEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// DefaultDeviceConfig is a node on loopback status, null output.
func DefaultDeviceConfig() DeviceConfig {
	return DeviceConfig{DataDir: "lomuz-node", Output: "null", StatusListen: "127.0.0.1:7071", Core: DefaultConfig()}
}

// validate rejects settings that cannot work, before anything is opened or enrolled.
func (c *DeviceConfig) validate() error {
	if len(c.Origins) == 0 {
		return errors.New("node: at least one origin URL is required")
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("node: origin %q is not an http(s) URL", o)
		}
	}
	switch {
	case c.Output == "" || c.Output == "null" || c.Output == "speaker":
	case strings.HasPrefix(c.Output, "wav:") && len(c.Output) > len("wav:"):
	default:
		return fmt.Errorf("node: output %q: want null, wav:PATH or speaker", c.Output)
	}
	if c.StatusListen != "" {
		if _, _, err := net.SplitHostPort(c.StatusListen); err != nil {
			return fmt.Errorf("node: status address %q: %w", c.StatusListen, err)
		}
	}
	if c.CacheQuota < 0 || c.BytesPerSec < 0 || c.MemoryLimit < 0 {
		return errors.New("node: cache quota and bandwidth must be >= 0")
	}
	return nil
}

// Enrollment is what a device keeps from enrolling.
type Enrollment struct {
	api.EnrollResponse
	// PeerKey is the device's own ed25519 private key (its libp2p identity), generated before enrolling.
	PeerKey ed25519.PrivateKey `json:"peer_key"`
	// MeshFromPeer says Mesh (rotated since enrollment) was handed over by a peer rather than synced from origin.
	MeshFromPeer bool `json:"mesh_from_peer,omitempty"`
}

// MeshEnv is what a store mesh gets from its device besides the enrollment.
type MeshEnv struct {
	Blobs BlobOpener
	// SaveKey keeps a rotated mesh key across restarts (fromPeer: handed over by a peer, not synced from origin).
	// Safe for concurrent use.
	SaveKey func(m api.Mesh, fromPeer bool) error
}

// enroll returns the saved enrollment, or enrolls with the token and saves it. The device's key is saved before
// origin is asked: a node killed after origin enrolled it but before the answer was saved asks again with the
// same token and key, and origin hands the same enrollment back.
func enroll(ctx context.Context, st *store.Store, client *api.Client, cfg DeviceConfig) (Enrollment, error) {
	var e Enrollment
	if b, err := st.Enrollment(); err == nil && len(b) > 0 {
		if err := json.Unmarshal(b, &e); err != nil {
			return e, fmt.Errorf("node: saved enrollment is corrupt: %w", err)
		}
		if e.DeviceID != "" {
			return e, nil
		}
	}
	if cfg.Token == "" {
		return e, errors.New("node: not enrolled: pass an enrollment token (--token) on the first start")
	}
	priv := e.PeerKey
	if len(priv) != ed25519.PrivateKeySize {
		var err error
		if _, priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return e, err
		}
		if err := saveEnrollment(st, Enrollment{PeerKey: priv}); err != nil {
			return e, err
		}
	}
	lk, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		return e, err
	}
	pub, err := crypto.MarshalPublicKey(lk.GetPublic())
	if err != nil {
		return e, err
	}
	name := cfg.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	resp, err := client.Enroll(ctx, api.EnrollRequest{Token: cfg.Token, PeerPublicKey: pub, Name: name,
		AppVersion: cfg.Core.AppVersion})
	if err != nil {
		return e, fmt.Errorf("node: enrollment: %w", err)
	}
	e = Enrollment{EnrollResponse: resp, PeerKey: priv}
	return e, saveEnrollment(st, e)
}

// saveEnrollment keeps e durably: at enrollment, and whenever the mesh key rotates.
func saveEnrollment(st *store.Store, e Enrollment) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return st.SetEnrollment(b)
}

// openSink opens the audio output named by spec.
func openSink(spec string) (audio.Sink, func() error, error) {
	const rate = beep.SampleRate(44100)
	switch {
	case spec == "" || spec == "null":
		return audio.NewNullSink(rate, audio.SystemClock{}), func() error { return nil }, nil
	case strings.HasPrefix(spec, "wav:"):
		s, err := audio.CreateWAV(strings.TrimPrefix(spec, "wav:"), rate)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case spec == "speaker":
		return openSpeaker(rate)
	}
	return nil, nil, fmt.Errorf("node: output %q: want null, wav:PATH or speaker", spec)
}

// RunDevice runs one node until ctx is done: enrolls on first start, opens its database, cache, downloads and
// audio, restores what it persisted, and serves status.
func RunDevice(ctx context.Context, cfg DeviceConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	// The guard releases its reserve before the database opens if the disk is already full (a restart on a full
	// disk), and allocates the log file the database creates.
	guard := newDiskGuard(cfg.DataDir, filepath.Join(cfg.DataDir, "db"), log)
	guard.check()
	st, err := store.Open(store.DefaultConfig(filepath.Join(cfg.DataDir, "db")))
	if err != nil {
		return err
	}
	defer st.Close()
	guard.check()
	httpc := &http.Client{Timeout: 0}
	client, err := api.NewClient(api.ClientConfig{BaseURLs: cfg.Origins, HTTPClient: httpc})
	if err != nil {
		return err
	}
	en, err := enroll(ctx, st, client, cfg)
	if err != nil {
		return err
	}
	client = client.WithCredential(en.Credential, ed25519.PublicKey(en.OriginPublicKey))
	log.Info("enrolled", "device", en.DeviceID, "store", en.StoreID, "zone", en.ZoneID)

	cc := cache.DefaultConfig(filepath.Join(cfg.DataDir, "blobs"))
	cc.QuotaBytes, cc.Logger = cfg.CacheQuota, log
	lost := make(chan cache.Event, 64)
	cc.Notify = func(e cache.Event) {
		select {
		case lost <- e:
		default: // the loop re-reads the cache's list on the next boot; a dropped notice costs a late re-fetch
		}
	}
	blobs, err := cache.Open(cc)
	if err != nil {
		return err
	}
	defer blobs.Close()
	dc := download.DefaultConfig()
	dc.BytesPerSec = cfg.BytesPerSec
	dl, err := download.New(blobs, dc)
	if err != nil {
		return err
	}
	sink, closeSink, err := openSink(cfg.Output)
	if err != nil {
		return err
	}
	defer closeSink()
	ec := audio.DefaultEngineConfig()
	engine, err := audio.NewEngine(ec, sink)
	if err != nil {
		return err
	}

	persist := &DiskPersist{Store: st, Dir: cfg.DataDir, Tenant: en.TenantID}
	restored, warns, err := persist.Load()
	if err != nil {
		return err
	}
	for _, w := range warns {
		log.Warn("restoring state", "err", w)
	}
	cc2 := cfg.Core
	cc2.Device, cc2.Tenant, cc2.Store, cc2.Zone = en.DeviceID, en.TenantID, en.StoreID, en.ZoneID
	cc2.TimeZone, cc2.OriginKey = en.TimeZone, ed25519.PublicKey(en.OriginPublicKey)
	cc2.TimeState, cc2.History = restored.Time, restored.History
	if cc2.Time.Epoch.IsZero() {
		cc2.Time.Epoch = releaseEpoch
	}
	if cfg.Mesh == nil {
		// Alone there is no mesh to wait for: waiting would only delay the first downloads (and after every
		// restart, so a node restarted often never got past it).
		cc2.Settle = 0
	}
	// An output faster than real time (WAV, unpaced null) is told the next track as soon as one starts.
	cc2.PrepareAtStart = !sink.Paced()
	if cc2.Seed == 0 {
		cc2.Seed = uint64(time.Now().UnixNano())
	}
	core, err := New(cc2)
	if err != nil {
		return err
	}
	if restored.Snapshot != nil {
		if err := core.Restore(restored.Snapshot); err != nil {
			log.Warn("state snapshot not restored; peers and origin will resend it", "err", err)
		}
	}
	if err := core.RestorePlays(restored.Plays); err != nil {
		return fmt.Errorf("node: restoring the play outbox: %w", err)
	}
	var mesh Mesh
	if cfg.Mesh != nil {
		save := func(m api.Mesh, fromPeer bool) error {
			e := en
			e.Mesh, e.MeshFromPeer = m, fromPeer
			return saveEnrollment(st, e)
		}
		if mesh, err = cfg.Mesh(en, MeshEnv{Blobs: cacheBlobs{blobs}, SaveKey: save}); err != nil {
			return fmt.Errorf("node: joining the store LAN: %w", err)
		}
		if snap, err := core.Snapshot(); err == nil {
			mesh.SetLocalState(snap)
		}
	}
	start := time.Now()
	wall := time.Now
	if !cfg.ClockSkew.IsZero() {
		log.Warn("wall clock skewed on purpose", "skew", cfg.ClockSkew.String())
		skew := cfg.ClockSkew
		wall = func() time.Time { return skew.Wall(start, time.Since(start)) }
	}
	runner, err := NewRunner(core, Parts{
		Mesh:   mesh,
		Origin: client, Audio: engine, Downloads: dl, Blobs: cacheBlobs{blobs}, Persist: persist, Logger: log,
		EngineTargetLUFS: ec.TargetLUFS,
		FreeDisk:         guard.Free,
		Now:              func() Instant { return Instant{Mono: time.Since(start), Wall: wall()} },
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 5)
	goServe := func(name string, f func(context.Context) error) {
		go func() {
			err := f(ctx)
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("%s: %w", name, err)
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	n := 0
	for name, f := range map[string]func(context.Context) error{
		"downloads": dl.Serve, "cache": blobs.Serve, "audio": engine.Serve, "disk guard": guard.Serve,
		"cache notices": func(ctx context.Context) error { return forwardLost(ctx, lost, runner) },
	} {
		goServe(name, f)
		n++
	}
	if cfg.StatusListen != "" {
		srv, err := newStatusServer(cfg.StatusListen, runner)
		if err != nil {
			cancel()
			drain(errs, n)
			return err
		}
		log.Info("status", "url", "http://"+srv.addr+"/status")
		goServe("status", srv.serve)
		n++
	}
	goServe("progress bar", func(ctx context.Context) error {
		// Draws only when stdout is a terminal.
		download.NewBar(os.Stdout).Run(ctx, dl, 500*time.Millisecond)
		return nil
	})
	n++
	goServe("systemd", func(ctx context.Context) error { return notifySystemd(ctx, runner, log) })
	n++
	if cfg.OnReady != nil {
		cfg.OnReady(runner)
	}
	err = runner.Serve(ctx)
	cancel()
	if e := drain(errs, n); err == nil {
		err = e
	}
	return err
}

func drain(errs chan error, n int) error {
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// forwardLost turns the cache's notices into core events through the runner's loop.
func forwardLost(ctx context.Context, lost <-chan cache.Event, r *Runner) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-lost:
			if e.Kind == cache.Quarantined || e.Kind == cache.Evicted {
				r.inject(ctx, BlobLost{SHA256: e.SHA256, Reason: e.Kind.String()})
			} else if e.Kind == cache.Verified {
				r.inject(ctx, BlobsPresent{SHA256: []string{e.SHA256}})
			}
		}
	}
}

// cacheBlobs adapts *cache.Cache to Blobs.
type cacheBlobs struct{ c *cache.Cache }

func (b cacheBlobs) List() []string                     { return b.c.List() }
func (b cacheBlobs) Has(sha string) bool                { return b.c.Has(sha) }
func (b cacheBlobs) SetPinned(shas []string)            { b.c.SetPinned(shas) }
func (b cacheBlobs) Open(sha string) (cacheFile, error) { return b.c.Open(sha) }

// freeDisk returns the bytes available to this process on the file system holding dir, or -1.
func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
