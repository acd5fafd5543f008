package discovery

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const testPeerID = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestParseAnnouncement(t *testing.T) {
	good := txtRecords("node-1", "mesh.ab", testPeerID, 7946, 4001)
	a, err := parseAnnouncement(append(good, "future=thing"), 7946, addrs("10.0.0.2", "10.0.0.2", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeID != "node-1" || a.MeshID != "mesh.ab" || a.PeerID != testPeerID || a.GossipPort != 7946 || a.TransferPort != 4001 ||
		len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("%+v", a)
	}
	many := make([]string, 0, 20)
	for range 20 {
		many = append(many, "x=1")
	}
	for name, tc := range map[string]struct {
		txt   []string
		port  int
		addrs []netip.Addr
	}{
		"srv port differs": {good, 7947, addrs("10.0.0.2")},
		"no v4 address":    {good, 7946, addrs("::1", "fe80::1")},
		"too many strings": {many, 7946, addrs("10.0.0.2")},
		"long string":      {append(good, "x="+strings.Repeat("a", 300)), 7946, addrs("10.0.0.2")},
		"version":          {[]string{"v=2", "node=a", "mesh=b", "p2p=" + testPeerID, "gport=1"}, 1, addrs("10.0.0.2")},
		"node id chars":    {txtRecords("a b", "m", testPeerID, 1, 0), 1, addrs("10.0.0.2")},
		"mesh id long":     {txtRecords("a", strings.Repeat("m", 65), testPeerID, 1, 0), 1, addrs("10.0.0.2")},
		"peer id base58":   {txtRecords("a", "m", "0OIl", 1, 0), 1, addrs("10.0.0.2")},
		"port zero":        {txtRecords("a", "m", testPeerID, 0, 0), 0, addrs("10.0.0.2")},
		"duplicate key":    {append(good, "node=other"), 7946, addrs("10.0.0.2")},
		"transfer port":    {append(txtRecords("a", "m", testPeerID, 1, 0), "tport=0"), 1, addrs("10.0.0.2")},
		"too many addrs": {good, 7946, addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6",
			"10.0.0.7", "10.0.0.8", "10.0.0.9")},
	} {
		if _, err := parseAnnouncement(tc.txt, tc.port, tc.addrs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTableObserveExpire(t *testing.T) {
	tb := table{self: "me", mesh: "m1", ttl: 30 * time.Second, peers: map[string]Peer{},
		static: []Peer{{NodeID: "static:10.0.0.9:7946", Static: true}}}
	t0 := time.Unix(1000, 0)
	a := announcement{NodeID: "b", MeshID: "m1", PeerID: testPeerID, GossipPort: 7946, Addrs: addrs("10.0.0.2")}
	if !tb.observe(t0, a) {
		t.Fatal("new peer not a change")
	}
	if tb.observe(t0.Add(time.Second), a) {
		t.Fatal("same peer again is a change")
	}
	if tb.observe(t0, announcement{NodeID: "me", MeshID: "m1"}) ||
		tb.observe(t0, announcement{NodeID: "c", MeshID: "other"}) {
		t.Fatal("self or another mesh recorded")
	}
	moved := a
	moved.Addrs = addrs("10.0.0.3")
	if !tb.observe(t0.Add(2*time.Second), moved) {
		t.Fatal("a moved peer is not a change")
	}
	if got := tb.list(); len(got) != 2 || !got[0].Static || got[1].NodeID != "b" {
		t.Fatalf("list %+v", got)
	}
	if tb.expire(t0.Add(31 * time.Second)) {
		t.Fatal("expired before ttl after the last sighting")
	}
	if !tb.expire(t0.Add(33 * time.Second)) {
		t.Fatal("not expired after ttl")
	}
	if got := tb.list(); len(got) != 1 || !got[0].Static {
		t.Fatalf("static peer must stay: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.Interfaces, c.NodeID, c.MeshID, c.PeerID, c.GossipPort = []string{"eth0"}, "n1", "m1", testPeerID, 7946
		return c
	}
	c := base()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no iface":  func(c *Config) { c.Interfaces = nil },
		"node id":   func(c *Config) { c.NodeID = "" },
		"mesh id":   func(c *Config) { c.MeshID = "a/b" },
		"no port":   func(c *Config) { c.GossipPort = 0 },
		"peer id":   func(c *Config) { c.PeerID = "" },
		"window":    func(c *Config) { c.BrowseWindow = time.Minute },
		"ttl":       func(c *Config) { c.TTL = time.Second },
		"static 0s": func(c *Config) { c.StaticPeers = []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 1)} },
	} {
		c := base()
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add(strings.Join(txtRecords("n", "m", testPeerID, 7946, 0), "\n"), 7946)
	f.Add("v=1\nnode=\nmesh=m", 1)
	f.Fuzz(func(t *testing.T, txt string, port int) {
		a, err := parseAnnouncement(strings.Split(txt, "\n"), port, addrs("10.0.0.2"))
		if err != nil {
			return
		}
		if validID("node", a.NodeID) != nil || validID("mesh", a.MeshID) != nil || validPeerID(a.PeerID) != nil ||
			a.GossipPort == 0 || int(a.GossipPort) != port {
			t.Fatalf("accepted %+v", a)
		}
	})
}
