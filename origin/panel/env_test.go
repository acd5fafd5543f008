package panel_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/catalog/embedded"
	"github.com/lomuz/lomuz/origin/catalog/pgstore"
	"github.com/lomuz/lomuz/origin/jobs"
	"github.com/lomuz/lomuz/origin/transcode"
)

// env is one origin (with its panel) on loopback over an embedded catalog and a blob directory.
type env struct {
	t     testing.TB
	cat   catalog.Store
	blobs blob.Store
	key   ed25519.PrivateKey
	url   string
	token string // the director's admin token
	admin *api.Client
}

type envOpts struct {
	transcode bool // run the real transcode pipeline (ffmpeg) in-process, as `lomuz origin` does
	postgres  bool // keep the catalog in PostgreSQL (a fresh database), as replicas in production do
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	var cat catalog.Store
	var err error
	if o.postgres {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cat, err = pgstore.Open(ctx, pgstore.DefaultConfig(testenv.Postgres(t)))
		cancel()
	} else {
		cat, err = embedded.Open(embedded.DefaultConfig(t.TempDir()))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	bs, err := dirblob.New(dirblob.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cat: cat, blobs: bs, key: key}
	e.url = e.start(o)
	_, e.token, err = origin.Bootstrap(context.Background(), cat, "Chain", "director")
	if err != nil {
		t.Fatal(err)
	}
	e.admin = e.client(e.url, e.token)
	return e
}

// start runs another origin replica over the env's stores and key; it stops when the test ends.
func (e *env) start(o envOpts) string { return e.startWithKey(o, e.key) }

// startWithKey runs a replica signing with key (another deployment's key, in a negative test).
func (e *env) startWithKey(o envOpts, key ed25519.PrivateKey) string {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var opts []origin.Option
	var queueDone chan error
	if o.transcode {
		testenv.Tool(t, "ffmpeg")
		testenv.Tool(t, "ffprobe")
		w, err := transcode.NewWorker(transcode.WorkerConfig{Transcode: transcode.DefaultConfig(), Blobs: e.blobs,
			TempDir: t.TempDir(), Completer: transcode.CompleterFunc(func(ctx context.Context, tenantID, assetID string,
				r transcode.Result, failure error) error {
				return origin.FinishIngest(ctx, e.cat, e.key, tenantID, assetID, origin.Rendition{SHA256: r.SHA256,
					Size: r.Size, Codec: r.Codec, DurationMS: r.DurationMS, LoudnessLUFS: r.LoudnessLUFS}, failure)
			})})
		if err != nil {
			t.Fatal(err)
		}
		q, err := jobs.NewLocal(jobs.DefaultLocalConfig(t.TempDir(), w.Handlers()))
		if err != nil {
			t.Fatal(err)
		}
		queueDone = make(chan error, 1)
		go func() { queueDone <- q.Serve(ctx) }()
		opts = append(opts, origin.WithIngester(transcode.Ingester{Queue: q}))
	}
	cfg := origin.DefaultConfig()
	cfg.StateCacheTTL, cfg.AuthCacheTTL = -1, -1 // read our own writes at once
	srv, err := origin.New(cfg, e.cat, e.blobs, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if queueDone != nil {
			<-queueDone
		}
	})
	return "http://" + ln.Addr().String()
}

func (e *env) client(base, cred string) *api.Client {
	e.t.Helper()
	c, err := api.NewClient(api.ClientConfig{BaseURLs: []string{base}, Credential: cred,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// shop creates a store with one zone.
func (e *env) shop(name, zone string) (api.Store, api.ZoneInfo) {
	e.t.Helper()
	c := testCtx(e.t)
	st, err := e.admin.CreateStore(c, api.StoreInput{Name: name, TimeZone: "America/Sao_Paulo"})
	if err != nil {
		e.t.Fatal(err)
	}
	z, err := e.admin.CreateZone(c, st.ID, api.ZoneInput{Name: zone})
	if err != nil {
		e.t.Fatal(err)
	}
	return st, z
}

// managerToken issues a store manager's token for storeID.
func (e *env) managerToken(storeID string) string {
	e.t.Helper()
	var tok api.AdminToken
	if err := e.admin.Do(testCtx(e.t), http.MethodPost, "/v1/admin-tokens",
		api.AdminTokenInput{Name: "manager", Role: "manager", StoreID: storeID}, &tok); err != nil {
		e.t.Fatal(err)
	}
	return tok.Token
}

// device is an enrolled device speaking origin's device API through the real client.
type device struct {
	id   string
	zone string
	c    *api.Client
	seq  uint64
}

func (e *env) enroll(storeID, zoneID string) *device {
	e.t.Helper()
	c := testCtx(e.t)
	tok, err := e.admin.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: storeID, ZoneID: zoneID})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.enrollWith(tok.Token, zoneID)
}

// enrollWith enrolls a device with a one-time token through the device API.
func (e *env) enrollWith(token, zoneID string) *device {
	e.t.Helper()
	res, err := e.client(e.url, "").Enroll(testCtx(e.t), api.EnrollRequest{Token: token, PeerPublicKey: peerKey(e.t), AppVersion: "1.4.2"})
	if err != nil {
		e.t.Fatal(err)
	}
	dc, err := api.NewClient(api.ClientConfig{BaseURLs: []string{e.url}, Credential: res.Credential,
		OriginKey: res.OriginPublicKey})
	if err != nil {
		e.t.Fatal(err)
	}
	return &device{id: res.DeviceID, zone: zoneID, c: dc}
}

// peerKey is a fresh libp2p public key, marshalled as devices send it at enrollment.
func peerKey(t testing.TB) []byte {
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

// sync runs a full sync, reporting a play of assetID (none when "") that started at `at`.
func (d *device) sync(t testing.TB, assetID string, at time.Time) {
	t.Helper()
	req := api.SyncRequest{AppVersion: "1.4.2", Inventory: api.Inventory{CachedAssets: 3, CachedBytes: 5 << 20}}
	if assetID != "" {
		d.seq++
		req.PlayEvents = []api.PlayEvent{{DeviceID: d.id, Seq: d.seq, AssetID: assetID, ZoneID: d.zone,
			StartedAt: at.UTC(), DurationMS: 8000, Fallback: "scheduled"}}
	}
	if _, err := d.c.Sync(testCtx(t), req); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// makeTrack renders a short stereo tone with ffmpeg into dir and returns its path.
func makeTrack(t *testing.T, dir, name string, hz int) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	p := filepath.Join(dir, name)
	out, err := exec.Command(ff, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
		"sine=frequency="+strconv.Itoa(hz)+":duration=8:sample_rate=44100", "-ac", "2", "-y", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return p
}

// browser is a plain HTTP client with a cookie jar, standing in for a browser in tests that need no JavaScript.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// get fetches a page and returns status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// post submits an urlencoded form and returns the status and body after redirects.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's form.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// login signs in with token and returns the fleet page.
func (b *browser) login(token string) (int, string) {
	b.t.Helper()
	_, page := b.get("/panel/login")
	return b.post("/panel/login", url.Values{"csrf": {b.csrf(page)}, "token": {token}})
}

// wavBytes is a 16-bit stereo 44.1 kHz WAV of a 440 Hz tone lasting ms milliseconds.
func wavBytes(ms int) []byte {
	const rate = 44100
	n := rate * ms / 1000
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + n*4))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(2))
	le(uint32(rate))
	le(uint32(rate * 4))
	le(uint16(4))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(n * 4))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		le(v)
		le(v)
	}
	return b.Bytes()
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
