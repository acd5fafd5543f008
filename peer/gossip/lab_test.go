package gossip

// Gossip between network namespaces: each node is a child process inside its own namespace on a store bridge
// (internal/netns), driven over JSON lines.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/netns"
)

func TestMain(m *testing.M) {
	netns.RunChild(map[string]netns.ChildFunc{"node": nodeChild})
	os.Exit(m.Run())
}

type nodeArg struct {
	Name     string
	Bind     string
	Key      []byte
	Defaults bool // production timings instead of the tests' fast ones
}

type nodeCmd struct {
	Op    string // join, targets, broadcast, state, members, got, gotstate
	Addrs []string
	Data  []byte
}

type nodeReply struct {
	Members []string
	OK      bool
	Err     string
	At      int64 // wall clock (Unix ns) when the message was broadcast or first received; all children share it
}

// timedRecorder notes when each message first arrived.
type timedRecorder struct {
	recorder
	at map[string]int64
}

func (r *timedRecorder) Message(b []byte) {
	now := time.Now().UnixNano()
	r.mu.Lock()
	if _, ok := r.at[string(b)]; !ok {
		r.at[string(b)] = now
	}
	r.mu.Unlock()
	r.recorder.Message(b)
}

func nodeChild(ctx context.Context, c *netns.Conn, raw json.RawMessage) error {
	var a nodeArg
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	cfg := fastConfig(a.Name, a.Key)
	if a.Defaults {
		d := DefaultConfig()
		cfg.ProbeInterval, cfg.GossipInterval, cfg.PushPullInterval = d.ProbeInterval, d.GossipInterval, d.PushPullInterval
		cfg.TCPTimeout, cfg.RejoinInterval, cfg.LeaveTimeout = d.TCPTimeout, d.RejoinInterval, d.LeaveTimeout
	}
	cfg.BindAddr = netip.MustParseAddr(a.Bind)
	cfg.BindPort = 7946
	r := &timedRecorder{at: map[string]int64{}}
	cfg.Handler = r
	g, err := New(cfg)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	if err := c.Send(nodeReply{OK: true}); err != nil {
		return err
	}
	for {
		var m nodeCmd
		if err := c.Recv(ctx, &m); err != nil {
			return nil
		}
		var addrs []netip.AddrPort
		for _, s := range m.Addrs {
			addrs = append(addrs, netip.MustParseAddrPort(s))
		}
		var rep nodeReply
		var err error
		switch m.Op {
		case "join":
			_, err = g.Join(addrs)
		case "targets":
			g.SetRejoinTargets(addrs)
		case "broadcast":
			rep.At = time.Now().UnixNano()
			err = g.Broadcast(m.Data)
		case "state":
			r.setLocal(m.Data)
		case "members":
			for _, mb := range g.Members() {
				rep.Members = append(rep.Members, mb.Name)
			}
		case "got":
			rep.OK = r.gotMsg(m.Data)
			r.mu.Lock()
			rep.At = r.at[string(m.Data)]
			r.mu.Unlock()
		case "gotstate":
			rep.OK = r.gotState(m.Data)
		case "inject": // a user message straight to each address, encrypted with this node's key
			for _, a := range addrs {
				if err = g.ml.SendToAddress(addr(a), m.Data); err != nil {
					break
				}
			}
		default:
			err = fmt.Errorf("unknown op %q", m.Op)
		}
		if err != nil {
			rep.Err = err.Error()
		}
		if err := c.Send(rep); err != nil {
			return err
		}
	}
}

func ask(t testing.TB, p *netns.Proc, m nodeCmd) nodeReply {
	t.Helper()
	r := ask2(t, p, m)
	if r.Err != "" {
		t.Fatalf("%s %s: %s", p.Name, m.Op, r.Err)
	}
	return r
}

// ask2 is ask without failing on the child's own error (for calls expected to fail).
func ask2(t testing.TB, p *netns.Proc, m nodeCmd) nodeReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r nodeReply
	if err := p.Call(ctx, m, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitAll(t testing.TB, what string, procs []*netns.Proc, cond func(p *netns.Proc) bool) {
	t.Helper()
	eventually(t, what, func() bool {
		for _, p := range procs {
			if !cond(p) {
				return false
			}
		}
		return true
	})
}

// startMesh starts n nodes in n namespaces on br and joins them through the first; it returns the nodes, their
// links and gossip addresses once every node sees all n.
func startMesh(t testing.TB, lab *netns.Lab, br *netns.Bridge, n int, defaults bool) ([]*netns.Proc, []*netns.Iface,
	[]string) {
	t.Helper()
	var procs []*netns.Proc
	var links []*netns.Iface
	var addrs []string
	for i := range n {
		ns := lab.Namespace(fmt.Sprintf("g%d", i))
		ifc := br.Attach(ns)
		p := ns.StartChild("node", nodeArg{Name: fmt.Sprintf("node%d", i), Bind: ifc.IP().String(), Key: keyA,
			Defaults: defaults})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var r nodeReply
		err := p.Recv(ctx, &r)
		cancel()
		if err != nil {
			t.Fatalf("start node%d: %v\n%s", i, err, p.Stderr())
		}
		procs, links, addrs = append(procs, p), append(links, ifc), append(addrs, ifc.IP().String()+":7946")
	}
	for i, p := range procs {
		ask(t, p, nodeCmd{Op: "targets", Addrs: addrs}) // as discovery would report them
		if i > 0 {
			ask(t, p, nodeCmd{Op: "join", Addrs: addrs[:1]})
		}
	}
	waitAll(t, "full membership", procs, func(p *netns.Proc) bool {
		return len(ask(t, p, nodeCmd{Op: "members"}).Members) == n
	})
	return procs, links, addrs
}

// TestLANConvergePartitionHeal runs 4 nodes in 4 namespaces on one bridge: they converge a broadcast and a push/pull
// state; a fifth node with another mesh key can neither join nor inject; one node's cable is pulled until both sides declare the other dead; after the cable is back the mesh
// re-forms by itself (no test-driven Join), and gossip reaches the returning node.
func TestLANConvergePartitionHeal(t *testing.T) {
	lab := netns.New(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.215.0.0/24"))
	const n = 4
	procs, links, addrs := startMesh(t, lab, br, n, false)
	members := func(k int) func(p *netns.Proc) bool {
		return func(p *netns.Proc) bool { return len(ask(t, p, nodeCmd{Op: "members"}).Members) == k }
	}

	ask(t, procs[1], nodeCmd{Op: "broadcast", Data: []byte("delta from node1")})
	ask(t, procs[3], nodeCmd{Op: "state", Data: []byte("full state of node3")})
	waitAll(t, "broadcast and state everywhere", procs[:3], func(p *netns.Proc) bool {
		return (p == procs[1] || ask(t, p, nodeCmd{Op: "got", Data: []byte("delta from node1")}).OK) &&
			ask(t, p, nodeCmd{Op: "gotstate", Data: []byte("full state of node3")}).OK
	})

	// A node of another store on the same bridge: another mesh key. It can neither join nor inject.
	nsX := lab.Namespace("gx")
	ix := br.Attach(nsX)
	px := nsX.StartChild("node", nodeArg{Name: "intruder", Bind: ix.IP().String(), Key: keyB})
	{
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var r nodeReply
		err := px.Recv(ctx, &r)
		cancel()
		if err != nil {
			t.Fatalf("start intruder: %v\n%s", err, px.Stderr())
		}
	}
	if r := ask2(t, px, nodeCmd{Op: "join", Addrs: addrs}); r.Err == "" {
		t.Fatal("a node with another mesh key joined")
	}
	ask(t, px, nodeCmd{Op: "inject", Addrs: addrs, Data: []byte("forged delta")})
	ask(t, procs[0], nodeCmd{Op: "broadcast", Data: []byte("after the intruder")})
	waitAll(t, "legit broadcast after the intruder", procs[1:], func(p *netns.Proc) bool {
		return ask(t, p, nodeCmd{Op: "got", Data: []byte("after the intruder")}).OK
	})
	for _, p := range procs {
		if ask(t, p, nodeCmd{Op: "got", Data: []byte("forged delta")}).OK {
			t.Fatalf("%s accepted an injected message", p.Name)
		}
		if m := ask(t, p, nodeCmd{Op: "members"}).Members; len(m) != n {
			t.Fatalf("%s members %v after the intruder", p.Name, m)
		}
	}
	px.Stop()

	if err := links[3].Cut(); err != nil {
		t.Fatal(err)
	}
	waitAll(t, "majority sees node3 gone", procs[:3], members(n-1))
	waitAll(t, "node3 alone", procs[3:], members(1))
	ask(t, procs[0], nodeCmd{Op: "broadcast", Data: []byte("during the partition")})
	if err := links[3].Heal(); err != nil {
		t.Fatal(err)
	}
	waitAll(t, "mesh re-formed by itself", procs, members(n))
	ask(t, procs[3], nodeCmd{Op: "broadcast", Data: []byte("back")})
	waitAll(t, "gossip from the returning node", procs[:3], func(p *netns.Proc) bool {
		return ask(t, p, nodeCmd{Op: "got", Data: []byte("back")}).OK
	})
}

// BenchmarkLANBroadcastConvergence measures, with the default timings, the time from a Broadcast on one of 5 nodes
// (5 namespaces, one bridge) until the last of the other 4 has it; it reports the median and the worst of b.N
// broadcasts, each from the next node in turn, and how many did not reach every node within 5 s (those are left to
// push/pull anti-entropy, which this benchmark does not exercise).
func BenchmarkLANBroadcastConvergence(b *testing.B) {
	lab := netns.New(b)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.219.0.0/24"))
	procs, _, _ := startMesh(b, lab, br, 5, true)
	var lat []time.Duration
	missed := 0
	i := 0
	for b.Loop() {
		from := procs[i%len(procs)]
		msg := []byte(fmt.Sprintf("bench %d", i))
		i++
		sent := ask(b, from, nodeCmd{Op: "broadcast", Data: msg}).At
		var last int64
		deadline := time.Now().Add(5 * time.Second)
		ok := true
		for _, p := range procs {
			if p == from || !ok {
				continue
			}
			for {
				r := ask(b, p, nodeCmd{Op: "got", Data: msg})
				if r.OK {
					last = max(last, r.At)
					break
				}
				if time.Now().After(deadline) {
					ok = false
					break
				}
				time.Sleep(5 * time.Millisecond) // polling, bounded by the deadline
			}
		}
		if !ok {
			missed++
			continue
		}
		lat = append(lat, time.Duration(last-sent))
	}
	if len(lat) == 0 {
		b.Fatalf("no broadcast reached every node within 5 s (%d missed)", missed)
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
	b.ReportMetric(float64(missed), "missed")
}
