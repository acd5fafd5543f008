package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
)

// simOrigin is the real origin server (embedded badger catalog and blob directory) answering in-memory requests:
// every admin call, enrollment and sync goes through its HTTP handler and the api client, with no socket. Its
// clock is the simulation's true time.
type simOrigin struct {
	dep    *origin.Deployment
	srv    *origin.Server
	cancel context.CancelFunc
	done   chan error
	admin  *api.Client
	pub    ed25519.PublicKey
	ing    *simIngester
	rt     http.RoundTripper
}

// memTransport hands each request to the handler and returns the recorded answer. Safe for concurrent use.
type memTransport struct{ h http.Handler }

func (m memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// originBase is the base URL the in-memory clients use; it is never resolved or dialled.
const originBase = "http://origin.sim"

// simIngester stands in for the transcode pipeline: the uploaded master (a few bytes) is declared to be a
// delivery rendition of the size and length the scenario says, so that transfer times and play lengths are those
// of real content while the blob store holds little. It publishes through origin.FinishIngest like a worker.
type simIngester struct {
	mu     sync.Mutex
	specs  map[string]rendition // master sha256 -> declared rendition
	finish func(ctx context.Context, tenantID, assetID string, r origin.Rendition, failure error) error
}

type rendition struct {
	size int64
	dur  time.Duration
}

func (in *simIngester) declare(master string, r rendition) {
	in.mu.Lock()
	in.specs[master] = r
	in.mu.Unlock()
}

// Ingest implements origin.Ingester.
func (in *simIngester) Ingest(ctx context.Context, tenantID, assetID, masterKey string) error {
	sha, ok := strings.CutPrefix(masterKey, blob.ContentPrefix)
	in.mu.Lock()
	spec, known := in.specs[sha]
	in.mu.Unlock()
	if !ok || !known {
		return in.finish(ctx, tenantID, assetID, origin.Rendition{}, fmt.Errorf("sim: unknown master %s", masterKey))
	}
	return in.finish(ctx, tenantID, assetID, origin.Rendition{SHA256: sha, Size: spec.size, Codec: "vorbis",
		DurationMS: spec.dur.Milliseconds(), LoudnessLUFS: -14}, nil)
}

// openOrigin opens a deployment in dir and bootstraps one tenant whose director token the admin client uses.
func openOrigin(ctx context.Context, dir string, now func() time.Time) (*simOrigin, error) {
	dep, err := origin.Open(ctx, origin.DeployConfig{DataDir: dir})
	if err != nil {
		return nil, err
	}
	o := &simOrigin{dep: dep, ing: &simIngester{specs: map[string]rendition{}}}
	cfg := origin.DefaultConfig()
	cfg.MaxInFlight = 0 // the simulator models overload itself (origin_5xx); shedding draws from a global source
	cfg.AuthCacheTTL, cfg.StateCacheTTL = -1, -1
	srv, err := origin.New(cfg, dep.Catalog, dep.Blobs, dep.Key, origin.WithClock(now), origin.WithIngester(o.ing))
	if err != nil {
		dep.Close()
		return nil, err
	}
	o.srv, o.ing.finish = srv, srv.FinishIngest
	o.pub = srv.PublicKey()
	o.rt = memTransport{h: srv.Handler()}
	rctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan error, 1)
	go func() { o.done <- srv.Run(rctx) }() // the sync-log batcher: sync answers wait for their log to be durable
	_, token, err := origin.Bootstrap(ctx, dep.Catalog, "Simulated chain", "sim")
	if err != nil {
		o.close()
		return nil, err
	}
	o.admin, err = o.client(token, nil)
	if err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

func (o *simOrigin) client(cred string, pub ed25519.PublicKey) (*api.Client, error) {
	return api.NewClient(api.ClientConfig{BaseURLs: []string{originBase}, Credential: cred, OriginKey: pub,
		HTTPClient: &http.Client{Transport: o.rt}})
}

func (o *simOrigin) close() {
	o.cancel()
	<-o.done
	o.dep.Close()
}

// addAsset uploads a small master unique to name and creates the asset, declared as a rendition of size bytes
// lasting dur.
func (o *simOrigin) addAsset(ctx context.Context, name string, in api.AssetInput, size int64, dur time.Duration) (api.Asset, error) {
	master := []byte("lomuz simulated master: " + name)
	h := sha256.Sum256(master)
	sha := hex.EncodeToString(h[:])
	o.ing.declare(sha, rendition{size: size, dur: dur})
	if _, err := o.admin.Upload(ctx, sha, int64(len(master)), strings.NewReader(string(master))); err != nil {
		return api.Asset{}, fmt.Errorf("upload %s: %w", name, err)
	}
	in.MasterSHA256, in.Title = sha, name
	a, err := o.admin.CreateAsset(ctx, in)
	if err != nil {
		return api.Asset{}, fmt.Errorf("asset %s: %w", name, err)
	}
	if a.Status != api.AssetReady {
		return api.Asset{}, fmt.Errorf("asset %s is %s after ingest: %s", name, a.Status, a.Error)
	}
	return a, nil
}

// plays lists every play event origin holds, as device -> set of seq.
func (o *simOrigin) plays(ctx context.Context) (map[string]map[uint64]bool, error) {
	out := map[string]map[uint64]bool{}
	cursor := ""
	for {
		var page api.Page[api.Play]
		path := "/v1/plays?limit=10000"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if err := o.admin.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			if out[p.DeviceID] == nil {
				out[p.DeviceID] = map[uint64]bool{}
			}
			out[p.DeviceID][p.Seq] = true
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// drain discards a response body (bounded) so the recorder's buffer is released.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20)) }
