package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// signedMesh is a mesh key as origin (priv) issues it.
func signedMesh(priv ed25519.PrivateKey, id string, epoch uint32, fill byte) api.Mesh {
	m := api.Mesh{ID: id, Key: bytes.Repeat([]byte{fill}, 32), Epoch: epoch}
	m.Sig = ed25519.Sign(priv, api.MeshSigningBytes(m))
	return m
}

// savedKeys records what a node keeps on disk.
type savedKeys struct {
	mu   sync.Mutex
	last api.Mesh
	peer bool
}

func (s *savedKeys) save(m api.Mesh, fromPeer bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.peer = m, fromPeer
	return nil
}

func (s *savedKeys) get() (api.Mesh, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.peer
}

// TestMeshKeyHandOver: three meshes on loopback; origin's rotated key reaches one of them. Without the hand-over the
// other two could not read it once the key grace ends; with it they take the key from that peer, keep it on disk
// as handed over, do not pass it on, and all three stay one mesh past the grace. A key origin did not sign, or one
// for another mesh, is refused.
func TestMeshKeyHandOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opub, opriv, _ := ed25519.GenerateKey(rand.Reader)
	k1 := signedMesh(opriv, "m1", 1, 7)
	saved := map[string]*savedKeys{}
	opt := func(id string) loopOpt {
		saved[id] = &savedKeys{}
		return func(c *LANMeshConfig, en *Enrollment, env *MeshEnv) {
			c.KeyGrace = 2 * time.Second
			en.OriginPublicKey, en.Mesh = opub, k1
			env.SaveKey = saved[id].save
		}
	}
	a := newLoopNode(t, ctx, "dev-a", k1.Key, nil, mapBlobs{}, opt("dev-a"))
	b := newLoopNode(t, ctx, "dev-b", k1.Key, []netip.AddrPort{a.m.g.LocalAddr()}, mapBlobs{}, opt("dev-b"))
	c := newLoopNode(t, ctx, "dev-c", k1.Key, []netip.AddrPort{a.m.g.LocalAddr()}, mapBlobs{}, opt("dev-c"))
	nodes := []loopNode{a, b, c}
	allowed := [][]byte{a.pubKey, b.pubKey, c.pubKey}
	for _, n := range nodes {
		n.m.SetAllowed(allowed)
	}
	waitMembers(t, a.m, []string{"dev-b", "dev-c"}, 20*time.Second)

	k2 := signedMesh(opriv, "m1", 2, 8)
	if err := a.m.SetKey(k2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "b and c to take the key from a", func() bool {
		for _, n := range []loopNode{b, c} {
			if e, fromPeer := n.m.KeyStatus(); e != 2 || !fromPeer {
				return false
			}
		}
		return true
	})
	for _, id := range []string{"dev-b", "dev-c"} {
		if m, peer := saved[id].get(); m.Epoch != 2 || !bytes.Equal(m.Key, k2.Key) || !peer {
			t.Fatalf("%s kept epoch %d from a peer %v on disk", id, m.Epoch, peer)
		}
	}
	if m, peer := saved["dev-a"].get(); m.Epoch != 2 || peer {
		t.Fatalf("a kept epoch %d from a peer %v on disk", m.Epoch, peer)
	}
	// A node that took the key from a peer does not pass it on; once origin confirms it, it does.
	var o keyOffer
	b.m.mu.Lock()
	_ = json.Unmarshal(b.m.offer(), &o)
	b.m.mu.Unlock()
	if o.Epoch != 2 || o.Mesh != nil {
		t.Fatalf("b offers %+v", o)
	}
	if err := b.m.SetKey(k2); err != nil {
		t.Fatal(err)
	}
	if _, fromPeer := b.m.KeyStatus(); fromPeer {
		t.Fatal("origin's confirmation left b's key marked as handed over")
	}
	b.m.mu.Lock()
	_ = json.Unmarshal(b.m.offer(), &o)
	b.m.mu.Unlock()
	if o.Mesh == nil || o.Mesh.Epoch != 2 {
		t.Fatalf("b, confirmed by origin, offers %+v", o)
	}

	// Past the grace, only the new key is read: the three are still one mesh.
	time.Sleep(3 * time.Second)
	for _, n := range nodes {
		n.m.dropOldKey(time.Now())
	}
	if err := c.m.Broadcast([]byte("after the grace")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for got := false; !got; {
		select {
		case r := <-a.m.Received():
			got = string(r.Payload) == "after the grace"
		case <-deadline:
			t.Fatal("a never read c's gossip after the grace")
		}
	}

	// Forged offers: another origin's signature, another mesh, an epoch that does not match.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged := []api.Mesh{signedMesh(other, "m1", 9, 1), signedMesh(opriv, "m2", 9, 1)}
	mismatch := signedMesh(opriv, "m1", 9, 1)
	for i, f := range forged {
		msg, _ := json.Marshal(keyOffer{Epoch: f.Epoch, Mesh: &f})
		a.m.exchangeKey("forger", msg)
		if e, _ := a.m.KeyStatus(); e != 2 {
			t.Fatalf("forged key %d taken: epoch %d", i, e)
		}
	}
	msg, _ := json.Marshal(keyOffer{Epoch: 3, Mesh: &mismatch})
	a.m.exchangeKey("forger", msg)
	a.m.exchangeKey("forger", []byte("{not json"))
	if e, _ := a.m.KeyStatus(); e != 2 {
		t.Fatalf("a key with a mismatched epoch was taken: epoch %d", e)
	}
	if !slices.Equal(a.m.key.cur.Key, k2.Key) {
		t.Fatal("a's key changed")
	}
}
