package loadgen

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin/api"
)

// Config says what load to put on which origins. Start from DefaultConfig.
type Config struct {
	// Origins are the base URLs every device is given, in order; the client fails over down the list.
	Origins []string
	// AdminToken is a director token of the tenant: it creates the stores, zones and enrollment tokens.
	AdminToken string
	// Devices is how many devices are enrolled and run; DevicesPerStore of them share a store (and so the
	// store's catalog state and device-key record), as a real chain's nodes do.
	Devices         int
	DevicesPerStore int
	// Duration is how long devices keep starting operations; an operation running at the end finishes (bounded
	// by AttemptTimeout).
	Duration time.Duration
	// Interval is a device's pause between operations, +-25% jitter. Real nodes sync every 10 minutes; a load test
	// compresses a fleet into a few devices by syncing often.
	Interval time.Duration
	// PlaysPerOp is how many new play events a device records before each operation. Every other operation is a
	// sync carrying the pending events, the others deliver them through /v1/device/plays.
	PlaysPerOp int
	// RequestTimeout bounds one HTTP call (all base URLs included); AttemptTimeout bounds one operation with its
	// retries; Backoff is the first wait between tries, doubled up to 1 s.
	RequestTimeout time.Duration
	AttemptTimeout time.Duration
	Backoff        time.Duration
}

// DefaultConfig is 20 devices, 4 per store, each operating every 200 ms for a minute.
func DefaultConfig() Config {
	return Config{Devices: 20, DevicesPerStore: 4, Duration: time.Minute, Interval: 200 * time.Millisecond,
		PlaysPerOp: 2, RequestTimeout: 10 * time.Second, AttemptTimeout: 30 * time.Second,
		Backoff: 50 * time.Millisecond}
}

func (c *Config) validate() error {
	switch {
	case len(c.Origins) == 0:
		return errors.New("loadgen: at least one origin base URL is required")
	case c.AdminToken == "":
		return errors.New("loadgen: an admin token is required to enroll devices")
	case c.Devices < 1 || c.Devices > 100_000:
		return fmt.Errorf("loadgen: devices %d outside [1, 100000]", c.Devices)
	case c.DevicesPerStore < 1:
		return errors.New("loadgen: devices per store must be >= 1")
	case c.Duration <= 0 || c.Interval <= 0:
		return errors.New("loadgen: duration and interval must be > 0")
	case c.PlaysPerOp < 0 || c.PlaysPerOp > api.MaxPlayEvents/4:
		return fmt.Errorf("loadgen: plays per operation %d outside [0, %d]", c.PlaysPerOp, api.MaxPlayEvents/4)
	case c.RequestTimeout <= 0 || c.AttemptTimeout < c.RequestTimeout || c.Backoff <= 0:
		return errors.New("loadgen: request timeout > 0, attempt timeout >= request timeout, backoff > 0")
	}
	return nil
}

// Result is what the fleet saw. Times are in milliseconds.
type Result struct {
	Origins  []string  `json:"origins"`
	TenantID string    `json:"tenant_id"`
	Devices  int       `json:"devices"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	// Requests counts HTTP calls by operation ("sync", "plays"), RequestErrors the failed ones by kind
	// (status-503, refused, reset, eof, timeout, other...). A call that failed over to another base URL and
	// succeeded there is one successful call.
	Requests      map[string]int64 `json:"requests"`
	RequestErrors map[string]int64 `json:"request_errors"`
	// Tries and TryErrors count single HTTP exchanges with one base URL, inside the client's failover: an error
	// here that the next base URL made up for is not a failed request. TryErrors is keyed "host kind".
	Tries     int64            `json:"tries"`
	TryErrors map[string]int64 `json:"try_errors"`
	// ErrorSamples holds one message of each error kind, to tell what happened.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// Syncs and Uploads are operations; Failed ones had no successful try within AttemptTimeout.
	Syncs         int64 `json:"syncs"`
	FailedSyncs   int64 `json:"failed_syncs"`
	Uploads       int64 `json:"uploads"`
	FailedUploads int64 `json:"failed_uploads"`
	// PlaysSent were created; PlaysAcked acknowledged by origin; the rest were pending at the end.
	PlaysSent  int64 `json:"plays_sent"`
	PlaysAcked int64 `json:"plays_acked"`
	// LongestErrorWindowMS is the longest error window of any device; an open window (no success after it before
	// the end) counts up to the end and sets LongestWindowOpen.
	LongestErrorWindowMS int64     `json:"longest_error_window_ms"`
	LongestWindowDevice  string    `json:"longest_window_device,omitempty"`
	LongestWindowStart   time.Time `json:"longest_window_start,omitzero"`
	LongestWindowOpen    bool      `json:"longest_window_open,omitempty"`
	// OpsPerSecond is the devices' operation rate over the run; OpLatency the time operations took, retries
	// included, by operation: a stall (origin waiting for its database) shows here rather than as an error.
	OpsPerSecond float64                `json:"ops_per_second"`
	OpLatency    map[string]Percentiles `json:"op_latency"`
	PerDevice    []DeviceResult         `json:"per_device"`
}

// DeviceResult is one device's side: its failed operations, longest error window and acknowledged play events.
type DeviceResult struct {
	DeviceID             string `json:"device_id"`
	StoreID              string `json:"store_id"`
	Syncs                int64  `json:"syncs"`
	FailedSyncs          int64  `json:"failed_syncs"`
	Uploads              int64  `json:"uploads"`
	FailedUploads        int64  `json:"failed_uploads"`
	LongestErrorWindowMS int64  `json:"longest_error_window_ms"`
	// AckedSeqs are the acknowledged play events' seqs as inclusive [from, to] ranges, ascending; with DeviceID
	// they identify the events.
	AckedSeqs [][2]uint64 `json:"acked_seqs"`
	Unacked   int         `json:"unacked"`
}

// Percentiles of a set of durations, in milliseconds.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Percentiles{N: len(ds), P50: ms(ds[len(ds)/2]), P99: ms(ds[len(ds)*99/100]), Max: ms(ds[len(ds)-1])}
}

// AckedIDs lists the device's acknowledged seqs one by one.
func (d DeviceResult) AckedIDs() []uint64 {
	var out []uint64
	for _, r := range d.AckedSeqs {
		for s := r[0]; s <= r[1]; s++ {
			out = append(out, s)
		}
	}
	return out
}

// Fleet is a set of enrolled devices, ready to run.
type Fleet struct {
	cfg    Config
	tenant string
	devs   []*device
	tries  *countingTransport
}

// Enroll creates cfg.DevicesPerStore-sized stores in the admin token's tenant and enrolls cfg.Devices devices in
// them. Any failure is an error: a load test on a half-enrolled fleet would measure something else.
func Enroll(ctx context.Context, cfg Config) (*Fleet, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tries := &countingTransport{next: &http.Transport{MaxIdleConnsPerHost: max(cfg.Devices, 2),
		IdleConnTimeout: 90 * time.Second}}
	hc := &http.Client{Timeout: cfg.RequestTimeout, Transport: tries}
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: cfg.Origins, Credential: cfg.AdminToken, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	devs, tenant, err := enroll(ctx, cfg, admin)
	if err != nil {
		return nil, err
	}
	tries.reset()
	return &Fleet{cfg: cfg, tenant: tenant, devs: devs, tries: tries}, nil
}

// Run runs every device for cfg.Duration, or until ctx ends, and returns what they saw. Call it once.
func (f *Fleet) Run(ctx context.Context) *Result {
	res := &Result{Origins: f.cfg.Origins, TenantID: f.tenant, Devices: len(f.devs), Started: time.Now(),
		Requests: map[string]int64{}, RequestErrors: map[string]int64{}, ErrorSamples: map[string]string{},
		OpLatency: map[string]Percentiles{}}
	stop := res.Started.Add(f.cfg.Duration)
	var wg sync.WaitGroup
	for _, d := range f.devs {
		wg.Go(func() { d.run(ctx, stop) })
	}
	wg.Wait()
	res.Ended = time.Now()
	lat := map[string][]time.Duration{}
	for _, d := range f.devs {
		d.addTo(res)
		for op, ds := range d.latency {
			lat[op] = append(lat[op], ds...)
		}
	}
	for op, ds := range lat {
		res.OpLatency[op] = percentiles(ds)
	}
	res.Tries, res.TryErrors = f.tries.snapshot()
	if s := res.Ended.Sub(res.Started).Seconds(); s > 0 {
		res.OpsPerSecond = float64(res.Syncs+res.Uploads) / s
	}
	return res
}

// enroll creates the stores (one zone each) and one enrollment token per device, and redeems them.
func enroll(ctx context.Context, cfg Config, admin *api.Client) ([]*device, string, error) {
	t, err := admin.Tenant(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("loadgen: reading the tenant: %w", err)
	}
	run := time.Now().UTC().Format("20060102T150405")
	var devs []*device
	var storeID, zoneID string
	for i := range cfg.Devices {
		if i%cfg.DevicesPerStore == 0 {
			st, err := admin.CreateStore(ctx, api.StoreInput{Name: fmt.Sprintf("load %s store %d", run, i/cfg.DevicesPerStore),
				TimeZone: "UTC"})
			if err != nil {
				return nil, "", fmt.Errorf("loadgen: creating a store: %w", err)
			}
			z, err := admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: "main"})
			if err != nil {
				return nil, "", fmt.Errorf("loadgen: creating a zone: %w", err)
			}
			storeID, zoneID = st.ID, z.ID
		}
		tok, err := admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: storeID, ZoneID: zoneID})
		if err != nil {
			return nil, "", fmt.Errorf("loadgen: creating an enrollment token: %w", err)
		}
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, "", err
		}
		pk, err := crypto.MarshalPublicKey(pub)
		if err != nil {
			return nil, "", err
		}
		en, err := admin.WithCredential("", nil).Enroll(ctx, api.EnrollRequest{Token: tok.Token, PeerPublicKey: pk,
			Name: fmt.Sprintf("load-%d", i), AppVersion: "loadgen"})
		if err != nil {
			return nil, "", fmt.Errorf("loadgen: enrolling device %d: %w", i, err)
		}
		devs = append(devs, newDevice(cfg, admin.WithCredential(en.Credential, en.OriginPublicKey), en))
	}
	return devs, t.ID, nil
}

// ranges folds ascending seqs into inclusive [from, to] ranges.
func ranges(seqs []uint64) [][2]uint64 {
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := [][2]uint64{}
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1][1]+1 == s {
			out[n-1][1] = s
			continue
		}
		out = append(out, [2]uint64{s, s})
	}
	return out
}

// countingTransport counts HTTP exchanges and their failures (network errors and 5xx) per base URL host.
type countingTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	n     int64
	fails map[string]int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	kind := ""
	switch {
	case err != nil:
		kind = errorKind(err)
	case resp.StatusCode >= 500:
		kind = "status-" + strconv.Itoa(resp.StatusCode)
	}
	c.mu.Lock()
	c.n++
	if kind != "" {
		c.fails[r.URL.Host+" "+kind]++
	}
	c.mu.Unlock()
	return resp, err
}

func (c *countingTransport) reset() {
	c.mu.Lock()
	c.n, c.fails = 0, map[string]int64{}
	c.mu.Unlock()
}

func (c *countingTransport) snapshot() (int64, map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, maps.Clone(c.fails)
}
