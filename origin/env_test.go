package origin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/pgstore"
)

// backend opens a fresh catalog for a test.
type backend struct {
	name string
	open func(t *testing.T) catalog.Store
}

func postgresBackend() backend {
	return backend{"postgres", func(t *testing.T) catalog.Store { return openPostgres(t, testenv.Postgres(t)) }}
}

func openPostgres(t *testing.T, url string) catalog.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.DefaultConfig(url))
	if err != nil {
		t.Fatalf("open postgres catalog: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backends lists every catalog backend the API tests run against.
func backends() []backend { return append([]backend{postgresBackend()}, extraBackends()...) }

// env is one running origin server on 127.0.0.1 over a catalog and a blob directory, with one bootstrapped tenant.
type env struct {
	t      testing.TB
	cat    catalog.Store
	blobs  blob.Store
	srv    *origin.Server
	url    string
	tenant string
	admin  *api.Client
}

func newEnv(t testing.TB, cat catalog.Store, mod func(*origin.Config)) *env {
	t.Helper()
	bs, err := dirblob.New(dirblob.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	return startEnv(t, cat, bs, key, mod)
}

func newKey(t testing.TB) []byte {
	t.Helper()
	k, err := origin.LoadKey(t.TempDir() + "/key")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func startEnv(t testing.TB, cat catalog.Store, bs blob.Store, key []byte, mod func(*origin.Config)) *env {
	t.Helper()
	cfg := origin.DefaultConfig()
	// Tests read their own writes at once; the caches' staleness bounds are covered by TestStateless.
	cfg.StateCacheTTL, cfg.AuthCacheTTL = -1, -1
	if mod != nil {
		mod(&cfg)
	}
	srv, err := origin.New(cfg, cat, bs, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	e := &env{t: t, cat: cat, blobs: bs, srv: srv, url: "http://" + ln.Addr().String()}
	e.tenant, e.admin = e.bootstrap("Chain A")
	return e
}

// bootstrap creates a tenant and an admin client for it.
func (e *env) bootstrap(name string) (string, *api.Client) {
	e.t.Helper()
	id, tok, err := origin.Bootstrap(context.Background(), e.cat, name, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return id, e.client(tok, nil)
}

func (e *env) client(cred string, key []byte) *api.Client {
	e.t.Helper()
	c, err := api.NewClient(api.ClientConfig{BaseURLs: []string{e.url}, Credential: cred, OriginKey: key,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// fixture is a store with one zone, one ready asset in a playlist scheduled all day, and an enrollment token.
type fixture struct {
	store    api.Store
	zone     api.ZoneInfo
	asset    api.Asset
	wav      []byte
	playlist api.Playlist
	schedule api.Schedule
}

func (e *env) fixture(admin *api.Client) fixture {
	e.t.Helper()
	c := ctx(e.t)
	var f fixture
	var err error
	if f.store, err = admin.CreateStore(c, api.StoreInput{Name: "Loja Centro", TimeZone: "America/Sao_Paulo"}); err != nil {
		e.t.Fatal(err)
	}
	if f.zone, err = admin.CreateZone(c, f.store.ID, api.ZoneInput{Name: "Salão"}); err != nil {
		e.t.Fatal(err)
	}
	f.asset, f.wav = e.uploadWAV(admin, "Track one", 1500)
	if f.playlist, err = admin.CreatePlaylist(c, api.PlaylistInput{Name: "Day", AssetIDs: []string{f.asset.ID}}); err != nil {
		e.t.Fatal(err)
	}
	if f.schedule, err = admin.CreateSchedule(c, api.ScheduleInput{Scope: api.ScopeStore, StoreID: f.store.ID,
		PlaylistID: f.playlist.ID, Start: "00:00", End: "00:00"}); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// uploadWAV creates a music asset and uploads a silent 8 kHz mono 16-bit WAV of ms milliseconds as its file.
func (e *env) uploadWAV(admin *api.Client, title string, ms int) (api.Asset, []byte) {
	e.t.Helper()
	c := ctx(e.t)
	wav := makeWAV(ms)
	sum := sha256.Sum256(wav)
	up, err := admin.Upload(c, hex.EncodeToString(sum[:]), int64(len(wav)), bytes.NewReader(wav))
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := admin.CreateAsset(c, api.AssetInput{MasterSHA256: up.SHA256, Kind: api.KindMusic, Title: title, Artist: "Test"})
	if err != nil {
		e.t.Fatal(err)
	}
	if a.Status != api.AssetReady {
		e.t.Fatalf("uploaded WAV asset is %q, want ready (%s)", a.Status, a.Error)
	}
	return a, wav
}

func makeWAV(ms int) []byte {
	const rate, bps = 8000, 2
	n := rate * ms / 1000 * bps
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(rate))
	le(uint32(rate * bps))
	le(uint16(bps))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(n))
	pcm := make([]byte, n)
	_, _ = rand.Read(pcm) // noise: distinct content per call, so distinct sha256
	b.Write(pcm)
	return b.Bytes()
}

// device is an enrolled device with its client and the records it holds.
type device struct {
	id      string
	enroll  api.EnrollResponse
	c       *api.Client
	records map[string]api.Record
	rev     uint64
	peerKey []byte // the libp2p public key it enrolled with
}

func (e *env) enroll(admin *api.Client, storeID, zoneID string) *device {
	e.t.Helper()
	c := ctx(e.t)
	tok, err := admin.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: storeID, ZoneID: zoneID})
	if err != nil {
		e.t.Fatal(err)
	}
	pk := newPeerKey(e.t)
	res, err := e.client("", nil).Enroll(c, api.EnrollRequest{Token: tok.Token, PeerPublicKey: pk, AppVersion: "1.0"})
	if err != nil {
		e.t.Fatal(err)
	}
	return &device{id: res.DeviceID, enroll: res, c: e.client(res.Credential, res.OriginPublicKey),
		records: map[string]api.Record{}, peerKey: pk}
}

// hash is crdt.StateHash of the device's live records.
func (d *device) hash() string {
	var h crdt.StateHash
	for _, r := range d.records {
		h.Add(r.Key, r.Rev)
	}
	return h.Hex()
}

// sync runs one sync and applies the answer as a device would.
func (d *device) sync(t *testing.T, events ...api.PlayEvent) *api.SyncManifest {
	t.Helper()
	m, err := d.c.Sync(ctx(t), api.SyncRequest{Revision: d.rev, StateHash: d.hash(), AppVersion: "1.0",
		Inventory: api.Inventory{CachedAssets: len(d.records)}, PlayEvents: events})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if m.Full {
		clear(d.records)
	}
	for _, r := range m.Records {
		if old, ok := d.records[r.Key]; !ok || old.Rev < r.Rev {
			d.records[r.Key] = r
		}
	}
	for _, r := range m.Tombstones {
		delete(d.records, r.Key)
	}
	d.rev = m.Revision
	if m.StateHash != "" && m.StateHash != d.hash() {
		t.Fatalf("after applying the manifest the device's state hash %s differs from origin's %s", d.hash(), m.StateHash)
	}
	return m
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newPeerKey is a fresh libp2p public key, marshalled as devices send it.
func newPeerKey(t testing.TB) []byte {
	t.Helper()
	_, pub, err := p2pcrypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := p2pcrypto.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
