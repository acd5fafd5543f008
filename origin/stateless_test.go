package origin_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob/dirblob"
)

// TestStateless runs two origin servers, each with its own connection pool, on one PostgreSQL database and one
// blob directory, with the production caches on. Admin writes go through either; a device syncs through both in
// turn, and every answer is consistent: revisions never go backwards, every state hash sent matches the records
// the device holds, and both servers converge on the same state.
func TestStateless(t *testing.T) {
	url := testenv.Postgres(t)
	bs, err := dirblob.New(dirblob.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	prod := func(c *origin.Config) { *c = origin.DefaultConfig() }
	a := startEnv(t, openPostgres(t, url), bs, key, prod)
	b := startEnv(t, openPostgres(t, url), bs, key, prod)
	adminB := b.client(credOf(t, a.admin), nil) // tenant A's token, through server B
	f := a.fixture(a.admin)
	d := a.enroll(adminB, f.store.ID, f.zone.ID)
	dB := b.client(credOf(t, d.c), d.enroll.OriginPublicKey)
	clients := []*api.Client{d.c, dB}

	var last uint64
	for i := 0; i < 8; i++ {
		admin := []*api.Client{a.admin, adminB}[i%2]
		asset, _ := a.uploadWAV(admin, "Track "+strconv.Itoa(i), 200)
		if err := admin.Do(ctx(t), http.MethodPut, "/v1/playlists/"+f.playlist.ID,
			api.PlaylistInput{Name: "Day", AssetIDs: []string{f.asset.ID, asset.ID}}, nil); err != nil {
			t.Fatal(err)
		}
		want, err := a.cat.Revision(ctx(t), a.tenant)
		if err != nil {
			t.Fatal(err)
		}
		// Sync through both servers in turn until the device holds the revision just written (the state cache
		// may hide it for up to StateCacheTTL).
		deadline := time.Now().Add(10 * time.Second)
		for n := 0; d.rev < want; n++ {
			d.c = clients[n%2]
			d.sync(t) // fails the test if a state hash does not match the records held
			if d.rev < last {
				t.Fatalf("server %d sent the device back from revision %d to %d", n%2, last, d.rev)
			}
			last = d.rev
			if time.Now().After(deadline) {
				t.Fatalf("device stuck at revision %d, want %d", d.rev, want)
			}
		}
		if d.rev != want {
			t.Fatalf("device at revision %d past the tenant's %d", d.rev, want)
		}
	}
	// Both servers now give the same full state.
	var full []map[string]uint64
	for _, c := range clients {
		m, err := c.Sync(ctx(t), api.SyncRequest{})
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]uint64{}
		for _, r := range m.Records {
			keys[r.Key] = r.Rev
		}
		if m.Revision != d.rev || m.StateHash != d.hash() {
			t.Fatalf("full sync: revision %d hash %s, device %d %s", m.Revision, m.StateHash, d.rev, d.hash())
		}
		full = append(full, keys)
	}
	if len(full[0]) != len(d.records) || len(full[1]) != len(d.records) {
		t.Fatalf("full states differ: %d, %d and the device's %d records", len(full[0]), len(full[1]), len(d.records))
	}
}

// TestShedding fills the in-flight limit with a request that trickles its body and checks that the next one is
// answered 429 with Retry-After at once, and served again once the slot is free.
func TestShedding(t *testing.T) {
	e := newEnv(t, postgresBackend().open(t), func(c *origin.Config) { c.MaxInFlight = 1; c.RetryAfter = 7 })
	pr, pw := io.Pipe()
	held := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/device/enroll", pr)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	if _, err := pw.Write([]byte(`{"token":`)); err != nil {
		t.Fatal(err)
	}
	probe := func() *http.Response {
		resp, err := http.Post(e.url+"/v1/device/enroll", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	deadline := time.Now().Add(10 * time.Second)
	resp := probe()
	for resp.StatusCode != http.StatusTooManyRequests {
		if time.Now().After(deadline) {
			t.Fatalf("no 429 while the only slot is held (last status %d)", resp.StatusCode)
		}
		resp = probe()
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 7 || ra > 14 {
		t.Fatalf("Retry-After %q, want within [7, 14]", resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("Content-Type") != api.ProblemContentType {
		t.Fatalf("429 content type %q", resp.Header.Get("Content-Type"))
	}
	pw.Close()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for resp = probe(); resp.StatusCode == http.StatusTooManyRequests; resp = probe() {
		if time.Now().After(deadline) {
			t.Fatal("still shedding after the slot was freed")
		}
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("after shedding: status %d, want 400 for an empty enrollment", resp.StatusCode)
	}
}
