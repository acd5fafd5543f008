package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// The store's mesh key, as a LANMesh holds it.
//
// Origin rotates the key when it revokes a device. A node that syncs the new key encrypts its gossip with it at
// once and still reads the old one for LANMeshConfig.KeyGrace; its peers that have not synced yet could not read it,
// and a node without an uplink would never get the key at all. So the key also travels between the store's
// devices over libp2p (transfer's exchange protocol), whose gate admits only the devices of the store's signed list:
//
//   - hand-over: a node that gets a newer key from origin offers it at once to every peer it knows;
//   - ask: every second, a node exchanges keys with the peers it knows of that are not gossip members (at most
//     once per keyAskEvery per peer): a node restarted after a rotation, or one whose peers moved on, finds them
//     again within seconds.
//
// Origin signs each key (api.Mesh.Sig over mesh id, epoch and key), so a node takes a key from a peer only when it
// is newer and verifies: no device, listed or not, can push a key of its own making onto the store. And a node
// passes on only a key it got from origin itself: origin sends the shortened device list with the rotated key, so
// such a node's gate already shuts the revoked device out, while a node that got the key from a peer may still
// admit the revoked device until the new list reaches it.
type meshKey struct {
	cur     api.Mesh             // the key this node encrypts with, and origin's signature of it
	relayed bool                 // cur was handed over by a peer: not passed on
	oldKey  []byte               // the previous key, accepted until keyDrop
	keyDrop time.Time            // zero: no old key installed
	asked   map[string]time.Time // libp2p peer id -> last exchange started
	origin  ed25519.PublicKey    // origin's key, pinned at enrollment
	save    func(m api.Mesh, fromPeer bool) error
}

// keyAskEvery bounds how often a node exchanges keys with one peer that is not a gossip member: often enough that
// a node which missed a rotation is back within seconds, seldom enough to cost nothing.
const keyAskEvery = 30 * time.Second

// maxKeyExchanges bounds exchanges in flight; each ends within the transfer timeouts.
const maxKeyExchanges = 4

// keyOffer is one side of a key exchange: a node's epoch, and its key with origin's signature when it passes keys
// on.
type keyOffer struct {
	Epoch uint32    `json:"epoch"`
	Mesh  *api.Mesh `json:"mesh,omitempty"`
}

// SetKey implements Mesh: a key synced from origin. A newer epoch becomes primary at once, the previous key is
// accepted for KeyGrace, and the key is handed to the peers; the same key from origin after a hand-over makes it
// one this node passes on.
func (m *LANMesh) SetKey(k api.Mesh) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case k.Epoch < m.key.cur.Epoch:
		return nil
	case k.Epoch == m.key.cur.Epoch:
		if !m.key.relayed || !slices.Equal(k.Key, m.key.cur.Key) {
			return nil
		}
		m.key.cur.Sig, m.key.relayed = k.Sig, false
		m.saveKey()
		return nil
	}
	if err := m.installKey(k, false); err != nil {
		return err
	}
	select {
	case m.keyPush <- struct{}{}:
	default:
	}
	return nil
}

// installKey makes k primary, keeping the current key for KeyGrace; m.mu is held.
func (m *LANMesh) installKey(k api.Mesh, fromPeer bool) error {
	prev := m.key.cur.Key
	if err := m.g.SetKeys([][]byte{k.Key, prev}); err != nil {
		return err
	}
	k.Key, k.Sig = slices.Clone(k.Key), slices.Clone(k.Sig)
	m.key.cur, m.key.relayed = k, fromPeer
	m.key.oldKey, m.key.keyDrop = prev, time.Now().Add(m.cfg.KeyGrace)
	m.saveKey()
	clear(m.key.asked) // peers that seemed gone may only have had the other key
	return nil
}

// saveKey persists the current key so a restart comes back with it; m.mu is held. A failure is logged: the node
// keeps the key in memory and gets it again from origin or a peer after a restart.
func (m *LANMesh) saveKey() {
	if m.key.save == nil {
		return
	}
	if err := m.key.save(m.key.cur, m.key.relayed); err != nil {
		m.cfg.Log.Warn("mesh: keeping the new mesh key on disk failed", "epoch", m.key.cur.Epoch, "err", err)
	}
}

func (m *LANMesh) dropOldKey(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key.keyDrop.IsZero() || now.Before(m.key.keyDrop) {
		return
	}
	if err := m.g.SetKeys([][]byte{m.key.cur.Key}); err != nil {
		m.cfg.Log.Warn("mesh: dropping the rotated-out key", "err", err)
		return
	}
	m.key.oldKey, m.key.keyDrop = nil, time.Time{}
}

// offer is what this node says in a key exchange; m.mu is held.
func (m *LANMesh) offer() []byte {
	o := keyOffer{Epoch: m.key.cur.Epoch}
	if !m.key.relayed && len(m.key.cur.Sig) > 0 {
		k := m.key.cur
		o.Mesh = &k
	}
	b, _ := json.Marshal(o) // a struct of numbers, strings and bytes: cannot fail
	return b
}

// take adopts a peer's offered key when it is newer and origin signed it for this mesh; m.mu is held.
func (m *LANMesh) take(peer string, b []byte) {
	var o keyOffer
	if err := json.Unmarshal(b, &o); err != nil {
		m.cfg.Log.Warn("mesh: unreadable key offer", "peer", peer, "err", err)
		return
	}
	if o.Mesh == nil || o.Mesh.Epoch <= m.key.cur.Epoch {
		return
	}
	if o.Mesh.Epoch != o.Epoch || !api.VerifyMesh(m.key.origin, m.key.cur.ID, *o.Mesh) {
		m.cfg.Log.Warn("mesh: a peer offered a mesh key origin did not sign", "peer", peer, "epoch", o.Mesh.Epoch)
		return
	}
	if err := m.installKey(*o.Mesh, true); err != nil {
		m.cfg.Log.Warn("mesh: installing a peer's mesh key", "peer", peer, "err", err)
		return
	}
	m.cfg.Log.Info("mesh: took the store's rotated mesh key from a peer", "peer", peer, "epoch", o.Mesh.Epoch)
}

// exchangeKey answers a peer's key exchange (transfer.Config.Exchange; the gate admitted the peer).
func (m *LANMesh) exchangeKey(peer string, msg []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.take(peer, msg)
	return m.offer()
}

// askForKey exchanges keys with the known peers that are not gossip members, each at most once per keyAskEvery.
func (m *LANMesh) askForKey(ctx context.Context) {
	live := map[string]bool{}
	for _, mb := range m.g.Members() {
		live[mb.Name] = true
	}
	now := time.Now()
	var ids []string
	m.mu.Lock()
	for node, id := range m.p2p {
		if !live[node] && now.Sub(m.key.asked[id]) >= keyAskEvery {
			m.key.asked[id] = now
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	if len(ids) > 0 {
		go m.exchangeWith(ctx, ids)
	}
}

// handOverKey offers a key from origin to every known peer.
func (m *LANMesh) handOverKey(ctx context.Context) {
	var ids []string
	m.mu.Lock()
	for _, id := range m.p2p {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	go m.exchangeWith(ctx, ids)
}

// exchangeWith runs key exchanges with ids, maxKeyExchanges at a time; a failed one is only logged (a peer not in
// this node's list, or gone).
func (m *LANMesh) exchangeWith(ctx context.Context, ids []string) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	sem := make(chan struct{}, maxKeyExchanges)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m.mu.Lock()
			msg := m.offer()
			m.mu.Unlock()
			reply, err := m.t.Exchange(ctx, id, msg)
			if err != nil {
				m.cfg.Log.Debug("mesh: key exchange", "peer", id, "err", err)
				return
			}
			m.mu.Lock()
			m.take(id, reply)
			m.mu.Unlock()
		}()
	}
	wg.Wait()
}

// KeyStatus returns the mesh key's epoch and whether a peer handed it over (rather than origin).
func (m *LANMesh) KeyStatus() (epoch uint32, fromPeer bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.key.cur.Epoch, m.key.relayed
}

// Refused counts libp2p connections the gate closed: peers outside the store's signed device list.
func (m *LANMesh) Refused() uint64 { return m.t.Stats().Refused }
