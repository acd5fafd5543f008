package node

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

// signer plays origin's part for core tests: it signs records and times with a key the cores pin. It is a fixture
// for feeding the pure core; the real origin is exercised end to end elsewhere.
type signer struct {
	t      *testing.T
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	tenant string
	store  string
	rev    uint64
	recs   map[string]crdt.Record
}

func newSigner(t *testing.T) *signer {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{t: t, pub: pub, priv: priv, tenant: uuid.NewString(), store: uuid.NewString(),
		recs: map[string]crdt.Record{}}
}

func (s *signer) put(key string, body any) crdt.Record {
	s.t.Helper()
	s.rev++
	r := crdt.Record{Key: key, Tenant: s.tenant, Rev: s.rev}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r.Body = b
	} else {
		r.Deleted = true
	}
	r.Sig = ed25519.Sign(s.priv, r.SigningBytes())
	s.recs[key] = r
	return r
}

func blobOf(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

func (s *signer) asset(title, artist string, mutate func(*api.Asset)) api.Asset {
	a := api.Asset{ID: uuid.NewString(), Kind: api.KindMusic, Title: title, Artist: artist, SHA256: blobOf(title),
		Size: 1000, DurationMS: 180_000, Codec: "vorbis", LoudnessLUFS: -16}
	if mutate != nil {
		mutate(&a)
	}
	s.put("asset/"+a.ID, a)
	return a
}

func (s *signer) playlist(assets ...api.Asset) api.Playlist {
	p := api.Playlist{ID: uuid.NewString(), Name: "pl"}
	for _, a := range assets {
		p.AssetIDs = append(p.AssetIDs, a.ID)
	}
	s.put("playlist/"+p.ID, p)
	return p
}

func (s *signer) allDay(p api.Playlist) api.Schedule {
	sc := api.Schedule{ID: uuid.NewString(), Scope: api.ScopeStore, StoreID: s.store, PlaylistID: p.ID,
		Start: "00:00", End: "00:00"}
	s.put("schedule/"+sc.ID, sc)
	return sc
}

func (s *signer) signedTime(at time.Time) api.SignedTime {
	st := crdt.SignedTime{UnixMilli: at.UnixMilli()}
	return api.SignedTime{UnixMS: st.UnixMilli, Sig: ed25519.Sign(s.priv, st.SigningBytes())}
}

// manifest answers a device at revision `from` with every record above it.
func (s *signer) manifest(device string, from uint64, at time.Time) *api.SyncManifest {
	m := &api.SyncManifest{TenantID: s.tenant, DeviceID: device, Revision: s.rev, Time: s.signedTime(at)}
	var h crdt.StateHash
	for _, r := range s.recs {
		if !r.Deleted {
			h.Add(r.Key, r.Rev)
		}
		if r.Rev <= from {
			continue
		}
		w := api.Record{Key: r.Key, Tenant: r.Tenant, Rev: r.Rev, Deleted: r.Deleted, Body: r.Body, Sig: r.Sig}
		if r.Deleted {
			m.Tombstones = append(m.Tombstones, w)
		} else {
			m.Records = append(m.Records, w)
		}
	}
	m.StateHash = h.Hex()
	return m
}

var epoch = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// harness drives one core with a virtual clock.
type harness struct {
	t    *testing.T
	c    *Core
	sig  *signer
	id   string
	mono time.Duration
	wall time.Time // the device's wall clock (may be wrong)
	true time.Time // true time
}

func newHarness(t *testing.T, sig *signer, mutate func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Device, cfg.Tenant, cfg.Store, cfg.Zone = uuid.NewString(), sig.tenant, sig.store, uuid.NewString()
	cfg.OriginKey = sig.pub
	cfg.TimeZone = "America/Sao_Paulo"
	cfg.Seed = 7
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, c: c, sig: sig, id: cfg.Device, mono: time.Second, wall: epoch, true: epoch}
	return h
}

func (h *harness) tick() Ready {
	h.c.Tick(Instant{Mono: h.mono, Wall: h.wall})
	return h.c.Ready()
}

func (h *harness) advance(d time.Duration) Ready {
	h.mono += d
	h.wall = h.wall.Add(d)
	h.true = h.true.Add(d)
	return h.tick()
}

func (h *harness) step(ev Event) Ready {
	h.c.Step(ev)
	return h.c.Ready()
}

// answer completes a pending sync with the signer's current catalog.
func (h *harness) answer(r Ready) Ready {
	h.t.Helper()
	if r.Sync == nil {
		h.t.Fatal("no sync request to answer")
	}
	m := h.sig.manifest(h.id, r.Sync.Revision, h.true)
	return h.step(SyncResult{Manifest: m, Sent: h.mono, Recv: h.mono})
}

func (h *harness) String() string { return fmt.Sprintf("node %s at %v", h.id[:8], h.mono) }
