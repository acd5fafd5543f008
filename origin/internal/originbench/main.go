package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/google/uuid"
	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/embedded"
	"github.com/lomuz/lomuz/origin/catalog/pgstore"
)

// Fixture is what `serve` writes for the drivers: how to make each kind of sync request.
type Fixture struct {
	URL        string `json:"url"`
	Credential string `json:"credential"`
	OriginKey  []byte `json:"origin_key"`
	Assets     int    `json:"assets"`
	Changed    int    `json:"changed"`
	// NoChange is the body of a sync that finds nothing new; Delta asks from the revision before the last
	// Changed assets were rewritten. Both are for the first device.
	NoChange json.RawMessage `json:"no_change"`
	Delta    json.RawMessage `json:"delta"`
	// Devices are every enrolled device with its no-change sync body, for the load driver.
	Devices []FixtureDevice `json:"devices"`
}

// FixtureDevice is one enrolled device of the fixture.
type FixtureDevice struct {
	Credential string          `json:"credential"`
	NoChange   json.RawMessage `json:"no_change"`
}

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: originbench serve|hello|measure [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "hello":
		err = hello(ctx, os.Args[2:])
	case "measure":
		err = measure(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// hello is the baseline: the smallest Go JSON server, answering a POST with a small JSON object.
func hello(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hello", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address")
	portFile := fs.String("port-file", "", "write the bound address here")
	_ = fs.Parse(args)
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*portFile, []byte(ln.Addr().String()), 0o644); err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"hello": "world", "revision": 1})
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serve seeds a catalog (one tenant, one store and zone, an enrolled device, `assets` ready assets, then
// `changed` of them rewritten), writes the fixture and serves until killed.
func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address")
	pg := fs.String("postgres", "", "PostgreSQL URL (empty: embedded catalog in --dir)")
	dir := fs.String("dir", "", "data directory")
	nAssets := fs.Int("assets", 100000, "assets in the catalog")
	nChanged := fs.Int("changed", 100, "assets rewritten after the delta's base revision")
	nStores := fs.Int("stores", 50, "stores")
	perStore := fs.Int("devices-per-store", 4, "devices enrolled in each store")
	out := fs.String("fixture", "", "write the fixture JSON here")
	flushers := fs.Int("flushers", 0, "origin.Config.SyncLogFlushers (0: default)")
	wrkOut := fs.String("wrk-script", "", "write a wrk Lua script sending no-change syncs of random devices here")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address (profiling the fixture)")
	_ = fs.Parse(args)
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}

	var cat catalog.Store
	var err error
	if *pg != "" {
		cfg := pgstore.DefaultConfig(*pg)
		cfg.MaxConns = 32
		cat, err = pgstore.Open(ctx, cfg)
	} else {
		cat, err = embedded.Open(embedded.DefaultConfig(*dir + "/catalog"))
	}
	if err != nil {
		return err
	}
	defer cat.Close()
	bs, err := dirblob.New(dirblob.DefaultConfig(*dir + "/blobs"))
	if err != nil {
		return err
	}
	key, err := origin.LoadKey(*dir + "/key")
	if err != nil {
		return err
	}
	cfg := origin.DefaultConfig()
	cfg.MaxInFlight = 4096
	cfg.SyncLogFlushers = *flushers
	srv, err := origin.New(cfg, cat, bs, key)
	if err != nil {
		return err
	}
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(sctx, ln) }()

	fx, err := seed(ctx, cat, key, url, *nAssets, *nChanged, *nStores, *perStore)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if *wrkOut != "" {
		if err := os.WriteFile(*wrkOut, wrkScript(fx), 0o644); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(fx)
	if err := os.WriteFile(*out+".tmp", b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		return err
	}
	return <-done
}

func seed(ctx context.Context, cat catalog.Store, key []byte, url string, nAssets, nChanged, nStores, perStore int) (*Fixture, error) {
	tenant, token, err := origin.Bootstrap(ctx, cat, "Bench chain", "bench")
	if err != nil {
		return nil, err
	}
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: []string{url}, Credential: token})
	if err != nil {
		return nil, err
	}
	assets := make([]catalog.Asset, nAssets)
	for i := range assets {
		sum := sha256.Sum256([]byte(fmt.Sprintf("bench asset %d", i)))
		sha := hex.EncodeToString(sum[:])
		assets[i] = catalog.Asset{ID: uuid.NewString(), TenantID: tenant, Kind: catalog.KindMusic,
			Title: fmt.Sprintf("Track %06d", i), Artist: fmt.Sprintf("Artist %03d", i%500), SHA256: sha,
			Size: 2_400_000, DurationMS: 180_000, Codec: "vorbis", State: catalog.AssetReady, MasterKey: "sha256/" + sha,
			RenditionSHA256: sha, RenditionSize: 2_400_000}
	}
	t0 := time.Now()
	if err := origin.ImportReadyAssets(ctx, cat, key, tenant, assets, 1000); err != nil {
		return nil, err
	}
	log.Printf("seeded %d assets in %s", nAssets, time.Since(t0).Round(time.Millisecond))
	type enrolled struct{ cred, store string }
	var devs []enrolled
	for s := 0; s < nStores; s++ {
		st, err := admin.CreateStore(ctx, api.StoreInput{Name: fmt.Sprintf("Store %d", s), TimeZone: "America/Sao_Paulo"})
		if err != nil {
			return nil, err
		}
		z, err := admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: "Main"})
		if err != nil {
			return nil, err
		}
		for d := 0; d < perStore; d++ {
			tok, err := admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: st.ID, ZoneID: z.ID})
			if err != nil {
				return nil, err
			}
			_, pub, _ := p2pcrypto.GenerateEd25519Key(rand.Reader)
			pk, _ := p2pcrypto.MarshalPublicKey(pub)
			enr, err := admin.WithCredential("", nil).Enroll(ctx, api.EnrollRequest{Token: tok.Token, PeerPublicKey: pk})
			if err != nil {
				return nil, err
			}
			devs = append(devs, enrolled{enr.Credential, st.ID})
		}
	}
	base, err := cat.Revision(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// The delta: nChanged assets rewritten (a new title), one transaction.
	for i := range assets[:nChanged] {
		assets[i].Title += " (remastered)"
	}
	if err := origin.ImportReadyAssets(ctx, cat, key, tenant, assets[:nChanged], nChanged); err != nil {
		return nil, err
	}
	// Every device is up to date: its no-change body carries its store's revision and state hash, read from the
	// catalog (a full sync per device would verify every record, which is the device's work, not the fixture's).
	fx := &Fixture{URL: url, Assets: nAssets, Changed: nChanged}
	for i, dev := range devs {
		st, err := cat.SyncState(ctx, tenant, dev.store, 0)
		if err != nil {
			return nil, err
		}
		nc, _ := json.Marshal(api.SyncRequest{Revision: st.Revision, StateHash: st.Hash.Hex(), AppVersion: "bench",
			Inventory: api.Inventory{CachedAssets: nAssets}})
		fx.Devices = append(fx.Devices, FixtureDevice{Credential: dev.cred, NoChange: nc})
		if i == 0 {
			fx.Credential, fx.NoChange = dev.cred, nc
		}
	}
	fx.OriginKey = key[32:] // the public half of the ed25519 private key
	fx.Delta, _ = json.Marshal(api.SyncRequest{Revision: base, AppVersion: "bench"})
	return fx, nil
}

// wrkScript makes wrk send no-change syncs, each from a device drawn at random.
func wrkScript(fx *Fixture) []byte {
	var b bytes.Buffer
	b.WriteString("local devs = {\n")
	for _, d := range fx.Devices {
		fmt.Fprintf(&b, "  {%q, %q},\n", "Bearer "+d.Credential, string(d.NoChange))
	}
	b.WriteString(`}
request = function()
  local d = devs[math.random(#devs)]
  return wrk.format("POST", "/v1/device/sync", {["Content-Type"] = "application/json", ["Authorization"] = d[1]}, d[2])
end
`)
	return b.Bytes()
}

// measure drives delta and full syncs one at a time and prints their latency and size, one "key value" per line.
func measure(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	path := fs.String("fixture", "", "fixture JSON")
	nDelta := fs.Int("delta-runs", 2000, "delta syncs to time")
	nFull := fs.Int("full-runs", 20, "full syncs to time")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	var fx Fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	// post sends one sync asking for gzip and returns the wire bytes, the decoded bytes and the time until the
	// whole answer arrived; it then decompresses it and checks every signature as a device does, outside the
	// time (the device's cost, added to verifyTime).
	var verifyTime time.Duration
	post := func(body []byte) (wire, plain int, d time.Duration, err error) {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fx.URL+"/v1/device/sync", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.Credential)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		wire, d = len(b), time.Since(t0)
		t1 := time.Now()
		defer func() { verifyTime += time.Since(t1) }()
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return 0, 0, 0, err
			}
			if b, err = io.ReadAll(zr); err != nil {
				return 0, 0, 0, err
			}
		}
		var sm api.SignedManifest
		if err := json.Unmarshal(b, &sm); err != nil {
			return 0, 0, 0, err
		}
		if _, err := api.VerifyManifest(fx.OriginKey, sm); err != nil {
			return 0, 0, 0, err
		}
		return wire, len(b), d, nil
	}
	res := map[string]any{}
	ncWire, ncPlain, _, err := post(fx.NoChange)
	if err != nil {
		return fmt.Errorf("no-change sync: %w", err)
	}
	res["nochange_wire_bytes"], res["nochange_plain_bytes"] = ncWire, ncPlain
	var lat []time.Duration
	var dWire, dPlain int
	for i := 0; i < *nDelta; i++ {
		w, p, d, err := post(fx.Delta)
		if err != nil {
			return fmt.Errorf("delta sync: %w", err)
		}
		dWire, dPlain, lat = w, p, append(lat, d)
	}
	res["delta_p50_ms"], res["delta_p99_ms"] = pct(lat, 50), pct(lat, 99)
	res["delta_wire_bytes"], res["delta_plain_bytes"] = dWire, dPlain
	res["delta_bytes_per_entry"] = float64(dWire-ncWire) / float64(fx.Changed)
	res["changed"], res["assets"] = fx.Changed, fx.Assets
	full, _ := json.Marshal(api.SyncRequest{})
	lat = lat[:0]
	verifyTime = 0
	var fWire, fPlain int
	for i := 0; i < *nFull; i++ {
		w, p, d, err := post(full)
		if err != nil {
			return fmt.Errorf("full sync: %w", err)
		}
		fWire, fPlain, lat = w, p, append(lat, d)
	}
	res["full_p50_ms"], res["full_p99_ms"] = pct(lat, 50), pct(lat, 99)
	if *nFull > 0 {
		res["full_verify_ms"] = float64(verifyTime.Milliseconds()) / float64(*nFull)
	}
	res["full_wire_bytes"], res["full_plain_bytes"] = fWire, fPlain
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("%s %v\n", k, res[k])
	}
	return nil
}

// pct is the p-th percentile of ds in milliseconds (nearest rank).
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return float64(s[i-1].Microseconds()) / 1000
}
