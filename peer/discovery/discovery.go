package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/grandcat/zeroconf"
)

// Service is the DNS-SD service type every Lomuz node announces.
const Service = "_lomuz._tcp"

// Config configures Discovery. Start from DefaultConfig.
type Config struct {
	// Interfaces are the names of the interfaces to announce and browse on (the store LAN). Required: mDNS never
	// runs on every interface of the device.
	Interfaces []string
	// NodeID, MeshID and PeerID are announced in TXT (1-64 bytes of [A-Za-z0-9._-] for the ids; PeerID is the
	// libp2p peer id). MeshID must not reveal the tenant: derive it, for example from a hash of the mesh key.
	NodeID, MeshID, PeerID string
	// GossipPort is announced as the SRV port and in TXT.
	GossipPort uint16
	// TransferPort is the libp2p TCP port, announced in TXT when not 0.
	TransferPort uint16
	// StaticPeers are gossip addresses reported as peers always, for networks that block multicast.
	StaticPeers []netip.AddrPort
	// Announce, when false, only browses (a passive listener).
	Announce bool

	// BrowseInterval is the time between the starts of two browse rounds; each round uses a fresh resolver and
	// sends one query, which every peer answers (that answer refreshes it against the TTL).
	BrowseInterval time.Duration
	// BrowseWindow is how long one round listens. The default equals BrowseInterval: rounds run back to back, so
	// a resolver is always listening and a new node's own announcement is heard at once (browsing continuously).
	// A shorter window listens less but finds a new node only at the next round's query (answers arrive within
	// 20-120 ms by RFC 6762).
	BrowseWindow time.Duration
	// TTL is how long a peer stays after the last round that saw it: three rounds, so one lost answer does not
	// drop a peer.
	TTL time.Duration
	// Log receives warnings (invalid announcements, browse failures); nil discards them.
	Log *slog.Logger
}

// DefaultConfig returns a configuration that listens all the time, refreshes peers every 4 s and forgets a gone
// one within 15 s; one query per node every 4 s is negligible on a store LAN.
func DefaultConfig() Config {
	return Config{Announce: true, BrowseInterval: 4 * time.Second, BrowseWindow: 4 * time.Second,
		TTL: 15 * time.Second}
}

var errConfig = errors.New("discovery: invalid config")

func (c *Config) validate() error {
	d := DefaultConfig()
	if len(c.Interfaces) == 0 {
		return fmt.Errorf("%w: no interface (mDNS runs only on configured interfaces)", errConfig)
	}
	if err := validID("node", c.NodeID); err != nil {
		return fmt.Errorf("%w: %v", errConfig, err)
	}
	if err := validID("mesh", c.MeshID); err != nil {
		return fmt.Errorf("%w: %v", errConfig, err)
	}
	if c.Announce {
		if err := validPeerID(c.PeerID); err != nil {
			return fmt.Errorf("%w: %v", errConfig, err)
		}
		if c.GossipPort == 0 {
			return fmt.Errorf("%w: no gossip port to announce", errConfig)
		}
	}
	for _, a := range c.StaticPeers {
		if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() {
			return fmt.Errorf("%w: static peer %v", errConfig, a)
		}
	}
	if c.BrowseInterval == 0 {
		c.BrowseInterval = d.BrowseInterval
	}
	if c.BrowseWindow == 0 {
		c.BrowseWindow = d.BrowseWindow
	}
	if c.TTL == 0 {
		c.TTL = d.TTL
	}
	if c.BrowseWindow < 10*time.Millisecond || c.BrowseWindow > c.BrowseInterval || c.TTL < c.BrowseInterval {
		return fmt.Errorf("%w: window %v, interval %v, ttl %v (want 10 ms <= window <= interval <= ttl)", errConfig,
			c.BrowseWindow, c.BrowseInterval, c.TTL)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Discovery announces this node and tracks the others. Peers and Changes are safe for concurrent use.
type Discovery struct {
	cfg     Config
	mu      sync.Mutex
	t       table
	changes chan struct{}
}

// New validates cfg. Nothing is announced or browsed before Serve.
func New(cfg Config) (*Discovery, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Discovery{cfg: cfg, changes: make(chan struct{}, 1),
		t: table{self: cfg.NodeID, mesh: cfg.MeshID, ttl: cfg.TTL, peers: map[string]Peer{}}}
	for _, a := range cfg.StaticPeers {
		d.t.static = append(d.t.static, Peer{NodeID: "static:" + a.String(), Addrs: []netip.Addr{a.Addr()},
			GossipPort: a.Port(), Static: true})
	}
	return d, nil
}

// Peers returns the static peers, then the peers of this mesh seen in the last TTL, sorted by node id.
func (d *Discovery) Peers() []Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t.list()
}

// Changes receives a value (coalesced: capacity 1) after the peer set changed; call Peers to see it.
func (d *Discovery) Changes() <-chan struct{} { return d.changes }

func (d *Discovery) changed() {
	select {
	case d.changes <- struct{}{}:
	default:
	}
}

// Serve announces the node (when Config.Announce) and browses in rounds until ctx ends, then withdraws the
// announcement. Each round re-announces when the interfaces' IPv4 addresses changed (a DHCP lease renumbered the
// device). It fails only when the interfaces cannot be found or the first announcement cannot start.
func (d *Discovery) Serve(ctx context.Context) error {
	ifaces, err := d.interfaces()
	if err != nil {
		return err
	}
	var a announcer
	defer a.stop()
	if d.cfg.Announce {
		if err := a.update(d, ifaces); err != nil {
			return err
		}
	}
	t := time.NewTicker(d.cfg.BrowseInterval)
	defer t.Stop()
	for {
		d.round(ctx, &a)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// announcer holds the running announcement and the addresses it carries; used by Serve's goroutine only.
type announcer struct {
	srv *zeroconf.Server
	ips []string
}

// update (re)registers the service when the interfaces' IPv4 addresses differ from the announced ones.
func (a *announcer) update(d *Discovery, ifaces []net.Interface) error {
	ips, err := ipv4Of(ifaces)
	if err != nil {
		return err
	}
	if a.srv != nil && slices.Equal(ips, a.ips) {
		return nil
	}
	if len(ips) == 0 {
		return fmt.Errorf("discovery: no IPv4 address on %v", d.cfg.Interfaces)
	}
	a.stop()
	name := "lomuz-" + d.cfg.NodeID
	srv, err := zeroconf.RegisterProxy(name, Service, "local.", int(d.cfg.GossipPort), name, ips,
		txtRecords(d.cfg.NodeID, d.cfg.MeshID, d.cfg.PeerID, d.cfg.GossipPort, d.cfg.TransferPort), ifaces)
	if err != nil {
		return fmt.Errorf("discovery: announce: %w", err)
	}
	a.srv, a.ips = srv, ips
	return nil
}

func (a *announcer) stop() {
	if a.srv != nil {
		a.srv.Shutdown() // sends a goodbye (TTL 0) on the interfaces
		a.srv = nil
	}
}

func (d *Discovery) interfaces() ([]net.Interface, error) {
	var out []net.Interface
	for _, name := range d.cfg.Interfaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("discovery: interface %q: %w", name, err)
		}
		out = append(out, *ifc)
	}
	return out, nil
}

// ipv4Of lists the interfaces' IPv4 addresses, sorted. The announcement carries them with a host name of the
// node's own: every namespace or container may share the OS host name, and two nodes must not answer for one name.
func ipv4Of(ifaces []net.Interface) ([]string, error) {
	var ips []string
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("discovery: addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				ips = append(ips, p.Addr().String())
			}
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// round refreshes the announcement if the addresses changed, browses with a fresh resolver for BrowseWindow,
// records what it hears, then expires peers not seen for TTL.
func (d *Discovery) round(ctx context.Context, a *announcer) {
	defer func() {
		d.mu.Lock()
		gone := d.t.expire(time.Now())
		d.mu.Unlock()
		if gone {
			d.changed()
		}
	}()
	ifaces, err := d.interfaces() // interfaces come and go (a USB adapter, a bridge restarted)
	if err != nil {
		d.cfg.Log.Warn("discovery: browse skipped", "err", err)
		return
	}
	if d.cfg.Announce {
		if err := a.update(d, ifaces); err != nil {
			d.cfg.Log.Warn("discovery: re-announce", "err", err) // retried next round
		}
	}
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces(ifaces), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err != nil {
		d.cfg.Log.Warn("discovery: resolver", "err", err)
		return
	}
	bctx, cancel := context.WithTimeout(ctx, d.cfg.BrowseWindow)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry, 16)
	if err := r.Browse(bctx, Service, "local.", entries); err != nil {
		d.cfg.Log.Warn("discovery: browse", "err", err)
		// Browse cancelled its own context: the library closes entries; drain below all the same.
	}
	for e := range entries { // closed by the library when bctx ends; never closed here
		var addrs []netip.Addr
		for _, ip := range e.AddrIPv4 {
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a)
			}
		}
		a, err := parseAnnouncement(e.Text, e.Port, addrs)
		if err != nil {
			d.cfg.Log.Debug("discovery: announcement dropped", "instance", e.Instance, "err", err)
			continue
		}
		d.mu.Lock()
		ch := d.t.observe(time.Now(), a)
		d.mu.Unlock()
		if ch {
			d.changed()
		}
	}
}
