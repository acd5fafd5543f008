package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Response bounds of the client, in bytes (after decompression).
const (
	// DefaultMaxManifest bounds a sync answer: a full manifest of 100,000 assets is ~50 MB of JSON.
	DefaultMaxManifest = 256 << 20
	// MaxAdminResponse bounds any other answer (a page of 10,000 assets is ~6 MB).
	MaxAdminResponse = 64 << 20
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURLs are origin's base URLs (e.g. "https://origin.example.com"), tried in order; the client stays on the
	// first that answers and moves to the next on a network error or a 5xx.
	BaseURLs []string
	// Credential is the device credential or admin token sent as a bearer token; empty before enrollment.
	Credential string
	// OriginKey is origin's ed25519 public key pinned at enrollment. Sync refuses to run without it.
	OriginKey ed25519.PublicKey
	// HTTPClient performs requests; nil uses a client without timeout (pass contexts with deadlines).
	HTTPClient *http.Client
	// MaxManifest bounds a sync answer in bytes; 0 means DefaultMaxManifest.
	MaxManifest int64
	// ReprobeEvery is how often the client reconsiders which base URL to start from (the fastest healthy one);
	// 0 means DefaultReprobe, negative never (stay on whichever answered last).
	ReprobeEvery time.Duration
}

// Client speaks to origin. It is safe for concurrent use; it holds no state beyond which base URL answered last.
type Client struct {
	cfg   ClientConfig
	cur   atomic.Int32
	stats *originStats
}

// NewClient checks cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.BaseURLs) == 0 {
		return nil, errors.New("api: at least one base URL is required")
	}
	cfg.BaseURLs = append([]string(nil), cfg.BaseURLs...) // the caller keeps its slice
	for i, b := range cfg.BaseURLs {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("api: base URL %q is not an absolute http(s) URL", b)
		}
		cfg.BaseURLs[i] = strings.TrimRight(b, "/")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.MaxManifest <= 0 {
		cfg.MaxManifest = DefaultMaxManifest
	}
	if cfg.ReprobeEvery == 0 {
		cfg.ReprobeEvery = DefaultReprobe
	}
	return &Client{cfg: cfg, stats: newOriginStats(len(cfg.BaseURLs))}, nil
}

// WithCredential returns a client sharing the configuration but sending cred (after enrollment).
func (c *Client) WithCredential(cred string, originKey ed25519.PublicKey) *Client {
	cfg := c.cfg
	cfg.BaseURLs = append([]string(nil), c.cfg.BaseURLs...)
	cfg.Credential, cfg.OriginKey = cred, originKey
	return &Client{cfg: cfg, stats: c.stats}
}

// CredentialOf returns the credential a client sends (for tests and tools that build raw requests).
func CredentialOf(c *Client) string { return c.cfg.Credential }

// BaseURL is the base URL in use.
func (c *Client) BaseURL() string { return c.cfg.BaseURLs[int(c.cur.Load())%len(c.cfg.BaseURLs)] }

// ResolveURL makes a download URL absolute against the base URL in use (origin sends relative /v1/blobs/ URLs
// when it serves blobs itself).
func (c *Client) ResolveURL(u string) string {
	if strings.HasPrefix(u, "/") {
		return c.BaseURL() + u
	}
	return u
}

// do sends one request with a JSON body (in may be nil) and decodes a JSON answer into out (may be nil), reading
// at most limit bytes. It fails over across base URLs on network errors and 5xx answers.
func (c *Client) do(ctx context.Context, method, path string, in any, limit int64, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var lastErr error
	n := len(c.cfg.BaseURLs)
	start := c.stats.start(int(c.cur.Load()), c.cfg.ReprobeEvery)
	for i := 0; i < n; i++ {
		idx := (start + i) % n
		t0 := time.Now()
		raw, err := c.once(ctx, method, c.cfg.BaseURLs[idx]+path, body, in != nil, limit)
		if err == nil {
			c.stats.ok(idx, time.Since(t0))
			c.cur.Store(int32(idx))
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(raw, out); err != nil {
				return fmt.Errorf("api: %s %s: decoding answer: %w", method, path, err)
			}
			return nil
		}
		lastErr = err
		var p *Problem
		if errors.As(err, &p) && p.Status < 500 {
			return err
		}
		c.stats.failed(idx)
		if ctx.Err() != nil {
			return err
		}
	}
	return lastErr
}

func (c *Client) once(ctx context.Context, method, u string, body []byte, hasBody bool, limit int64) ([]byte, error) {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, limit)
}

// send performs req with the credential and returns the bounded body of a 2xx answer, or a *Problem.
func (c *Client) send(req *http.Request, limit int64) ([]byte, error) {
	if c.cfg.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Credential)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readProblem(resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: reading answer: %w", req.Method, req.URL.Path, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("api: %s %s: answer larger than %d bytes", req.Method, req.URL.Path, limit)
	}
	return raw, nil
}

func readProblem(resp *http.Response) *Problem {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxProblemBody))
	p := &Problem{}
	if err := json.Unmarshal(raw, p); err != nil || p.Status == 0 {
		p = &Problem{Type: ProblemPrefix + "http", Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode,
			Detail: strings.TrimSpace(string(raw))}
	}
	p.Status = resp.StatusCode
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
		p.RetryAfter = ra
	}
	return p
}

// Enroll redeems an enrollment token. The caller keeps the answer's credential and pins OriginPublicKey; use
// WithCredential for the enrolled client.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (EnrollResponse, error) {
	var out EnrollResponse
	if err := req.Validate(); err != nil {
		return out, err
	}
	if err := c.do(ctx, http.MethodPost, "/v1/device/enroll", &req, MaxAdminResponse, &out); err != nil {
		return out, err
	}
	if len(out.OriginPublicKey) != ed25519.PublicKeySize {
		return out, errors.New("api: enrollment answer carries no ed25519 origin key")
	}
	return out, nil
}

// ErrBadSignature: a sync answer, a record in it or its time is not signed by the pinned origin key. Nothing of
// the answer is returned.
var ErrBadSignature = errors.New("api: signature does not verify with the pinned origin key")

// Sync sends a sync request and returns the manifest once its signature, every record's signature and the signed
// time verify with the pinned origin key. A *Problem with Status 429 carries RetryAfter.
func (c *Client) Sync(ctx context.Context, req SyncRequest) (*SyncManifest, error) {
	if len(c.cfg.OriginKey) != ed25519.PublicKeySize {
		return nil, errors.New("api: no pinned origin key; enroll first")
	}
	var sm SignedManifest
	if err := c.do(ctx, http.MethodPost, "/v1/device/sync", &req, c.cfg.MaxManifest, &sm); err != nil {
		return nil, err
	}
	return VerifyManifest(c.cfg.OriginKey, sm)
}

// VerifyManifest checks a signed manifest with origin's key and decodes it.
func VerifyManifest(pub ed25519.PublicKey, sm SignedManifest) (*SyncManifest, error) {
	msg := make([]byte, 0, len(ManifestSigningContext)+len(sm.Manifest))
	msg = append(append(msg, ManifestSigningContext...), sm.Manifest...)
	if len(sm.Sig) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, sm.Sig) {
		return nil, fmt.Errorf("%w: manifest", ErrBadSignature)
	}
	var m SyncManifest
	if err := json.Unmarshal(sm.Manifest, &m); err != nil {
		return nil, fmt.Errorf("api: decoding manifest: %w", err)
	}
	if !m.Time.Verify(pub) {
		return nil, fmt.Errorf("%w: signed time", ErrBadSignature)
	}
	for _, set := range [][]Record{m.Records, m.Tombstones} {
		for _, r := range set {
			if r.Tenant != m.TenantID || !r.Verify(pub) {
				return nil, fmt.Errorf("%w: record %s rev %d", ErrBadSignature, r.Key, r.Rev)
			}
		}
	}
	return &m, nil
}

// UploadPlays delivers play events outside a sync and returns the acks.
func (c *Client) UploadPlays(ctx context.Context, events []PlayEvent) ([]PlayAck, error) {
	var out PlayAcks
	err := c.do(ctx, http.MethodPost, "/v1/device/plays", &PlayUpload{Events: events}, MaxAdminResponse, &out)
	return out.Acks, err
}

// OpenBlob GETs a download URL (absolute, or relative to the base URL) from byte offset off. The caller closes
// the body and verifies the sha256 of what it stores.
func (c *Client) OpenBlob(ctx context.Context, rawURL string, off int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ResolveURL(rawURL), nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK && off == 0, resp.StatusCode == http.StatusPartialContent && off > 0:
		return resp.Body, nil
	}
	defer resp.Body.Close()
	return nil, readProblem(resp)
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
