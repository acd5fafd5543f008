package transfer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	yamux "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Errors a caller tells apart with errors.Is.
var (
	ErrNotFound   = errors.New("transfer: blob not found")
	ErrNotAllowed = errors.New("transfer: peer not in the allow list")
	ErrStalled    = errors.New("transfer: stream stalled")
	ErrBadPeer    = errors.New("transfer: peer broke the protocol") // wrong size, malformed header: drop the source
)

// Host is a libp2p host that serves and fetches blobs. Its methods are safe for concurrent use.
type Host struct {
	cfg   Config
	h     host.Host
	gater *gater

	fetchSem chan struct{} // bounds concurrent fetches (MaxFetchStreams)
	stats    counters
}

// Stats are counters since New, for status pages and metrics.
type Stats struct {
	BytesServed, BytesFetched uint64 // blob bytes sent to and received from peers
	Served, ServeFailed       uint64 // inbound streams that delivered a blob, and that ended otherwise
	Fetched, FetchFailed      uint64 // Fetch calls that succeeded, and that failed
	Refused                   uint64 // connections the gater closed after the handshake: the peer is not listed
}

type counters struct {
	bytesServed, bytesFetched, served, serveFailed, fetched, fetchFailed atomic.Uint64
}

// Stats returns the counters.
func (t *Host) Stats() Stats {
	c := &t.stats
	return Stats{BytesServed: c.bytesServed.Load(), BytesFetched: c.bytesFetched.Load(), Served: c.served.Load(),
		ServeFailed: c.serveFailed.Load(), Fetched: c.fetched.Load(), FetchFailed: c.fetchFailed.Load(),
		Refused: t.gater.refused.Load()}
}

// PeerID returns the libp2p peer id (its string form) of a device's ed25519 public key: what origin lists and
// what the gater compares.
func PeerID(pub ed25519.PublicKey) (string, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// New starts a host listening on cfg.ListenAddrs. It admits no peer until SetAllowed is called. Call Serve to run
// it until a context ends, or Close.
func New(cfg Config) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("transfer: private key: %w", err)
	}
	listen := make([]ma.Multiaddr, 0, len(cfg.ListenAddrs))
	for _, a := range cfg.ListenAddrs {
		m, err := manet.FromNetAddr(net.TCPAddrFromAddrPort(a))
		if err != nil {
			return nil, fmt.Errorf("transfer: listen address %v: %w", a, err)
		}
		listen = append(listen, m)
	}
	rm, err := newResourceManager(cfg)
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(cfg.MaxConns/2, cfg.MaxConns, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, err
	}
	g := &gater{allowed: map[peer.ID]bool{}}
	mux := *yamux.DefaultTransport // a copy: the default is shared by every host of the process
	mux.MaxStreamWindowSize = cfg.YamuxWindow
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrs(listen...),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, &mux),
		libp2p.ConnectionGater(g),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
		libp2p.WithDialTimeout(cfg.DialTimeout),
	}
	switch cfg.Security {
	case "noise":
		opts = append(opts, libp2p.Security(noise.ID, noise.New))
	default:
		opts = append(opts, libp2p.Security(libp2ptls.ID, libp2ptls.New))
	}
	if cfg.PSK != nil {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(slices.Clone(cfg.PSK))))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = rm.Close()
		return nil, fmt.Errorf("transfer: start libp2p host: %w", err)
	}
	g.net = h.Network()
	t := &Host{cfg: cfg, h: h, gater: g, fetchSem: make(chan struct{}, cfg.MaxFetchStreams)}
	h.SetStreamHandler(protocol.ID(ProtocolID), t.handle)
	h.SetStreamHandler(protocol.ID(ExchangeProtocolID), t.handleExchange)
	return t, nil
}

func newResourceManager(cfg Config) (network.ResourceManager, error) {
	base := rcmgr.DefaultLimits.AutoScale()
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:  rcmgr.LimitVal(cfg.MaxConns),
			Memory: rcmgr.LimitVal64(cfg.MemoryLimit),
		},
		Transient: rcmgr.ResourceLimits{Memory: rcmgr.LimitVal64(cfg.MemoryLimit / 4)},
		PeerDefault: rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(cfg.MaxStreamsPerPeerConn),
			Memory:  rcmgr.LimitVal64(cfg.PeerMemoryLimit),
		},
		Protocol: map[protocol.ID]rcmgr.ResourceLimits{ExchangeProtocolID: {
			StreamsInbound: rcmgr.LimitVal(16), StreamsOutbound: rcmgr.LimitVal(16), Streams: rcmgr.LimitVal(32),
			Memory: rcmgr.LimitVal64(4 << 20),
		}, ProtocolID: {
			StreamsInbound:  rcmgr.LimitVal(cfg.MaxServeStreams),
			StreamsOutbound: rcmgr.LimitVal(cfg.MaxFetchStreams),
			Streams:         rcmgr.LimitVal(cfg.MaxServeStreams + cfg.MaxFetchStreams),
			Memory:          rcmgr.LimitVal64(cfg.MemoryLimit),
		}},
		// Exchanges are a few KB once in a while (mesh key hand-overs): a handful in flight is plenty, and a peer
		// that floods them cannot take blob streams' memory.
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{ExchangeProtocolID: {
			StreamsInbound: rcmgr.LimitVal(2), StreamsOutbound: rcmgr.LimitVal(2), Streams: rcmgr.LimitVal(4),
			Memory: rcmgr.LimitVal64(1 << 20),
		}, ProtocolID: {
			StreamsInbound:  rcmgr.LimitVal(cfg.MaxServeStreamsPeer),
			StreamsOutbound: rcmgr.LimitVal(cfg.MaxFetchStreams),
			Streams:         rcmgr.LimitVal(cfg.MaxServeStreamsPeer + cfg.MaxFetchStreams),
			Memory:          rcmgr.LimitVal64(cfg.PeerMemoryLimit),
		}},
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(base)))
	if err != nil {
		return nil, fmt.Errorf("transfer: resource manager: %w", err)
	}
	return rm, nil
}

// ID is this host's peer id.
func (t *Host) ID() string { return t.h.ID().String() }

// Addrs returns the addresses the host listens on, with the ports the kernel chose.
func (t *Host) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, m := range t.h.Network().ListenAddresses() {
		na, err := manet.ToNetAddr(m)
		if err != nil {
			continue
		}
		if ap, err := netip.ParseAddrPort(na.String()); err == nil {
			out = append(out, ap)
		}
	}
	return out
}

// SetAllowed replaces the allow list with ids (peer ids, as PeerID returns them) and closes every connection to a
// peer that is no longer listed, which resets its streams in flight. An invalid id fails the call and changes
// nothing.
func (t *Host) SetAllowed(ids []string) error {
	next := make(map[peer.ID]bool, len(ids))
	for _, s := range ids {
		id, err := peer.Decode(s)
		if err != nil {
			return fmt.Errorf("transfer: allow list entry %q: %w", s, err)
		}
		next[id] = true
	}
	t.gater.set(next)
	for _, p := range t.h.Network().Peers() {
		if !next[p] {
			_ = t.h.Network().ClosePeer(p)
		}
	}
	return nil
}

// AddAddrs records where a peer listens (from discovery or static configuration) for ttl.
func (t *Host) AddAddrs(id string, addrs []netip.AddrPort, ttl time.Duration) error {
	pid, err := peer.Decode(id)
	if err != nil {
		return fmt.Errorf("transfer: peer id %q: %w", id, err)
	}
	ms := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		m, err := manet.FromNetAddr(net.TCPAddrFromAddrPort(a))
		if err != nil {
			return fmt.Errorf("transfer: address %v: %w", a, err)
		}
		ms = append(ms, m)
	}
	t.h.Peerstore().AddAddrs(pid, ms, ttl)
	return nil
}

// Connected reports whether a connection to the peer is open.
func (t *Host) Connected(id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && t.h.Network().Connectedness(pid) == network.Connected
}

// Serve runs until ctx ends, then closes the host. The host listens from New on; Serve is the service's lifetime.
func (t *Host) Serve(ctx context.Context) error {
	<-ctx.Done()
	return t.Close()
}

// Close stops the host: listeners, connections and streams.
func (t *Host) Close() error { return t.h.Close() }

// gater admits only listed peers: it refuses to dial others and drops their connections right after the handshake
// proves who they are (InterceptSecured), before any stream opens.
type gater struct {
	mu      sync.RWMutex
	allowed map[peer.ID]bool
	net     network.Network
	refused atomic.Uint64
}

func (g *gater) set(m map[peer.ID]bool) {
	g.mu.Lock()
	g.allowed = m
	g.mu.Unlock()
}

func (g *gater) ok(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.allowed[p]
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return g.ok(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.ok(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	if !g.ok(p) {
		g.refused.Add(1)
		return false
	}
	return true
}
func (g *gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return g.ok(c.RemotePeer()), 0
}
