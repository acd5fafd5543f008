package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/lomuz/lomuz/peer/discovery"
	"github.com/lomuz/lomuz/peer/gossip"
	"github.com/lomuz/lomuz/peer/transfer"
	"github.com/lomuz/lomuz/player/download"
)

// LANMeshConfig configures a LANMesh: where the store mesh listens and how it finds peers. Start from
// DefaultLANMeshConfig.
type LANMeshConfig struct {
	// Interfaces are the store LAN interfaces mDNS announces and browses on. Empty disables mDNS: peers then come
	// from StaticPeers only (networks that block multicast).
	Interfaces []string
	// Listen is the address gossip and libp2p bind. Invalid (zero): the first IPv4 address of Interfaces[0].
	// Unspecified addresses (0.0.0.0) are refused: the mesh never listens on every interface of the device.
	Listen netip.Addr
	// GossipPort and TransferPort are the memberlist (UDP and TCP) and libp2p (TCP) ports; 0 picks a free one,
	// which discovery announces.
	GossipPort, TransferPort int
	// StaticPeers are gossip addresses (host:port) joined and re-joined always.
	StaticPeers []netip.AddrPort
	// KeyGrace is how long a rotated-out mesh key is still accepted, so that nodes which have not synced the new
	// key yet stay in the mesh; after it a revoked device holding only the old key is shut out (seconds to
	// minutes: a node syncs with origin every few tens of seconds).
	KeyGrace time.Duration
	// Inbox bounds undelivered gossip payloads and states; beyond it they are dropped like lost UDP packets and
	// anti-entropy repairs the loss.
	Inbox int
	// Discovery, Gossip and Transfer tune the peer adapters; identity, addresses, keys and callbacks are filled
	// from the enrollment and the fields above.
	Discovery discovery.Config
	Gossip    gossip.Config
	Transfer  transfer.Config
	Log       *slog.Logger
}

// DefaultLANMeshConfig is the mesh on a store LAN with the adapters' defaults and fixed ports (7946 gossip, memberlist's
// customary port; 7947 libp2p), so that static peer lists stay stable across restarts.
func DefaultLANMeshConfig() LANMeshConfig {
	return LANMeshConfig{GossipPort: 7946, TransferPort: 7947, KeyGrace: 2 * time.Minute, Inbox: 4096,
		Discovery: discovery.DefaultConfig(), Gossip: gossip.DefaultConfig(), Transfer: transfer.DefaultConfig()}
}

func (c *LANMeshConfig) validate() error {
	if !c.Listen.IsValid() {
		if len(c.Interfaces) == 0 {
			return errors.New("node: mesh: no listen address and no interface to take one from")
		}
		a, err := firstIPv4(c.Interfaces[0])
		if err != nil {
			return err
		}
		c.Listen = a
	}
	if c.Listen.IsUnspecified() {
		return fmt.Errorf("node: mesh: listen address %v is not a specific interface address", c.Listen)
	}
	if c.GossipPort < 0 || c.GossipPort > 65535 || c.TransferPort < 0 || c.TransferPort > 65535 {
		return fmt.Errorf("node: mesh: ports %d/%d outside 0-65535", c.GossipPort, c.TransferPort)
	}
	for _, a := range c.StaticPeers {
		if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() {
			return fmt.Errorf("node: mesh: static peer %v is not host:port", a)
		}
	}
	if c.KeyGrace <= 0 || c.KeyGrace > 24*time.Hour {
		return fmt.Errorf("node: mesh: key grace %v outside (0, 24 h]", c.KeyGrace)
	}
	if c.Inbox < 16 || c.Inbox > 1<<20 {
		return fmt.Errorf("node: mesh: inbox %d outside 16-1048576", c.Inbox)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func firstIPv4(name string) (netip.Addr, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("node: mesh: interface %q: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("node: mesh: interface %q: %w", name, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("node: mesh: interface %q has no IPv4 address", name)
}

// LANMesh is the real store mesh: mDNS discovery, memberlist gossip and libp2p blob transfer behind the Mesh
// interface the Runner drives. It implements Mesh; its methods are safe for concurrent use. Nothing moves before
// Serve, and everything stops when Serve's context ends.
type LANMesh struct {
	cfg   LANMeshConfig
	self  string
	blobs BlobOpener
	disc  *discovery.Discovery // nil without interfaces
	g     *gossip.Gossip
	t     *transfer.Host

	recv    chan GossipReceived
	members chan []string
	poke    chan struct{} // membership changed: Serve recomputes the member set
	state   atomic.Pointer[[]byte]
	dropped atomic.Uint64
	directs chan struct{} // slots for direct sends in flight
	keyPush chan struct{} // a key from origin: hand it to the peers

	mu     sync.Mutex
	p2p    map[string]string // device id -> libp2p peer id, from member metadata and discovery
	served map[string]int64  // device id (or "p2p:<id>") -> blob bytes served to it
	key    meshKey
}

// NewLANMesh binds the gossip and libp2p sockets for enrolled device en and serves blobs from env.Blobs. Call
// Serve.
func NewLANMesh(cfg LANMeshConfig, en Enrollment, env MeshEnv) (*LANMesh, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if en.DeviceID == "" || len(en.Mesh.Key) == 0 || len(en.PeerKey) == 0 {
		return nil, errors.New("node: mesh: the enrollment has no device id, mesh key or peer key")
	}
	m := &LANMesh{cfg: cfg, self: en.DeviceID, blobs: env.Blobs, recv: make(chan GossipReceived, cfg.Inbox),
		members: make(chan []string, 1), poke: make(chan struct{}, 1), p2p: map[string]string{},
		directs: make(chan struct{}, maxDirectSends), keyPush: make(chan struct{}, 1)}
	m.key = meshKey{cur: en.Mesh, relayed: en.MeshFromPeer, origin: ed25519.PublicKey(en.OriginPublicKey),
		save: env.SaveKey, asked: map[string]time.Time{}}
	tc := cfg.Transfer
	tc.ListenAddrs = []netip.AddrPort{netip.AddrPortFrom(cfg.Listen, uint16(cfg.TransferPort))}
	tc.PrivateKey = en.PeerKey
	tc.Open = m.open
	tc.Served = m.onServed
	tc.Exchange = m.exchangeKey
	if tc.Log == nil {
		tc.Log = cfg.Log
	}
	var err error
	if m.t, err = transfer.New(tc); err != nil {
		return nil, err
	}
	tport := uint16(0)
	for _, a := range m.t.Addrs() {
		if a.Addr() == cfg.Listen {
			tport = a.Port()
		}
	}
	gc := cfg.Gossip
	gc.NodeName, gc.BindAddr, gc.BindPort = en.DeviceID, cfg.Listen, cfg.GossipPort
	gc.Keys = [][]byte{en.Mesh.Key}
	gc.Meta = encodeMeta(m.t.ID(), tport)
	gc.Handler = (*meshHandler)(m)
	if gc.Log == nil {
		gc.Log = cfg.Log
	}
	if m.g, err = gossip.New(gc); err != nil {
		m.t.Close()
		return nil, err
	}
	if len(cfg.Interfaces) > 0 {
		dc := cfg.Discovery
		dc.Interfaces, dc.NodeID, dc.MeshID, dc.PeerID = cfg.Interfaces, en.DeviceID, en.Mesh.ID, m.t.ID()
		dc.GossipPort, dc.TransferPort, dc.StaticPeers = m.g.LocalAddr().Port(), tport, cfg.StaticPeers
		if dc.Log == nil {
			dc.Log = cfg.Log
		}
		if m.disc, err = discovery.New(dc); err != nil {
			m.g.Shutdown()
			m.t.Close()
			return nil, err
		}
	}
	return m, nil
}

// LANMeshFactory returns a DeviceConfig.Mesh factory whose meshes are served until ctx ends.
func LANMeshFactory(ctx context.Context, cfg LANMeshConfig) func(Enrollment, MeshEnv) (Mesh, error) {
	return func(en Enrollment, env MeshEnv) (Mesh, error) {
		m, err := NewLANMesh(cfg, en, env)
		if err != nil {
			return nil, err
		}
		go func() {
			if err := m.Serve(ctx); err != nil {
				cfg.Log.Error("store mesh stopped", "err", err)
			}
		}()
		return m, nil
	}
}

// Serve runs discovery, gossip and transfer until ctx ends, feeding discovered peers to gossip (join and re-join
// targets) and to libp2p (addresses), and member changes to Members. It returns the first adapter's failure.
func (m *LANMesh) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	n := 0
	run := func(name string, f func(context.Context) error) {
		n++
		go func() {
			err := f(ctx)
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("node: mesh %s: %w", name, err)
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	run("transfer", m.t.Serve)
	run("gossip", m.g.Serve)
	var changes <-chan struct{}
	if m.disc != nil {
		run("discovery", m.disc.Serve)
		changes = m.disc.Changes()
	}
	m.peersChanged()
	tick := time.NewTicker(time.Second) // key grace and key hand-overs; bounded work per tick
	defer tick.Stop()
	var first error
	for {
		select {
		case <-ctx.Done():
			for ; n > 0; n-- {
				if err := <-errs; err != nil && first == nil {
					first = err
				}
			}
			return first
		case err := <-errs:
			n--
			if err != nil {
				first = err
				cancel()
			}
		case <-changes:
			m.peersChanged()
		case <-m.poke:
			m.membersChanged()
		case <-m.keyPush:
			m.handOverKey(ctx)
		case <-tick.C:
			m.dropOldKey(time.Now())
			m.askForKey(ctx)
		}
	}
}

// peersChanged hands discovered and static peers to gossip and libp2p, and joins the ones not yet members.
func (m *LANMesh) peersChanged() {
	var peers []discovery.Peer
	if m.disc != nil {
		peers = m.disc.Peers()
	} else {
		for _, a := range m.cfg.StaticPeers {
			peers = append(peers, discovery.Peer{NodeID: "static:" + a.String(), Addrs: []netip.Addr{a.Addr()},
				GossipPort: a.Port(), Static: true})
		}
	}
	live := map[string]bool{}
	for _, mb := range m.g.Members() {
		live[mb.Name] = true
	}
	var targets, join []netip.AddrPort
	for _, p := range peers {
		if p.NodeID == m.self {
			continue
		}
		targets = append(targets, p.Gossip()...)
		if !live[p.NodeID] {
			join = append(join, p.Gossip()...)
		}
		if p.PeerID != "" && p.TransferPort != 0 {
			m.learn(p.NodeID, p.PeerID, p.Addrs, p.TransferPort)
		}
	}
	m.g.SetRejoinTargets(targets)
	if len(join) > 0 {
		// Join blocks up to the TCP timeout; off the loop so membership events keep flowing.
		go func() {
			if _, err := m.g.Join(join); err != nil {
				m.cfg.Log.Debug("mesh join", "err", err)
			}
		}()
	}
}

// peerAddrTTL is how long libp2p keeps a peer's address; refreshed on every membership or discovery change.
const peerAddrTTL = 10 * time.Minute

func (m *LANMesh) learn(node, id string, addrs []netip.Addr, port uint16) {
	m.mu.Lock()
	m.p2p[node] = id
	m.mu.Unlock()
	aps := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		aps[i] = netip.AddrPortFrom(a, port)
	}
	if err := m.t.AddAddrs(id, aps, peerAddrTTL); err != nil {
		m.cfg.Log.Warn("mesh: peer address", "node", node, "err", err)
	}
}

// membersChanged publishes the live peers (latest value wins) and learns their libp2p ids and ports.
func (m *LANMesh) membersChanged() {
	var live []string
	for _, mb := range m.g.Members() {
		if mb.Name == m.self {
			continue
		}
		live = append(live, mb.Name)
		if id, port, ok := decodeMeta(mb.Meta); ok {
			m.learn(mb.Name, id, []netip.Addr{mb.Addr.Addr()}, port)
		}
	}
	slices.Sort(live)
	select {
	case <-m.members:
	default:
	}
	m.members <- live
}

// Member metadata: "p2p=<peer id> tport=<port>", so static peers (no TXT) still give their libp2p address.
func encodeMeta(id string, port uint16) []byte {
	return []byte("p2p=" + id + " tport=" + strconv.Itoa(int(port)))
}

func decodeMeta(b []byte) (id string, port uint16, ok bool) {
	if len(b) > 256 {
		return "", 0, false
	}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "p2p":
			if _, err := peer.Decode(v); err == nil {
				id = v
			}
		case "tport":
			if p, err := strconv.ParseUint(v, 10, 16); err == nil {
				port = uint16(p)
			}
		}
	}
	return id, port, id != "" && port != 0
}

// Broadcast implements Mesh.
func (m *LANMesh) Broadcast(b []byte) error { return m.g.Broadcast(b) }

// maxDirectSends bounds direct sends in flight; each walks the members one stream at a time. Oversize deltas are
// rare (a catalog record over a packet), so a full set of slots means peers are unreachable: push/pull catches up.
const maxDirectSends = 4

// SendDirect implements Mesh: in the background, one slot per send, dropped (left to push/pull) when all are busy.
func (m *LANMesh) SendDirect(b []byte) {
	select {
	case m.directs <- struct{}{}:
	default:
		m.cfg.Log.Warn("mesh: direct sends backlogged; the delta waits for push/pull", "bytes", len(b))
		return
	}
	go func() {
		defer func() { <-m.directs }()
		if n, err := m.g.SendDirect(b); err != nil {
			m.cfg.Log.Warn("mesh: direct send incomplete; push/pull covers the rest", "sent", n, "err", err)
		}
	}()
}

// Received implements Mesh.
func (m *LANMesh) Received() <-chan GossipReceived { return m.recv }

// Members implements Mesh.
func (m *LANMesh) Members() <-chan []string { return m.members }

// SetLocalState implements Mesh.
func (m *LANMesh) SetLocalState(b []byte) {
	c := slices.Clone(b)
	m.state.Store(&c)
}

// SetAllowed implements Mesh: keys are libp2p-marshalled public keys (origin's DeviceKey.PeerPublicKey). A key
// that does not parse is skipped and logged: one bad entry must not shut out the rest of the store.
func (m *LANMesh) SetAllowed(keys [][]byte) {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		pub, err := crypto.UnmarshalPublicKey(k)
		if err != nil {
			m.cfg.Log.Warn("mesh: unusable device key in the signed list", "err", err)
			continue
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			m.cfg.Log.Warn("mesh: unusable device key in the signed list", "err", err)
			continue
		}
		ids = append(ids, id.String())
	}
	if err := m.t.SetAllowed(ids); err != nil {
		m.cfg.Log.Warn("mesh: allow list", "err", err)
	}
}

// Source implements Mesh: blobs from peer (a device id) over libp2p.
func (m *LANMesh) Source(peer string) download.Source { return lanSource{m: m, node: peer} }

// LANMeshStats are the mesh's counters for status and metrics.
type LANMeshStats struct {
	Members  int
	Gossip   gossip.Stats
	Transfer transfer.Stats
	Dropped  uint64 // payloads dropped because the node's inbox was full
}

// Stats returns the counters.
func (m *LANMesh) Stats() LANMeshStats {
	return LANMeshStats{Members: len(m.g.Members()) - 1, Gossip: m.g.Stats(), Transfer: m.t.Stats(),
		Dropped: m.dropped.Load()}
}

// open serves a blob of the node's cache to a peer: only complete, verified blobs (what the cache opens).
func (m *LANMesh) open(sha [32]byte) (io.ReadSeeker, int64, error) {
	f, err := m.blobs.Open(hex.EncodeToString(sha[:]))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", transfer.ErrNotFound, err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// onServed counts bytes served to a peer under its device id (transfer.Config.Served).
func (m *LANMesh) onServed(id string, _ [32]byte, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	who := "p2p:" + id
	for dev, pid := range m.p2p {
		if pid == id {
			who = dev
			break
		}
	}
	if m.served == nil {
		m.served = map[string]int64{}
	}
	m.served[who] += n
}

// ServedTo returns the blob bytes served to each peer device since the mesh started.
func (m *LANMesh) ServedTo() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.served)
}

func (m *LANMesh) deliver(from string, b []byte) {
	select {
	case m.recv <- GossipReceived{From: from, Payload: b}:
	default:
		m.dropped.Add(1)
	}
}

// meshHandler receives gossip's callbacks (memberlist goroutines): it only hands bytes and signals over.
type meshHandler LANMesh

func (h *meshHandler) Message(b []byte) { (*LANMesh)(h).deliver("gossip", b) }
func (h *meshHandler) LocalState(bool) []byte {
	if p := h.state.Load(); p != nil {
		return *p
	}
	return nil
}
func (h *meshHandler) MergeRemoteState(b []byte, _ bool) { (*LANMesh)(h).deliver("push/pull", b) }
func (h *meshHandler) MemberJoin(gossip.Member)          { h.signal() }
func (h *meshHandler) MemberLeave(gossip.Member)         { h.signal() }
func (h *meshHandler) signal() {
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

type lanSource struct {
	m    *LANMesh
	node string
}

// Fetch implements download.Source; the cache verifies the hash, and the Runner drops a peer that served bad bytes.
func (s lanSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	var h [32]byte
	if b, err := hex.DecodeString(sha); err != nil || len(b) != len(h) {
		return 0, fmt.Errorf("node: mesh: bad sha256 %q", sha)
	} else {
		copy(h[:], b)
	}
	s.m.mu.Lock()
	id := s.m.p2p[s.node]
	s.m.mu.Unlock()
	if id == "" {
		return 0, fmt.Errorf("node: mesh: no libp2p address known for peer %s", s.node)
	}
	cw := &countWriter{w: w}
	_, err := s.m.t.Fetch(ctx, id, h, offset, cw, nil)
	return cw.n, err
}

var _ Mesh = (*LANMesh)(nil)
