package discovery

// mDNS between network namespaces: each node is a child process inside its own namespace on a store bridge
// (internal/netns), driven over JSON lines; avahi, a browser that is not ours, checks the announcement.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/netns"
	"github.com/lomuz/lomuz/internal/testenv"
)

func TestMain(m *testing.M) {
	netns.RunChild(map[string]netns.ChildFunc{"disc": discChild})
	os.Exit(m.Run())
}

type discArg struct {
	NodeID, MeshID, Iface string
	Port                  uint16
	Defaults              bool // production timings instead of the tests' fast rounds
}

func discChild(ctx context.Context, c *netns.Conn, raw json.RawMessage) error {
	var a discArg
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	cfg := DefaultConfig()
	cfg.Interfaces, cfg.NodeID, cfg.MeshID, cfg.PeerID, cfg.GossipPort = []string{a.Iface}, a.NodeID, a.MeshID,
		testPeerID, a.Port
	cfg.TransferPort = 4001
	if !a.Defaults {
		cfg.BrowseInterval, cfg.BrowseWindow, cfg.TTL = 500*time.Millisecond, 300*time.Millisecond, 1500*time.Millisecond
	}
	baseline := runtime.NumGoroutine()
	d, err := New(cfg)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	if err := c.Send([]string{}); err != nil {
		return err
	}
	for {
		var op string
		if err := c.Recv(ctx, &op); err != nil {
			return nil
		}
		if op == "stop" { // end Serve and report the goroutines it left behind, if any
			cancel()
			if err := <-done; err != nil {
				return err
			}
			done <- nil // for the deferred receive
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
			}
			leaked := []string{}
			if n := runtime.NumGoroutine(); n > baseline {
				buf := make([]byte, 1<<20)
				leaked = append(leaked, fmt.Sprintf("%d goroutines, %d before:\n%s", n, baseline,
					buf[:runtime.Stack(buf, true)]))
			}
			if err := c.Send(leaked); err != nil {
				return err
			}
			continue
		}
		ids := []string{}
		for _, p := range d.Peers() {
			ids = append(ids, fmt.Sprintf("%s@%s:%d/%d", p.NodeID, p.Addrs[0], p.GossipPort, p.TransferPort))
		}
		if err := c.Send(ids); err != nil {
			return err
		}
	}
}

func peersOf(t testing.TB, p *netns.Proc) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	if err := p.Call(ctx, "peers", &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

type lanNode struct {
	ns   *netns.NS
	ifc  *netns.Iface
	proc *netns.Proc
	id   string
}

func startNodes(t testing.TB, lab *netns.Lab, br *netns.Bridge, mesh string, names ...string) []*lanNode {
	return startNodesCfg(t, lab, br, discArg{MeshID: mesh}, names...)
}

func startNodesCfg(t testing.TB, lab *netns.Lab, br *netns.Bridge, arg discArg, names ...string) []*lanNode {
	t.Helper()
	var out []*lanNode
	for _, name := range names {
		ns := lab.Namespace(name)
		ifc := br.Attach(ns)
		a := arg
		a.NodeID, a.Iface, a.Port = name, ifc.Name, 7946
		p := ns.StartChild("disc", a)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var ids []string
		err := p.Recv(ctx, &ids)
		cancel()
		if err != nil {
			t.Fatalf("start %s: %v\n%s", name, err, p.Stderr())
		}
		out = append(out, &lanNode{ns: ns, ifc: ifc, proc: p, id: fmt.Sprintf("%s@%s:7946/4001", name, ifc.IP())})
	}
	return out
}

// TestLANDiscoveryFindsAndExpires runs three nodes of one mesh and one of another mesh in four namespaces on a
// bridge: each mesh node finds exactly the other two; a renumbered node is followed; a stopped node leaks no
// goroutine; a node killed without a goodbye expires from the others.
func TestLANDiscoveryFindsAndExpires(t *testing.T) {
	lab := netns.New(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.216.0.0/24"))
	nodes := startNodes(t, lab, br, "storemesh1", "d1", "d2", "d3")
	startNodes(t, lab, br, "othermesh", "x1")
	others := func(i int) []string {
		var want []string
		for j, n := range nodes {
			if j != i && n.proc != nil {
				want = append(want, n.id)
			}
		}
		return want
	}
	waitFor(t, "every node to find the other two", func() bool {
		for i, n := range nodes {
			if !slices.Equal(peersOf(t, n.proc), others(i)) {
				return false
			}
		}
		return true
	})
	// A DHCP lease renumbers d2: it re-announces and the others follow.
	if err := nodes[1].ifc.Readdress(netip.MustParsePrefix("10.216.0.200/24")); err != nil {
		t.Fatal(err)
	}
	nodes[1].id = "d2@10.216.0.200:7946/4001"
	waitFor(t, "the renumbered node's new address", func() bool {
		return slices.Equal(peersOf(t, nodes[0].proc), others(0)) && slices.Equal(peersOf(t, nodes[2].proc), others(2))
	})
	// Serve of d1 ends cleanly: announcement withdrawn, resolvers closed, no goroutine left behind.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var leaked []string
	if err := nodes[0].proc.Call(ctx, "stop", &leaked); err != nil || len(leaked) != 0 {
		t.Fatalf("stop: %v %v", err, leaked)
	}
	nodes[2].proc.Kill() // no goodbye packet: expiry must do it
	nodes[2].proc = nil
	waitFor(t, "the dead and the stopped node to expire", func() bool {
		return len(peersOf(t, nodes[1].proc)) == 0
	})
}

// TestAvahiSeesAnnouncement checks the announcement with avahi-browse, a DNS-SD browser that is not ours, running
// with its daemon inside a namespace of the lab.
func TestAvahiSeesAnnouncement(t *testing.T) {
	lab := netns.New(t)
	daemon := testenv.Tool(t, "avahi-daemon")
	browse := testenv.Tool(t, "avahi-browse")
	ensureSystemBus(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.217.0.0/24"))
	nodes := startNodes(t, lab, br, "storemesh1", "av1")
	nsA := lab.Namespace("avahi")
	br.Attach(nsA)
	if out, err := nsA.Command(daemon, "--no-drop-root", "--no-chroot", "--no-rlimits", "-D").CombinedOutput(); err != nil {
		t.Fatalf("avahi-daemon: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = nsA.Command(daemon, "-k").Run() })
	var out []byte
	waitFor(t, "avahi-browse to resolve the service", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, _ = exec.CommandContext(ctx, "ip", "netns", "exec", nsA.Name, browse, "-rtp", Service).Output()
		return strings.Contains(string(out), "=;")
	})
	// Resolved lines: =;iface;IPv4;instance;type;domain;host;address;port;"txt" "txt"...
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "=;") && strings.Contains(l, ";IPv4;") {
			line = l
		}
	}
	f := strings.SplitN(line, ";", 10)
	if len(f) != 10 {
		t.Fatalf("avahi-browse output:\n%s", out)
	}
	if f[3] != "lomuz-av1" || f[4] != Service || f[7] != nodes[0].ifc.IP().String() || f[8] != "7946" {
		t.Fatalf("avahi resolved %q", line)
	}
	for _, kv := range []string{`"node=av1"`, `"mesh=storemesh1"`, `"p2p=` + testPeerID + `"`, `"gport=7946"`, `"tport=4001"`, `"v=1"`} {
		if !strings.Contains(f[9], kv) {
			t.Errorf("TXT %s missing in %s", kv, f[9])
		}
	}
}

// TestCoexistsWithAvahiDaemon runs a node on a device that also runs avahi-daemon (the default on many Linux
// images): both bind UDP 5353 there, and the node still announces and browses.
func TestCoexistsWithAvahiDaemon(t *testing.T) {
	lab := netns.New(t)
	daemon := testenv.Tool(t, "avahi-daemon")
	ensureSystemBus(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.220.0.0/24"))
	nsDev := lab.Namespace("dev")
	ifc := br.Attach(nsDev)
	if out, err := nsDev.Command(daemon, "--no-drop-root", "--no-chroot", "--no-rlimits", "-D").CombinedOutput(); err != nil {
		t.Fatalf("avahi-daemon: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = nsDev.Command(daemon, "-k").Run() })
	p := nsDev.StartChild("disc", discArg{NodeID: "dev", MeshID: "m", Iface: ifc.Name, Port: 7946})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	if err := p.Recv(ctx, &ids); err != nil {
		t.Fatalf("start beside avahi-daemon: %v\n%s", err, p.Stderr())
	}
	other := startNodes(t, lab, br, "m", "o1")[0]
	waitFor(t, "discovery both ways beside avahi-daemon", func() bool {
		return slices.Equal(peersOf(t, other.proc), []string{"dev@" + ifc.IP().String() + ":7946/4001"}) &&
			slices.Equal(peersOf(t, p), []string{other.id})
	})
}

// ensureSystemBus starts a D-Bus system bus (a Unix socket, no network) when none runs, for avahi-daemon, and
// stops it, by pid, when the test ends.
func ensureSystemBus(t *testing.T) {
	t.Helper()
	const sock = "/run/dbus/system_bus_socket"
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		return
	}
	_ = os.Remove(sock) // a socket file whose bus is gone
	bin := testenv.Tool(t, "dbus-daemon")
	if err := os.MkdirAll("/run/dbus", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--system", "--nofork", "--nopidfile")
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = os.Remove(sock)
	})
	waitFor(t, "the system bus socket", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// BenchmarkDiscoverNewNode measures, with the default timings, the time from a new node's start until the two nodes
// already on the bridge list it and it lists them (scripts/bench.d/50-peer.sh reports it against a 5 s target).
func BenchmarkDiscoverNewNode(b *testing.B) {
	lab := netns.New(b)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.218.0.0/24"))
	arg := discArg{MeshID: "benchmesh", Defaults: true}
	old := startNodesCfg(b, lab, br, arg, "b1", "b2")
	var worst time.Duration
	i := 0
	for b.Loop() {
		i++
		// Start at a random phase of the others' browse rounds (both started together, so their rounds align):
		// without it every sample would land in the same round.
		b.StopTimer()
		time.Sleep(rand.N(DefaultConfig().BrowseInterval)) // sampling jitter, not a wait for a condition
		b.StartTimer()
		start := time.Now()
		n := startNodesCfg(b, lab, br, arg, fmt.Sprintf("new%d", i))[0]
		deadline := start.Add(30 * time.Second)
		for {
			seen := slices.Contains(peersOf(b, old[0].proc), n.id) && slices.Contains(peersOf(b, old[1].proc), n.id) &&
				len(peersOf(b, n.proc)) >= 2
			if seen {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("new node not discovered within 30 s")
			}
			time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
		}
		worst = max(worst, time.Since(start))
		n.proc.Kill() // keep the bridge at three nodes
	}
	b.ReportMetric(worst.Seconds(), "worst-s")
}
