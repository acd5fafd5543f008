package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	RunChild(map[string]ChildFunc{"echo": echoChild})
	os.Exit(m.Run())
}

// echoChild listens on TCP at the address it is given and echoes each connection; it reports "ready" once listening.
func echoChild(ctx context.Context, c *Conn, arg json.RawMessage) error {
	var addr string
	if err := json.Unmarshal(arg, &addr); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); l.Close() }()
	if err := c.Send("ready"); err != nil {
		return err
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return nil
		}
		go func() {
			defer conn.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				if _, err := conn.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

func nsExists(t *testing.T, name string) bool {
	t.Helper()
	out, err := run("ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if n, _, _ := strings.Cut(line, " "); n == name {
			return true
		}
	}
	return false
}

// dialEcho dials addr from inside ns and echoes size bytes through it.
func dialEcho(ns *NS, addr string, size int) error {
	var conn net.Conn
	err := ns.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := make([]byte, size)
	go func() { _, _ = conn.Write(msg) }()
	got := 0
	buf := make([]byte, 64<<10)
	for got < size {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

func TestBridgeChildCountersCut(t *testing.T) {
	var names []string
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		br := lab.Bridge("sw", netip.MustParsePrefix("10.211.0.0/24"))
		a, b := lab.Namespace("a"), lab.Namespace("b")
		ia, ib := br.Attach(a), br.Attach(b)
		names = []string{a.Name, b.Name, br.Switch.Name}
		if ia.IP() != netip.MustParseAddr("10.211.0.1") || ib.IP() != netip.MustParseAddr("10.211.0.2") {
			t.Fatalf("addresses %v %v", ia.Addr, ib.Addr)
		}
		p := b.StartChild("echo", ib.IP().String()+":7001")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var ready string
		if err := p.Recv(ctx, &ready); err != nil || ready != "ready" {
			t.Fatalf("child: %q %v %s", ready, err, p.Stderr())
		}
		before, err := ia.Counters()
		if err != nil {
			t.Fatal(err)
		}
		const size = 1 << 20
		if err := dialEcho(a, ib.IP().String()+":7001", size); err != nil {
			t.Fatal(err)
		}
		after, err := ia.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if after.TxBytes-before.TxBytes < size || after.RxBytes-before.RxBytes < size {
			t.Fatalf("counters moved tx %d rx %d, want >= %d each", after.TxBytes-before.TxBytes,
				after.RxBytes-before.RxBytes, size)
		}
		// Nothing of the lab is on the host's interfaces.
		hostAddrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, ha := range hostAddrs {
			if strings.HasPrefix(ha.String(), "10.211.") {
				t.Fatalf("lab address %s on a host interface", ha)
			}
		}
		if err := ia.Cut(); err != nil {
			t.Fatal(err)
		}
		if err := dialEcho(a, ib.IP().String()+":7001", 1); err == nil {
			t.Fatal("echo worked across a cut link")
		}
		if err := ia.Heal(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := dialEcho(a, ib.IP().String()+":7001", 1)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no echo after heal: %v", err)
			}
		}
		p.Kill()
		if p.Err() == nil {
			t.Fatal("killed child reports success")
		}
	})
	for _, n := range names {
		if nsExists(t, n) {
			t.Errorf("namespace %s left behind", n)
		}
	}
}

func TestConnectRouteShape(t *testing.T) {
	lab := New(t)
	a, r, c := lab.Namespace("a"), lab.Namespace("r"), lab.Namespace("c")
	ar, ra := lab.Connect(a, r, netip.MustParsePrefix("10.212.1.0/30"))
	rc, cr := lab.Connect(r, c, netip.MustParsePrefix("10.212.2.0/30"))
	r.Forwarding()
	a.Route(netip.MustParsePrefix("10.212.2.0/30"), ra.IP())
	c.Route(netip.MustParsePrefix("10.212.1.0/30"), rc.IP())
	p := c.StartChild("echo", cr.IP().String()+":7002")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ready string
	if err := p.Recv(ctx, &ready); err != nil {
		t.Fatal(err, p.Stderr())
	}
	if err := ar.Readdress(netip.MustParsePrefix("10.212.1.1/30")); err != nil || ar.IP() != netip.MustParseAddr("10.212.1.1") {
		t.Fatalf("readdress: %v %v", err, ar.Addr)
	}
	if out, err := run("ip", "-n", a.Name, "-4", "addr", "show", "dev", ar.Name); err != nil || !strings.Contains(out, "10.212.1.1/30") {
		t.Fatalf("address after Readdress: %v %s", err, out)
	}
	a.Route(netip.MustParsePrefix("10.212.2.0/30"), ra.IP()) // the flush took the route with the old address
	if err := ra.Shape(Shaping{RateBits: 10_000_000}); err != nil {
		t.Fatal(err)
	}
	out, err := run("tc", "-n", r.Name, "qdisc", "show", "dev", ra.Name)
	if err != nil || !strings.Contains(out, "tbf") || !strings.Contains(out, "10Mbit") {
		t.Fatalf("qdisc after Shape: %v %s", err, out)
	}
	if err := dialEcho(a, cr.IP().String()+":7002", 64<<10); err != nil {
		t.Fatalf("routed echo: %v", err)
	}
	if err := ra.Shape(Shaping{Delay: 5 * time.Millisecond, LossPct: 1}); err != nil {
		if !strings.Contains(err.Error(), "qdisc kind is unknown") {
			t.Fatal(err)
		}
		t.Logf("netem not in this kernel; delay and loss shaping unavailable: %v", err)
	}
	if err := ra.Shape(Shaping{}); err != nil {
		t.Fatal(err)
	}
	if err := ra.Shape(Shaping{LossPct: 101}); err == nil {
		t.Fatal("loss 101% accepted")
	}
}

func TestLeftoversOfDeadRunsRemoved(t *testing.T) {
	New(t)                  // root check
	const deadPid = 4194304 // above any pid_max: never alive
	if processAlive(deadPid) {
		t.Skip("pid unexpectedly alive")
	}
	name := fmt.Sprintf("%s%d-old-x", namePrefix, deadPid)
	if out, err := run("ip", "netns", "add", name); err != nil {
		t.Fatal(err, out)
	}
	t.Cleanup(func() { _, _ = run("ip", "netns", "delete", name) })
	New(t)
	if nsExists(t, name) {
		t.Fatal("leftover namespace of a dead run survived New")
	}
}
