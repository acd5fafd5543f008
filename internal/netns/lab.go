package netns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lomuz/lomuz/internal/testenv"
)

// namePrefix starts every namespace this package creates; the creating pid follows, so a lab can tell a leftover
// of a dead run from a namespace of a live one (several test binaries build labs at the same time).
const namePrefix = "lomuz-"

// Lab is a set of namespaces and links that belong to one test. All methods fail the test (t.Fatal) on error and
// must be called from the test's goroutine; the accessors of NS and Iface are safe from any goroutine.
type Lab struct {
	t  testing.TB
	id string

	mu    sync.Mutex
	nss   []*NS
	procs []*Proc
}

// NS is one network namespace of a lab.
type NS struct {
	lab   *Lab
	Name  string // full name, as `ip netns` knows it
	Short string // the name given by the test
	nifs  int
}

// Iface is one end of a veth pair: the interface Name inside NS, with Addr (and its prefix length) when it has one.
type Iface struct {
	NS   *NS
	Name string
	Addr netip.Prefix // invalid for a bridge port on the switch side
	Peer *Iface       // the other end of the veth pair
}

// IP returns the interface's address without its prefix length.
func (i *Iface) IP() netip.Addr { return i.Addr.Addr() }

// New creates an empty lab for t: it needs root and iproute2 (else it skips, or fails under CI), removes namespaces
// left behind by dead runs, and registers the removal of everything it creates, processes first.
func New(t testing.TB) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	removeLeftovers()
	l := &Lab{t: t, id: testenv.RandomHex(3)}
	t.Cleanup(l.close)
	return l
}

// Namespace creates a namespace with its loopback up.
func (l *Lab) Namespace(short string) *NS {
	l.t.Helper()
	name := fmt.Sprintf("%s%d-%s-%s", namePrefix, os.Getpid(), l.id, short)
	if out, err := run("ip", "netns", "add", name); err != nil {
		if strings.Contains(out, "Operation not permitted") {
			testenv.Unavailable(l.t, "cannot create network namespaces here: %s", out)
		}
		l.t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{lab: l, Name: name, Short: short}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	l.must("ip", "-n", name, "link", "set", "lo", "up")
	return ns
}

// Bridge is an L2 switch living in a namespace of its own, so no host interface ever joins it.
type Bridge struct {
	lab    *Lab
	Switch *NS
	Subnet netip.Prefix
	next   netip.Addr
}

// Bridge creates a switch namespace holding bridge "br0" for subnet (for example 10.77.0.0/24); attached namespaces
// get consecutive addresses from the subnet's first host address on. Multicast snooping is off, so mDNS floods
// like on a cheap store switch, and ports forward at once (no STP delay).
func (l *Lab) Bridge(short string, subnet netip.Prefix) *Bridge {
	l.t.Helper()
	sw := l.Namespace(short)
	l.must("ip", "-n", sw.Name, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
		"mcast_snooping", "0")
	l.must("ip", "-n", sw.Name, "link", "set", "br0", "up")
	subnet = subnet.Masked()
	return &Bridge{lab: l, Switch: sw, Subnet: subnet, next: subnet.Addr().Next()}
}

// Attach connects ns to the bridge with a new veth pair and returns the end inside ns, addressed from the subnet.
// Its Peer is the bridge port: Cut and Heal act there, like pulling the store switch's cable.
func (b *Bridge) Attach(ns *NS) *Iface {
	b.lab.t.Helper()
	addr := b.next
	if !b.Subnet.Contains(addr) {
		b.lab.t.Fatalf("bridge %s: subnet %s is full", b.Switch.Short, b.Subnet)
	}
	b.next = addr.Next()
	in, port := b.lab.veth(ns, b.Switch)
	b.lab.must("ip", "-n", b.Switch.Name, "link", "set", port.Name, "master", "br0")
	b.lab.must("ip", "-n", b.Switch.Name, "link", "set", port.Name, "up")
	in.Addr = netip.PrefixFrom(addr, b.Subnet.Bits())
	b.lab.must("ip", "-n", ns.Name, "addr", "add", in.Addr.String(), "dev", in.Name)
	b.lab.must("ip", "-n", ns.Name, "link", "set", in.Name, "up")
	return in
}

// Connect links a and b point to point with a veth pair addressed from subnet (a gets the first host address, b
// the second) and returns both ends. Routes beyond the link are the caller's (NS.Route).
func (l *Lab) Connect(a, b *NS, subnet netip.Prefix) (*Iface, *Iface) {
	l.t.Helper()
	subnet = subnet.Masked()
	ea, eb := l.veth(a, b)
	ea.Addr = netip.PrefixFrom(subnet.Addr().Next(), subnet.Bits())
	eb.Addr = netip.PrefixFrom(ea.Addr.Addr().Next(), subnet.Bits())
	for _, e := range []*Iface{ea, eb} {
		l.must("ip", "-n", e.NS.Name, "addr", "add", e.Addr.String(), "dev", e.Name)
		l.must("ip", "-n", e.NS.Name, "link", "set", e.Name, "up")
	}
	return ea, eb
}

// veth creates a pair with one end in each namespace. Interface names are per namespace, so short names suffice
// (the kernel limits them to 15 bytes), and the
// peer end is created directly in its namespace, never on the host.
func (l *Lab) veth(a, b *NS) (*Iface, *Iface) {
	na, nb := a.ifName(), b.ifName()
	l.must("ip", "-n", a.Name, "link", "add", na, "type", "veth", "peer", "name", nb, "netns", b.Name)
	ea := &Iface{NS: a, Name: na}
	eb := &Iface{NS: b, Name: nb, Peer: ea}
	ea.Peer = eb
	return ea, eb
}

func (ns *NS) ifName() string {
	ns.lab.mu.Lock()
	defer ns.lab.mu.Unlock()
	n := fmt.Sprintf("eth%d", ns.nifs)
	ns.nifs++
	return n
}

// Route adds a route in ns: dst via gateway (for example the far end of a Connect link).
func (ns *NS) Route(dst netip.Prefix, via netip.Addr) {
	ns.lab.t.Helper()
	ns.lab.must("ip", "-n", ns.Name, "route", "replace", dst.String(), "via", via.String())
}

// Forwarding turns IPv4 forwarding on in ns, for a namespace that routes between a LAN and an uplink.
func (ns *NS) Forwarding() {
	ns.lab.t.Helper()
	ns.lab.must("ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
}

// SetUp sets the interface administratively up or down. Prefer Cut/Heal to simulate a cable: taking the local end
// down also drops its routes.
func (i *Iface) SetUp(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	out, err := run("ip", "-n", i.NS.Name, "link", "set", i.Name, state)
	if err != nil {
		return fmt.Errorf("ip link set %s %s in %s: %v: %s", i.Name, state, i.NS.Short, err, out)
	}
	return nil
}

// Readdress replaces the interface's address (a DHCP lease that renumbered a device). Routes through the old
// address go with it.
func (i *Iface) Readdress(p netip.Prefix) error {
	if out, err := run("ip", "-n", i.NS.Name, "addr", "flush", "dev", i.Name, "scope", "global"); err != nil {
		return fmt.Errorf("ip addr flush %s in %s: %v: %s", i.Name, i.NS.Short, err, out)
	}
	if out, err := run("ip", "-n", i.NS.Name, "addr", "add", p.String(), "dev", i.Name); err != nil {
		return fmt.Errorf("ip addr add %s to %s in %s: %v: %s", p, i.Name, i.NS.Short, err, out)
	}
	i.Addr = p
	return nil
}

// Cut takes the far end of the link down: this end sees no carrier and sends nothing, but keeps its address and
// routes, as when a cable is pulled. Heal undoes it.
func (i *Iface) Cut() error { return i.Peer.SetUp(false) }

// Heal brings the far end back up.
func (i *Iface) Heal() error { return i.Peer.SetUp(true) }

// Shaping is the traffic shaping of one interface's egress.
type Shaping struct {
	RateBits uint64        // bits per second; 0 = unlimited
	Delay    time.Duration // one-way delay added on egress; 0 = none
	LossPct  float64       // random loss on egress, 0-100
}

// Shape replaces the egress qdisc of the interface. A rate alone uses tbf (a real token bucket, as a switch port
// would); delay or loss use netem. Shape both ends of a link for a symmetric link.
func (i *Iface) Shape(s Shaping) error {
	if s.LossPct < 0 || s.LossPct > 100 {
		return fmt.Errorf("loss %v%% out of 0-100", s.LossPct)
	}
	args := []string{"-n", i.NS.Name, "qdisc", "replace", "dev", i.Name, "root"}
	switch {
	case s.Delay == 0 && s.LossPct == 0 && s.RateBits == 0:
		out, err := run("tc", "-n", i.NS.Name, "qdisc", "del", "dev", i.Name, "root")
		if err != nil && !strings.Contains(out, "No such file") && !strings.Contains(out, "Cannot delete") {
			return fmt.Errorf("tc qdisc del: %v: %s", err, out)
		}
		return nil
	case s.Delay == 0 && s.LossPct == 0:
		// burst: 4 ms at rate, at least 64 KiB, so timer granularity does not cap the rate below its setting.
		burst := max(s.RateBits/8/250, 64<<10)
		args = append(args, "tbf", "rate", strconv.FormatUint(s.RateBits, 10)+"bit",
			"burst", strconv.FormatUint(burst, 10), "latency", "20ms")
	default:
		args = append(args, "netem", "limit", "10000")
		if s.Delay > 0 {
			args = append(args, "delay", fmt.Sprintf("%dus", s.Delay.Microseconds()))
		}
		if s.LossPct > 0 {
			args = append(args, "loss", fmt.Sprintf("%g%%", s.LossPct))
		}
		if s.RateBits > 0 {
			args = append(args, "rate", strconv.FormatUint(s.RateBits, 10)+"bit")
		}
	}
	if out, err := run("tc", args...); err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Counters are the kernel's byte and packet counters of one interface.
type Counters struct {
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
}

// Counters reads the interface's counters from the kernel (`ip -s -j link`).
func (i *Iface) Counters() (Counters, error) {
	out, err := run("ip", "-n", i.NS.Name, "-s", "-j", "link", "show", "dev", i.Name)
	if err != nil {
		return Counters{}, fmt.Errorf("ip -s link %s in %s: %v: %s", i.Name, i.NS.Short, err, out)
	}
	var links []struct {
		Stats struct {
			Rx struct{ Bytes, Packets uint64 } `json:"rx"`
			Tx struct{ Bytes, Packets uint64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return Counters{}, fmt.Errorf("parse ip -s -j link output %q: %v", out, err)
	}
	s := links[0].Stats
	return Counters{RxBytes: s.Rx.Bytes, TxBytes: s.Tx.Bytes, RxPackets: s.Rx.Packets, TxPackets: s.Tx.Packets}, nil
}

// Command returns a command that runs the program inside ns (`ip netns exec`). The caller starts and waits for it;
// a process started this way is not tracked by the lab: stop it yourself (or use StartChild).
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Do runs fn on an OS thread switched into ns and returns its error. Only sockets that fn creates before it
// returns, on its own goroutine, live in ns; a goroutine fn starts runs in the host namespace. The thread is
// discarded afterwards rather than switched back, so no other goroutine ever runs in ns by accident.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Short, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func (l *Lab) must(name string, args ...string) {
	l.t.Helper()
	if out, err := run(name, args...); err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func run(name string, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return strings.TrimSpace(buf.String()), err
}

// close stops the lab's processes, then deletes its namespaces (which destroys their interfaces).
func (l *Lab) close() {
	l.mu.Lock()
	procs, nss := l.procs, l.nss
	l.procs, l.nss = nil, nil
	l.mu.Unlock()
	for _, p := range procs {
		p.Stop()
	}
	for i := len(nss) - 1; i >= 0; i-- {
		deleteNS(nss[i].Name)
	}
}

// deleteNS kills, by pid, whatever still runs inside the namespace (processes a test started there), then deletes it.
func deleteNS(name string) {
	out, _ := run("ip", "netns", "pids", name)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_, _ = run("ip", "netns", "delete", name)
}

// removeLeftovers deletes namespaces of this package whose creating process is gone (a crashed or killed run).
func removeLeftovers() {
	out, err := run("ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || processAlive(pid) {
			continue
		}
		deleteNS(name)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
