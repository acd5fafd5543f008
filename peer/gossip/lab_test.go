package gossip

// Gossip between network namespaces: each node is a child process inside its own namespace on a store bridge
// (internal/netns), driven over JSON lines.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/netns"
)

func TestMain(m *testing.M) {
	netns.RunChild(map[string]netns.ChildFunc{"node": nodeChild})
	os.Exit(m.Run())
}

type nodeArg struct {
	Name string
	Bind string
	Key  []byte
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
}

func nodeChild(ctx context.Context, c *netns.Conn, raw json.RawMessage) error {
	var a nodeArg
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	cfg := fastConfig(a.Name, a.Key)
	cfg.BindAddr = netip.MustParseAddr(a.Bind)
	cfg.BindPort = 7946
	r := &recorder{}
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
			err = g.Broadcast(m.Data)
		case "state":
			r.setLocal(m.Data)
		case "members":
			for _, mb := range g.Members() {
				rep.Members = append(rep.Members, mb.Name)
			}
		case "got":
			rep.OK = r.gotMsg(m.Data)
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

func ask(t *testing.T, p *netns.Proc, m nodeCmd) nodeReply {
	t.Helper()
	r := ask2(t, p, m)
	if r.Err != "" {
		t.Fatalf("%s %s: %s", p.Name, m.Op, r.Err)
	}
	return r
}

// ask2 is ask without failing on the child's own error (for calls expected to fail).
func ask2(t *testing.T, p *netns.Proc, m nodeCmd) nodeReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r nodeReply
	if err := p.Call(ctx, m, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitAll(t *testing.T, what string, procs []*netns.Proc, cond func(p *netns.Proc) bool) {
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

// TestLANConvergePartitionHeal runs 4 nodes in 4 namespaces on one bridge: they converge a broadcast and a push/pull
// state; a fifth node with another mesh key can neither join nor inject; one node's cable is pulled until both sides declare the other dead; after the cable is back the mesh
// re-forms by itself (no test-driven Join), and gossip reaches the returning node.
func TestLANConvergePartitionHeal(t *testing.T) {
	lab := netns.New(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.215.0.0/24"))
	const n = 4
	var procs []*netns.Proc
	var links []*netns.Iface
	var addrs []string
	for i := range n {
		ns := lab.Namespace(fmt.Sprintf("g%d", i))
		ifc := br.Attach(ns)
		p := ns.StartChild("node", nodeArg{Name: fmt.Sprintf("node%d", i), Bind: ifc.IP().String(), Key: keyA})
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
	members := func(k int) func(p *netns.Proc) bool {
		return func(p *netns.Proc) bool { return len(ask(t, p, nodeCmd{Op: "members"}).Members) == k }
	}
	waitAll(t, "4 members everywhere", procs, members(n))

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
