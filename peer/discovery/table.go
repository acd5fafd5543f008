package discovery

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Peer is a node of the same mesh, found by mDNS or configured statically.
type Peer struct {
	NodeID     string
	PeerID     string       // libp2p peer id; empty for a static peer
	Addrs      []netip.Addr // IPv4 addresses it announced (or the static address)
	GossipPort uint16
	// TransferPort is the libp2p TCP port it announced (0 when it announced none, and for static peers: learn it
	// from gossip member metadata then).
	TransferPort uint16
	Static       bool      // configured, never expires
	LastSeen     time.Time // last browse round that saw it
}

// Gossip returns the peer's gossip addresses.
func (p Peer) Gossip() []netip.AddrPort {
	out := make([]netip.AddrPort, len(p.Addrs))
	for i, a := range p.Addrs {
		out[i] = netip.AddrPortFrom(a, p.GossipPort)
	}
	return out
}

// Bounds on what a TXT record may carry (see doc.go).
const (
	maxTXT       = 16
	maxTXTString = 255
	maxID        = 64
	maxPeerID    = 128
	maxAddrs     = 8
	txtVersion   = "1"
)

var errEntry = errors.New("discovery: invalid entry")

// announcement is a validated DNS-SD answer.
type announcement struct {
	NodeID, MeshID, PeerID   string
	GossipPort, TransferPort uint16
	Addrs                    []netip.Addr
}

// txtRecords encodes an announcement's TXT strings; transferPort 0 is left out.
func txtRecords(nodeID, meshID, peerID string, gossipPort, transferPort uint16) []string {
	txt := []string{"v=" + txtVersion, "node=" + nodeID, "mesh=" + meshID, "p2p=" + peerID,
		"gport=" + strconv.Itoa(int(gossipPort))}
	if transferPort != 0 {
		txt = append(txt, "tport="+strconv.Itoa(int(transferPort)))
	}
	return txt
}

// parseAnnouncement validates what a browse returned: TXT strings, SRV port and addresses.
func parseAnnouncement(txt []string, srvPort int, addrs []netip.Addr) (announcement, error) {
	if len(txt) > maxTXT {
		return announcement{}, fmt.Errorf("%w: %d TXT strings", errEntry, len(txt))
	}
	kv := map[string]string{}
	for _, s := range txt {
		if len(s) > maxTXTString {
			return announcement{}, fmt.Errorf("%w: TXT string of %d bytes", errEntry, len(s))
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		if _, dup := kv[k]; dup {
			return announcement{}, fmt.Errorf("%w: key %q twice", errEntry, k)
		}
		kv[k] = v
	}
	if kv["v"] != txtVersion {
		return announcement{}, fmt.Errorf("%w: version %q", errEntry, kv["v"])
	}
	a := announcement{NodeID: kv["node"], MeshID: kv["mesh"], PeerID: kv["p2p"]}
	if err := validID("node", a.NodeID); err != nil {
		return announcement{}, err
	}
	if err := validID("mesh", a.MeshID); err != nil {
		return announcement{}, err
	}
	if err := validPeerID(a.PeerID); err != nil {
		return announcement{}, err
	}
	port, err := strconv.ParseUint(kv["gport"], 10, 16)
	if err != nil || port == 0 {
		return announcement{}, fmt.Errorf("%w: gossip port %q", errEntry, kv["gport"])
	}
	if int(port) != srvPort {
		return announcement{}, fmt.Errorf("%w: gossip port %d differs from SRV port %d", errEntry, port, srvPort)
	}
	a.GossipPort = uint16(port)
	if tp, ok := kv["tport"]; ok {
		p, err := strconv.ParseUint(tp, 10, 16)
		if err != nil || p == 0 {
			return announcement{}, fmt.Errorf("%w: transfer port %q", errEntry, tp)
		}
		a.TransferPort = uint16(p)
	}
	for _, ad := range addrs {
		ad = ad.Unmap()
		if !ad.Is4() || ad.IsUnspecified() || ad.IsMulticast() || ad.IsLoopback() {
			continue
		}
		if !slices.Contains(a.Addrs, ad) {
			a.Addrs = append(a.Addrs, ad)
		}
	}
	if len(a.Addrs) == 0 || len(a.Addrs) > maxAddrs {
		return announcement{}, fmt.Errorf("%w: %d usable IPv4 addresses", errEntry, len(a.Addrs))
	}
	slices.SortFunc(a.Addrs, netip.Addr.Compare)
	return a, nil
}

func validID(what, s string) error {
	if len(s) == 0 || len(s) > maxID {
		return fmt.Errorf("%w: %s id of %d bytes", errEntry, what, len(s))
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %s id %q has byte %q", errEntry, what, s, c)
		}
	}
	return nil
}

func validPeerID(s string) error {
	if len(s) == 0 || len(s) > maxPeerID {
		return fmt.Errorf("%w: peer id of %d bytes", errEntry, len(s))
	}
	const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	for _, c := range s {
		if !strings.ContainsRune(base58, c) {
			return fmt.Errorf("%w: peer id %q is not base58", errEntry, s)
		}
	}
	return nil
}

// table is the pure core: peers seen by mDNS with the time they were last seen, plus static ones. It reads no clock
// and is not safe for concurrent use (Discovery locks it).
type table struct {
	self, mesh string
	ttl        time.Duration
	peers      map[string]Peer // by node id
	static     []Peer
}

// observe records an announcement seen at now and reports whether the peer set changed (new peer, or a changed
// address, port or peer id). Announcements of this node or of another mesh are ignored.
func (t *table) observe(now time.Time, a announcement) bool {
	if a.NodeID == t.self || a.MeshID != t.mesh {
		return false
	}
	old, ok := t.peers[a.NodeID]
	p := Peer{NodeID: a.NodeID, PeerID: a.PeerID, Addrs: a.Addrs, GossipPort: a.GossipPort,
		TransferPort: a.TransferPort, LastSeen: now}
	t.peers[a.NodeID] = p
	return !ok || old.PeerID != p.PeerID || old.GossipPort != p.GossipPort || old.TransferPort != p.TransferPort ||
		!slices.Equal(old.Addrs, p.Addrs)
}

// expire forgets peers not seen for ttl and reports whether any went.
func (t *table) expire(now time.Time) bool {
	changed := false
	for id, p := range t.peers {
		if now.Sub(p.LastSeen) > t.ttl {
			delete(t.peers, id)
			changed = true
		}
	}
	return changed
}

// list returns the static peers then the discovered ones, sorted by node id.
func (t *table) list() []Peer {
	out := make([]Peer, 0, len(t.static)+len(t.peers))
	for _, p := range t.static {
		out = append(out, p)
	}
	var found []Peer
	for _, p := range t.peers {
		p.Addrs = slices.Clone(p.Addrs)
		found = append(found, p)
	}
	slices.SortFunc(found, func(a, b Peer) int { return strings.Compare(a.NodeID, b.NodeID) })
	return append(out, found...)
}
