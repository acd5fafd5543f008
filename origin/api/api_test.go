package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"ok", `{"revision":3,"state_hash":"` + strings.Repeat("a", 64) + `"}`, 0, ""},
		{"empty", ``, 400, ""},
		{"malformed", `{"revision":`, 400, ""},
		{"unknown field", `{"revision":1,"colour":"red"}`, 400, "colour"},
		{"wrong type", `{"revision":"x"}`, 400, "revision"},
		{"negative revision", `{"revision":-1}`, 400, "revision"},
		{"trailing", `{"revision":1}{"revision":2}`, 400, ""},
		{"bad hash", `{"state_hash":"ABC"}`, 400, "state_hash"},
		{"too large", `{"app_version":"` + strings.Repeat("x", api.MaxSyncBody) + `"}`, 413, ""},
		{"bad event", `{"play_events":[{"device_id":"x","seq":1,"started_at":"2026-01-01T00:00:00Z","fallback":"spot"}]}`, 400, "play_events.device_id"},
	}
	for _, c := range cases {
		var req api.SyncRequest
		err := api.DecodeStrict(strings.NewReader(c.body), api.MaxSyncBody, &req)
		if c.status == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var p *api.Problem
		if !errors.As(err, &p) || p.Status != c.status || p.Detail == "" || (c.field != "" && p.Field != c.field) {
			t.Errorf("%s: got %v (%+v), want status %d field %q", c.name, err, p, c.status, c.field)
		}
	}
}

func TestAssetAndScheduleValidation(t *testing.T) {
	from := mustTime(t, "2026-06-01T00:00:00Z")
	until := mustTime(t, "2026-05-01T00:00:00Z")
	a := api.AssetInput{Kind: "spot", Title: "Promo", ValidFrom: &from, ValidUntil: &until}
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "inverted") {
		t.Errorf("inverted window: %v", err)
	}
	a.ValidUntil = &from
	if err := a.Validate(); err != nil {
		t.Errorf("a window of one instant is valid: %v", err)
	}
	pl := "6f1c1a8e-8a52-4a8e-9d5c-4f3b1e2d7a90"
	for _, s := range []api.ScheduleInput{
		{Scope: "store", PlaylistID: pl, Start: "08:00", End: "09:00"},                                               // no store id
		{Scope: "tenant", PlaylistID: pl, Start: "8:00", End: "09:00"},                                               // bad clock
		{Scope: "tenant", PlaylistID: pl, Start: "08:00", End: "09:00", Weekdays: []int{7}},                          // bad weekday
		{Scope: "tenant", PlaylistID: pl, Start: "08:00", End: "09:00", SpotRules: []api.SpotRule{{PlaylistID: pl}}}, // empty rule
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: accepted", s)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// signedServer answers syncs with a manifest signed by key, after tamper changes it.
func signedServer(t *testing.T, key ed25519.PrivateKey, tamper func(*api.SyncManifest, *crdt.Record)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := crdt.Record{Key: "asset/a1", Tenant: "t1", Rev: 2, Body: []byte(`{"id":"a1"}`)}
		rec.Sig = ed25519.Sign(key, rec.SigningBytes())
		st := crdt.SignedTime{UnixMilli: 1_790_000_000_000}
		st.Sig = ed25519.Sign(key, st.SigningBytes())
		m := api.SyncManifest{TenantID: "t1", Revision: 2, Time: api.SignedTime{UnixMS: st.UnixMilli, Sig: st.Sig}}
		if tamper != nil {
			tamper(&m, &rec)
		}
		m.Records = []api.Record{api.RecordToWire(rec)}
		raw, _ := json.Marshal(m)
		sig := ed25519.Sign(key, append([]byte(api.ManifestSigningContext), raw...))
		_ = json.NewEncoder(w).Encode(api.SignedManifest{Manifest: raw, Sig: sig})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientVerifiesSignatures(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	sync := func(srv *httptest.Server, pin ed25519.PublicKey) (*api.SyncManifest, error) {
		c, err := api.NewClient(api.ClientConfig{BaseURLs: []string{srv.URL}, Credential: "lmzd_x", OriginKey: pin})
		if err != nil {
			t.Fatal(err)
		}
		return c.Sync(context.Background(), api.SyncRequest{})
	}
	if m, err := sync(signedServer(t, key, nil), pub); err != nil || len(m.Records) != 1 {
		t.Fatalf("good manifest: %v", err)
	}
	if _, err := sync(signedServer(t, key, nil), other.Public().(ed25519.PublicKey)); !errors.Is(err, api.ErrBadSignature) {
		t.Errorf("manifest from another key: %v", err)
	}
	// The manifest is signed by origin but one record inside is not: nothing is returned.
	bad := signedServer(t, key, func(_ *api.SyncManifest, r *crdt.Record) { r.Body = []byte(`{"id":"evil"}`) })
	if m, err := sync(bad, pub); !errors.Is(err, api.ErrBadSignature) || m != nil {
		t.Errorf("tampered record: %v", err)
	}
	badTime := signedServer(t, key, func(m *api.SyncManifest, _ *crdt.Record) { m.Time.UnixMS++ })
	if _, err := sync(badTime, pub); !errors.Is(err, api.ErrBadSignature) {
		t.Errorf("tampered time: %v", err)
	}
}

func TestClientFailsOverAndBoundsAnswers(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"x","title":"down","status":503}`))
	}))
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"t","name":"Chain"}`))
	}))
	defer up.Close()
	c, err := api.NewClient(api.ClientConfig{BaseURLs: []string{down.URL, up.URL}, Credential: "lmza_x"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := c.Tenant(context.Background())
	if err != nil || tn.Name != "Chain" || c.BaseURL() != up.URL {
		t.Fatalf("failover: %v %+v base %s", err, tn, c.BaseURL())
	}
	// A 4xx is the answer: no failover.
	shed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "42")
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"type":"https://lomuz.dev/problems/overloaded","title":"Too Many Requests","status":429}`))
	}))
	defer shed.Close()
	c2, _ := api.NewClient(api.ClientConfig{BaseURLs: []string{shed.URL, up.URL}, Credential: "lmza_x"})
	_, err = c2.Tenant(context.Background())
	var p *api.Problem
	if !errors.As(err, &p) || p.Status != 429 || p.RetryAfter != 42 {
		t.Fatalf("429: %v", err)
	}
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"manifest":"` + strings.Repeat("x", 4096) + `"}`))
	}))
	defer huge.Close()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	c3, _ := api.NewClient(api.ClientConfig{BaseURLs: []string{huge.URL}, Credential: "lmzd_x", OriginKey: pub, MaxManifest: 1024})
	if _, err := c3.Sync(context.Background(), api.SyncRequest{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized answer: %v", err)
	}
}
