package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin/api"
)

// mapBlobs is a BlobOpener over blobs held in memory.
type mapBlobs map[string][]byte

func (b mapBlobs) Open(sha string) (cacheFile, error) {
	v, ok := b[sha]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return nopCloser{bytes.NewReader(v)}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

type loopNode struct {
	m      *LANMesh
	en     Enrollment
	pubKey []byte // libp2p-marshalled public key, as origin lists it
}

// loopOpt adjusts a loopback node's settings before it starts.
type loopOpt func(*LANMeshConfig, *Enrollment, *MeshEnv)

func newLoopNode(t *testing.T, ctx context.Context, id string, key []byte, static []netip.AddrPort,
	blobs BlobOpener, opts ...loopOpt) loopNode {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := crypto.UnmarshalEd25519PrivateKey(priv)
	pub, _ := crypto.MarshalPublicKey(lk.GetPublic())
	en := Enrollment{EnrollResponse: api.EnrollResponse{DeviceID: id, Mesh: api.Mesh{ID: "m1", Key: key, Epoch: 1}},
		PeerKey: priv}
	cfg := DefaultLANMeshConfig()
	cfg.Listen = netip.MustParseAddr("127.0.0.1")
	cfg.GossipPort, cfg.TransferPort = 0, 0
	cfg.StaticPeers = static
	cfg.Gossip.ProbeInterval, cfg.Gossip.RejoinInterval = 200*time.Millisecond, 300*time.Millisecond
	env := MeshEnv{Blobs: blobs}
	for _, o := range opts {
		o(&cfg, &en, &env)
	}
	m, err := NewLANMesh(cfg, en, env)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Serve: %v", id, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s: Serve did not return", id)
		}
	})
	return loopNode{m: m, en: en, pubKey: pub}
}

// waitMembers reads Members until want is the live set, within d.
func waitMembers(t *testing.T, m *LANMesh, want []string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-m.Members():
			if slices.Equal(got, want) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: members never became %v", m.self, want)
		}
	}
}

// TestLANMeshLoopback runs two real meshes on loopback joined by a static peer: membership, gossip, push/pull,
// a blob over libp2p once allowed (and refused before), and the wrong key kept out.
func TestLANMeshLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := bytes.Repeat([]byte{7}, 32)
	blob := make([]byte, 3<<20)
	rand.Read(blob)
	sum := sha256.Sum256(blob)
	sha := hex.EncodeToString(sum[:])

	a := newLoopNode(t, ctx, "dev-a", key, nil, mapBlobs{sha: blob})
	b := newLoopNode(t, ctx, "dev-b", key, []netip.AddrPort{a.m.g.LocalAddr()}, mapBlobs{})
	waitMembers(t, a.m, []string{"dev-b"}, 20*time.Second)
	waitMembers(t, b.m, []string{"dev-a"}, 20*time.Second)

	if err := a.m.Broadcast([]byte("delta-1")); err != nil {
		t.Fatal(err)
	}
	a.m.SetLocalState([]byte("state-a"))
	gotDelta := false
	deadline := time.After(20 * time.Second)
	for !gotDelta {
		select {
		case r := <-b.m.Received():
			gotDelta = gotDelta || string(r.Payload) == "delta-1"
		case <-deadline:
			t.Fatal("b never received a's broadcast")
		}
	}

	// Not allowed yet: the gater refuses the fetch, and nothing is written.
	var out bytes.Buffer
	if _, err := b.m.Source("dev-a").Fetch(ctx, sha, 0, &out); err == nil || out.Len() != 0 {
		t.Fatalf("fetch before the allow list: err %v, %d bytes", err, out.Len())
	}
	allowed := [][]byte{a.pubKey, b.pubKey, []byte("not a key")}
	a.m.SetAllowed(allowed)
	b.m.SetAllowed(allowed)
	n, err := b.m.Source("dev-a").Fetch(ctx, sha, 1000, &out)
	if err != nil || n != int64(len(blob)-1000) || !bytes.Equal(out.Bytes(), blob[1000:]) {
		t.Fatalf("fetch from offset: n %d, err %v, equal %v", n, err, bytes.Equal(out.Bytes(), blob[1000:]))
	}
	if _, err := b.m.Source("dev-a").Fetch(ctx, hex.EncodeToString(make([]byte, 32)), 0, io.Discard); err == nil {
		t.Fatal("a blob a does not hold was served")
	}
	if _, err := b.m.Source("dev-x").Fetch(ctx, sha, 0, io.Discard); err == nil {
		t.Fatal("a fetch from an unknown peer succeeded")
	}
	if st := b.m.Stats(); st.Transfer.BytesFetched < uint64(len(blob)-1000) || st.Members != 1 {
		t.Fatalf("stats %+v", st)
	}

	// A node with another store's key never becomes a member.
	other := newLoopNode(t, ctx, "dev-other", bytes.Repeat([]byte{9}, 32), []netip.AddrPort{a.m.g.LocalAddr()},
		mapBlobs{})
	limit := time.Now().Add(3 * time.Second)
	for time.Now().Before(limit) {
		select {
		case got := <-a.m.Members():
			if slices.Contains(got, "dev-other") {
				t.Fatal("a node with another key joined")
			}
		case got := <-other.m.Members():
			if len(got) > 0 {
				t.Fatalf("the outsider sees members %v", got)
			}
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Rotation: both take epoch 2; an old epoch is ignored.
	k2 := api.Mesh{ID: "m1", Key: bytes.Repeat([]byte{8}, 32), Epoch: 2}
	for _, n := range []loopNode{a, b} {
		if err := n.m.SetKey(k2); err != nil {
			t.Fatal(err)
		}
		if err := n.m.SetKey(api.Mesh{ID: "m1", Key: key, Epoch: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.m.Broadcast([]byte("delta-2")); err != nil {
		t.Fatal(err)
	}
	deadline = time.After(20 * time.Second)
	for {
		select {
		case r := <-b.m.Received():
			if string(r.Payload) == "delta-2" {
				return
			}
		case <-deadline:
			t.Fatal("gossip stopped after the key rotation")
		}
	}
}

func TestLANMeshConfigRejects(t *testing.T) {
	for name, mut := range map[string]func(*LANMeshConfig){
		"bad grace": func(c *LANMeshConfig) {
			c.Listen = netip.MustParseAddr("127.0.0.1")
			c.KeyGrace = -1
		},
		"wildcard": func(c *LANMeshConfig) {
			c.Listen = netip.IPv4Unspecified()
			c.StaticPeers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
		},
		"no listen": func(c *LANMeshConfig) {
			c.StaticPeers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
		},
		"bad port": func(c *LANMeshConfig) {
			c.Listen = netip.MustParseAddr("127.0.0.1")
			c.StaticPeers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
			c.GossipPort = 70000
		},
	} {
		c := DefaultLANMeshConfig()
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewLANMesh(DefaultLANMeshConfig(), Enrollment{}, MeshEnv{Blobs: mapBlobs{}}); err == nil {
		t.Error("a config with nothing set was accepted")
	}
	if _, _, ok := decodeMeta([]byte("p2p=nonsense tport=7")); ok {
		t.Error("a malformed peer id was accepted")
	}
}
