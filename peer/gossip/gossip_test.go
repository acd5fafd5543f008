package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that keeps everything it receives.
type recorder struct {
	mu     sync.Mutex
	msgs   [][]byte
	states [][]byte
	local  []byte
	joins  []string
	leaves []string
}

func (r *recorder) Message(b []byte) { r.mu.Lock(); r.msgs = append(r.msgs, b); r.mu.Unlock() }
func (r *recorder) LocalState(bool) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.local
}
func (r *recorder) MergeRemoteState(b []byte, _ bool) {
	r.mu.Lock()
	r.states = append(r.states, b)
	r.mu.Unlock()
}
func (r *recorder) MemberJoin(m Member) {
	r.mu.Lock()
	r.joins = append(r.joins, m.Name)
	r.mu.Unlock()
}
func (r *recorder) MemberLeave(m Member) {
	r.mu.Lock()
	r.leaves = append(r.leaves, m.Name)
	r.mu.Unlock()
}

func (r *recorder) setLocal(b []byte) { r.mu.Lock(); r.local = b; r.mu.Unlock() }

func (r *recorder) gotMsg(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.msgs, func(m []byte) bool { return bytes.Equal(m, b) })
}

func (r *recorder) gotState(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.states, func(m []byte) bool { return bytes.Equal(m, b) })
}

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 32)
	keyC = bytes.Repeat([]byte{0xc3}, 16)
)

func fastConfig(name string, keys ...[]byte) Config {
	c := DefaultConfig()
	c.NodeName = name
	c.BindAddr = netip.MustParseAddr("127.0.0.1")
	c.Keys = keys
	c.ProbeInterval = 200 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 300 * time.Millisecond
	c.TCPTimeout = 2 * time.Second
	c.RejoinInterval = 300 * time.Millisecond
	c.LeaveTimeout = 500 * time.Millisecond
	return c
}

func start(t *testing.T, cfg Config) (*Gossip, *recorder) {
	t.Helper()
	r := &recorder{}
	cfg.Handler = r
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return g, r
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

func mesh(t *testing.T, n int, keys ...[]byte) ([]*Gossip, []*recorder) {
	t.Helper()
	var gs []*Gossip
	var rs []*recorder
	for i := range n {
		g, r := start(t, fastConfig(fmt.Sprintf("n%d", i), keys...))
		gs, rs = append(gs, g), append(rs, r)
	}
	for _, g := range gs[1:] {
		if _, err := g.Join([]netip.AddrPort{gs[0].LocalAddr()}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "full membership", func() bool {
		for _, g := range gs {
			if len(g.Members()) != n {
				return false
			}
		}
		return true
	})
	return gs, rs
}

func TestBroadcastAndPushPullConverge(t *testing.T) {
	gs, rs := mesh(t, 4, keyA)
	max := bytes.Repeat([]byte{'x'}, gs[0].MaxBroadcast())
	copy(max, "biggest")
	if err := gs[1].Broadcast(max); err != nil {
		t.Fatal(err)
	}
	if err := gs[2].Broadcast([]byte("delta-1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "broadcasts everywhere", func() bool {
		for i, r := range rs {
			if i != 1 && !r.gotMsg(max) || i != 2 && !r.gotMsg([]byte("delta-1")) {
				return false
			}
		}
		return true
	})
	if err := gs[0].Broadcast(make([]byte, gs[0].MaxBroadcast()+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize broadcast: %v", err)
	}
	if st := gs[0].Stats(); st.Refused != 1 || st.Broadcast != 0 || st.Delivered != 2 {
		t.Fatalf("stats of node 0: %+v", st)
	}
	if st := gs[1].Stats(); st.Broadcast != 1 || st.Delivered != 1 {
		t.Fatalf("stats of node 1: %+v", st)
	}
	state := bytes.Repeat([]byte("full state "), 100_000) // 1.1 MB: TCP push/pull, not gossip
	rs[3].setLocal(state)
	eventually(t, "push/pull state everywhere", func() bool {
		return rs[0].gotState(state) && rs[1].gotState(state) && rs[2].gotState(state)
	})
}

func TestStateBounded(t *testing.T) {
	ca, cb := fastConfig("a", keyA), fastConfig("b", keyA)
	ca.MaxStateSize, cb.MaxStateSize = 1000, 1000
	a, ra := start(t, ca)
	b, rb := start(t, cb)
	ra.setLocal(make([]byte, 1001))
	rb.setLocal([]byte("small"))
	if _, err := b.Join([]netip.AddrPort{a.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "small state merged", func() bool { return ra.gotState([]byte("small")) })
	a.mu.Lock()
	dropped := a.dropped
	a.mu.Unlock()
	rb.mu.Lock()
	merged := len(rb.states)
	rb.mu.Unlock()
	if dropped == 0 || merged != 0 {
		t.Fatalf("oversize state: dropped %d, merged %d", dropped, merged)
	}
}

func TestOtherKeyCannotJoinOrInject(t *testing.T) {
	gs, rs := mesh(t, 2, keyA)
	outsider, _ := start(t, fastConfig("intruder", keyB))
	if _, err := outsider.Join([]netip.AddrPort{gs[0].LocalAddr()}); err == nil {
		t.Fatal("a node with another mesh key joined")
	}
	// A direct user message, encrypted with the wrong key, sent to a member's gossip port.
	if err := outsider.ml.SendToAddress(addr(gs[0].LocalAddr()), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if err := gs[1].Broadcast([]byte("after")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "legit broadcast", func() bool { return rs[0].gotMsg([]byte("after")) })
	if rs[0].gotMsg([]byte("forged")) || len(gs[0].Members()) != 2 {
		t.Fatalf("intruder got in: members %d", len(gs[0].Members()))
	}
}

func TestKeyRotation(t *testing.T) {
	gs, rs := mesh(t, 3, keyA)
	for _, step := range [][][]byte{{keyA, keyC}, {keyC, keyA}, {keyC}} {
		for _, g := range gs {
			if err := g.SetKeys(step); err != nil {
				t.Fatal(err)
			}
		}
	}
	msg := []byte("under the new key")
	if err := gs[0].Broadcast(msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "broadcast after rotation", func() bool { return rs[1].gotMsg(msg) && rs[2].gotMsg(msg) })
	old, _ := start(t, fastConfig("old", keyA))
	if _, err := old.Join([]netip.AddrPort{gs[0].LocalAddr()}); err == nil {
		t.Fatal("a node with the retired key joined")
	}
	if err := gs[0].SetKeys([][]byte{[]byte("short")}); !errors.Is(err, ErrKey) {
		t.Fatalf("bad key: %v", err)
	}
	if err := gs[0].SetKeys(nil); !errors.Is(err, ErrKey) {
		t.Fatalf("no key: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no name":  func(c *Config) { c.NodeName = "" },
		"wildcard": func(c *Config) { c.BindAddr = netip.IPv4Unspecified() },
		"no key":   func(c *Config) { c.Keys = nil },
		"bad key":  func(c *Config) { c.Keys = [][]byte{make([]byte, 7)} },
		"meta":     func(c *Config) { c.Meta = make([]byte, 600) },
		"state":    func(c *Config) { c.MaxStateSize = 64 << 20 },
		"no hand":  func(c *Config) { c.Handler = nil },
	} {
		c := fastConfig("x", keyA)
		c.Handler = &recorder{}
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestBroadcastBacklogBounded(t *testing.T) {
	cfg := fastConfig("alone", keyA)
	cfg.MaxQueued = 2
	g, _ := start(t, cfg) // no other member: nothing drains the queue
	for i := range 2 {
		if err := g.Broadcast([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Broadcast([]byte("third")); !errors.Is(err, ErrBacklog) {
		t.Fatalf("third broadcast: %v", err)
	}
	if err := g.Broadcast(nil); err == nil {
		t.Fatal("empty broadcast accepted")
	}
}

func TestMemberlistLogLevels(t *testing.T) {
	var buf bytes.Buffer
	w := levelWriter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, line := range []string{"[ERR] memberlist: boom\n", "[WARN] memberlist: hmm\n", "[DEBUG] memberlist: x\n",
		"plain\n"} {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	for _, want := range []string{"level=ERROR msg=\"memberlist: boom\"", "level=WARN msg=\"memberlist: hmm\"",
		"level=DEBUG msg=\"memberlist: x\"", "level=DEBUG msg=plain"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func TestSendDirectReachesEveryMemberOnce(t *testing.T) {
	gs, rs := mesh(t, 4, keyA)
	big := bytes.Repeat([]byte("record "), 2000) // 14 kB: far over one gossip packet
	n, err := gs[0].SendDirect(big)
	if err != nil || n != 3 {
		t.Fatalf("SendDirect: %d members, %v", n, err)
	}
	eventually(t, "direct message everywhere", func() bool {
		return rs[1].gotMsg(big) && rs[2].gotMsg(big) && rs[3].gotMsg(big)
	})
	if rs[0].gotMsg(big) {
		t.Fatal("the sender delivered its own direct message")
	}
	// Not forwarded: each receiver delivered it exactly once and queued nothing to re-gossip.
	for i, g := range gs[1:] {
		if st := g.Stats(); st.Delivered != 1 || g.queue.NumQueued() != 0 {
			t.Fatalf("node %d: stats %+v, queued %d", i+1, st, g.queue.NumQueued())
		}
	}
	if _, err := gs[0].SendDirect(make([]byte, gs[0].cfg.MaxStateSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize direct message: %v", err)
	}
}
