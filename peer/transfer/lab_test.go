package transfer

// Tests and benchmarks between network namespaces: every host runs in a child process inside its namespace
// (internal/netns), driven over JSON lines.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/netns"
)

func TestMain(m *testing.M) {
	netns.RunChild(map[string]netns.ChildFunc{"blobhost": blobHostChild, "https": httpsChild})
	os.Exit(m.Run())
}

type hostArg struct {
	Listen   string
	KeySeed  byte
	Blob     string // file served, "" for none
	Security string
	PSK      bool // join the test store's private network (pnet)
}

type cmd struct {
	Op        string
	IDs       []string
	Peer      string
	Addrs     []string
	SHA       string
	Offset    int64
	StopAfter int64  // the writer fails after this many bytes (0 = never)
	Sink      string // file the fetched bytes go to at Offset; "" = discard
	URL       string
	CertDER   []byte
}

type reply struct {
	ID      string
	Addr    string
	CertDER []byte
	Size    int64
	Written int64
	SinkSHA string
	Err     string
	OK      bool
	CPUNs   int64 // CPU time (user+system) of the child process so far
}

func cpuNs() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func fileOpen(path string) OpenFunc {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	h := sha256.New()
	size, _ := io.Copy(h, f)
	_ = f.Close()
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return func(sha [32]byte) (io.ReadSeeker, int64, error) {
		if sha != sum {
			return nil, 0, ErrNotFound
		}
		f, err := os.Open(path)
		return f, size, err
	}
}

// failAfter is a sink that fails once it has taken max bytes (a disk that fills, a process that dies).
type failAfter struct {
	w   io.Writer
	n   int64
	max int64
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.max > 0 && f.n+int64(len(p)) > f.max {
		k := f.max - f.n
		n, _ := f.w.Write(p[:k])
		f.n += int64(n)
		return n, errors.New("sink failed on purpose")
	}
	n, err := f.w.Write(p)
	f.n += int64(n)
	return n, err
}

func blobHostChild(ctx context.Context, c *netns.Conn, raw json.RawMessage) error {
	var a hostArg
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	cfg := DefaultConfig()
	cfg.ListenAddrs = []netip.AddrPort{netip.MustParseAddrPort(a.Listen)}
	cfg.PrivateKey = testKey(a.KeySeed)
	cfg.Security = a.Security
	if a.PSK {
		cfg.PSK = []byte("lomuz test store pre-shared key!")
	}
	cfg.StallTimeout = 5 * time.Second
	if a.Blob != "" {
		cfg.Open = fileOpen(a.Blob)
	}
	h, err := New(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := c.Send(reply{ID: h.ID(), Addr: h.Addrs()[0].String()}); err != nil {
		return err
	}
	for {
		var m cmd
		if err := c.Recv(ctx, &m); err != nil {
			return nil
		}
		var r reply
		switch m.Op {
		case "allow":
			r.OK = h.SetAllowed(m.IDs) == nil
		case "connected":
			r.OK = h.Connected(m.Peer)
		case "rusage":
		case "fetch":
			r = fetchCmd(ctx, h, m)
		default:
			r.Err = "unknown op " + m.Op
		}
		r.CPUNs = cpuNs()
		if err := c.Send(r); err != nil {
			return err
		}
	}
}

func fetchCmd(ctx context.Context, h *Host, m cmd) reply {
	var r reply
	var addrs []netip.AddrPort
	for _, s := range m.Addrs {
		addrs = append(addrs, netip.MustParseAddrPort(s))
	}
	if err := h.AddAddrs(m.Peer, addrs, time.Hour); err != nil {
		return reply{Err: err.Error()}
	}
	var sha [32]byte
	_, _ = hex.Decode(sha[:], []byte(m.SHA))
	var w io.Writer = io.Discard
	var f *os.File
	if m.Sink != "" {
		var err error
		if f, err = os.OpenFile(m.Sink, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
			return reply{Err: err.Error()}
		}
		defer f.Close()
		_ = f.Truncate(m.Offset)
		_, _ = f.Seek(m.Offset, io.SeekStart)
		w = f
	}
	fw := &failAfter{w: w, max: m.StopAfter}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	size, err := h.Fetch(fctx, m.Peer, sha, m.Offset, fw, nil)
	r.Size, r.Written = size, fw.n
	if err != nil {
		r.Err = err.Error()
	}
	if f != nil {
		_, _ = f.Seek(0, io.SeekStart)
		s := sha256.New()
		_, _ = io.Copy(s, f)
		r.SinkSHA = hex.EncodeToString(s.Sum(nil))
	}
	return r
}

// httpsChild is the baseline: Go's net/http with TLS 1.3 and a self-signed certificate, serving the same file
// (arg.Blob non-empty) or fetching it (op "get").
func httpsChild(ctx context.Context, c *netns.Conn, raw json.RawMessage) error {
	var a hostArg
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	if a.Blob != "" {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ip := net.ParseIP(netip.MustParseAddrPort(a.Listen).Addr().String())
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{ip}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return err
		}
		l, err := net.Listen("tcp", a.Listen)
		if err != nil {
			return err
		}
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, a.Blob) }),
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
				MinVersion: tls.VersionTLS13},
		}
		go func() { _ = srv.ServeTLS(l, "", "") }()
		defer srv.Close()
		if err := c.Send(reply{Addr: l.Addr().String(), CertDER: der}); err != nil {
			return err
		}
	} else if err := c.Send(reply{}); err != nil {
		return err
	}
	for {
		var m cmd
		if err := c.Recv(ctx, &m); err != nil {
			return nil
		}
		var r reply
		if m.Op == "get" {
			r = httpsGet(ctx, m)
		}
		r.CPUNs = cpuNs()
		if err := c.Send(r); err != nil {
			return err
		}
	}
}

func httpsGet(ctx context.Context, m cmd) reply {
	cert, err := x509.ParseCertificate(m.CertDER)
	if err != nil {
		return reply{Err: err.Error()}
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer cl.CloseIdleConnections()
	gctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(gctx, http.MethodGet, m.URL, nil)
	resp, err := cl.Do(req)
	if err != nil {
		return reply{Err: err.Error()}
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	r := reply{Written: n, Size: resp.ContentLength}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

func call(t testing.TB, p *netns.Proc, m cmd) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var r reply
	if err := p.Call(ctx, m, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func startHost(t testing.TB, ns *netns.NS, a hostArg) (*netns.Proc, reply) {
	t.Helper()
	p := ns.StartChild("blobhost", a)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r reply
	if err := p.Recv(ctx, &r); err != nil {
		t.Fatalf("start blob host in %s: %v\n%s", ns.Short, err, p.Stderr())
	}
	return p, r
}

// writeBlob writes n pseudo-random bytes to a file and returns its path and sha256 (hex).
func writeBlob(t testing.TB, n int) (string, string) {
	t.Helper()
	path := t.TempDir() + "/blob"
	b := testBlob(uint64(n), n)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return path, hex.EncodeToString(s[:])
}

// TestLANTransferResumeGateRevoke moves a 50 MB blob between two namespaces on a store bridge, interrupted and
// resumed from its offset; a third device not in the allow list is refused at the gate; a device revoked while
// fetching is cut off and cannot reconnect.
func TestLANTransferResumeGateRevoke(t *testing.T) {
	lab := netns.New(t)
	br := lab.Bridge("sw", netip.MustParsePrefix("10.213.0.0/24"))
	nsA, nsB, nsC := lab.Namespace("a"), lab.Namespace("b"), lab.Namespace("c")
	ia, ib, ic := br.Attach(nsA), br.Attach(nsB), br.Attach(nsC)
	blob, sha := writeBlob(t, 50<<20)

	srv, rs := startHost(t, nsA, hostArg{Listen: ia.IP().String() + ":4001", KeySeed: 1, Blob: blob})
	cli, rc := startHost(t, nsB, hostArg{Listen: ib.IP().String() + ":4001", KeySeed: 2})
	str, rx := startHost(t, nsC, hostArg{Listen: ic.IP().String() + ":4001", KeySeed: 3})
	call(t, srv, cmd{Op: "allow", IDs: []string{rc.ID}})
	call(t, cli, cmd{Op: "allow", IDs: []string{rs.ID}})
	call(t, str, cmd{Op: "allow", IDs: []string{rs.ID}})

	sink := t.TempDir() + "/sink"
	const cut = 17<<20 + 5
	r := call(t, cli, cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha, Sink: sink, StopAfter: cut})
	if r.Err == "" || r.Written != cut {
		t.Fatalf("interrupted fetch: written %d err %q", r.Written, r.Err)
	}
	r = call(t, cli, cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha, Sink: sink, Offset: cut})
	if r.Err != "" || r.Size != 50<<20 || r.Written != 50<<20-cut || r.SinkSHA != sha {
		t.Fatalf("resumed fetch: %+v", r)
	}

	r = call(t, str, cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha})
	if r.Err == "" || r.Written != 0 {
		t.Fatalf("device outside the allow list fetched: %+v", r)
	}
	if call(t, srv, cmd{Op: "connected", Peer: rx.ID}).OK {
		t.Fatal("gated device holds a connection")
	}

	// Revoke while a fetch is in flight: shape the server's link so the 50 MB take seconds, wait for bytes to
	// move, then drop the client from the allow list.
	if err := ia.Shape(netns.Shaping{RateBits: 100_000_000}); err != nil {
		t.Fatal(err)
	}
	c0, err := ia.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Send(cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := ia.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c.TxBytes-c0.TxBytes > 4<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revocation fetch did not start")
		}
		time.Sleep(20 * time.Millisecond) // polling the kernel counter, with a deadline
	}
	call(t, srv, cmd{Op: "allow", IDs: nil})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cli.Recv(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if r.Err == "" || r.Written >= 50<<20 {
		t.Fatalf("revoked device finished its fetch: %+v", r)
	}
	if call(t, srv, cmd{Op: "connected", Peer: rc.ID}).OK {
		t.Fatal("revoked device still connected")
	}
	r = call(t, cli, cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha})
	if r.Err == "" || r.Written != 0 {
		t.Fatalf("revoked device fetched again: %+v", r)
	}
	t.Logf("revoked after %d bytes: %s", r.Written, r.Err)
}

// BenchmarkLANThroughput compares a libp2p blob fetch with an HTTPS GET of the same file between the same two
// namespaces over one veth, unshaped and shaped to 1 Gbit/s. It reports MB/s and CPU seconds per GB (server plus
// client processes); scripts/bench.d/50-peer.sh turns the figures into a table.
func BenchmarkLANThroughput(b *testing.B) {
	size := 256 << 20
	if s := os.Getenv("LOMUZ_BENCH_BYTES"); s != "" {
		_, _ = fmt.Sscan(s, &size)
	}
	lab := netns.New(b)
	nsS, nsC := lab.Namespace("srv"), lab.Namespace("cli")
	is, ic := lab.Connect(nsS, nsC, netip.MustParsePrefix("10.214.0.0/30"))
	blob, sha := writeBlob(b, size)
	for _, link := range []struct {
		name string
		rate uint64
	}{{"veth", 0}, {"1gbit", 1_000_000_000}} {
		for _, ifc := range []*netns.Iface{is, ic} {
			if err := ifc.Shape(netns.Shaping{RateBits: link.rate}); err != nil {
				b.Fatal(err)
			}
		}
		for _, v := range []struct {
			name, sec string
			psk       bool
		}{{"libp2p-tls", "tls", false}, {"libp2p-noise", "noise", false}, {"libp2p-tls-psk", "tls", true}} {
			b.Run(link.name+"/"+v.name, func(b *testing.B) {
				srv, rs := startHost(b, nsS, hostArg{Listen: is.IP().String() + ":0", KeySeed: 1, Blob: blob,
					Security: v.sec, PSK: v.psk})
				cli, rc := startHost(b, nsC, hostArg{Listen: ic.IP().String() + ":0", KeySeed: 2, Security: v.sec,
					PSK: v.psk})
				call(b, srv, cmd{Op: "allow", IDs: []string{rc.ID}})
				call(b, cli, cmd{Op: "allow", IDs: []string{rs.ID}})
				measure(b, size, srv, cli, cmd{Op: "fetch", Peer: rs.ID, Addrs: []string{rs.Addr}, SHA: sha})
				srv.Stop()
				cli.Stop()
			})
		}
		b.Run(link.name+"/https", func(b *testing.B) {
			srv := nsS.StartChild("https", hostArg{Listen: is.IP().String() + ":8443", Blob: blob})
			cli := nsC.StartChild("https", hostArg{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var rs, rc reply
			if err := srv.Recv(ctx, &rs); err != nil {
				b.Fatal(err, srv.Stderr())
			}
			if err := cli.Recv(ctx, &rc); err != nil {
				b.Fatal(err, cli.Stderr())
			}
			measure(b, size, srv, cli, cmd{Op: "get", URL: "https://" + rs.Addr + "/blob", CertDER: rs.CertDER})
			srv.Stop()
			cli.Stop()
		})
	}
}

func measure(b *testing.B, size int, srv, cli *netns.Proc, fetch cmd) {
	b.Helper()
	// One warm-up transfer opens the connection and faults the file into the page cache.
	if r := call(b, cli, fetch); r.Err != "" || r.Written != int64(size) {
		b.Fatalf("warm-up: %+v", r)
	}
	s0, c0 := call(b, srv, cmd{Op: "rusage"}).CPUNs, call(b, cli, cmd{Op: "rusage"}).CPUNs
	b.SetBytes(int64(size))
	b.ResetTimer()
	var c1 int64
	for b.Loop() {
		r := call(b, cli, fetch)
		if r.Err != "" || r.Written != int64(size) {
			b.Fatalf("fetch: %+v", r)
		}
		c1 = r.CPUNs
	}
	b.StopTimer()
	s1 := call(b, srv, cmd{Op: "rusage"}).CPUNs
	gb := float64(size) * float64(b.N) / 1e9
	b.ReportMetric(float64(s1-s0+c1-c0)/1e9/gb, "cpu-s/GB")
}
