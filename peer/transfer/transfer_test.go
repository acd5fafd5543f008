package transfer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testBlob(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// memBlobs serves blobs from memory.
func memBlobs(blobs ...[]byte) OpenFunc {
	m := map[[32]byte][]byte{}
	for _, b := range blobs {
		m[sha256.Sum256(b)] = b
	}
	return func(sha [32]byte) (io.ReadSeeker, int64, error) {
		b, ok := m[sha]
		if !ok {
			return nil, 0, ErrNotFound
		}
		return bytes.NewReader(b), int64(len(b)), nil
	}
}

func loopbackHost(t *testing.T, seed byte, open OpenFunc) *Host {
	t.Helper()
	return loopbackHostWith(t, seed, func(c *Config) { c.Open = open })
}

// loopbackHostWith is loopbackHost with the config adjusted by set.
func loopbackHostWith(t *testing.T, seed byte, set func(*Config)) *Host {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ListenAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.PrivateKey = testKey(seed)
	cfg.StallTimeout = 2 * time.Second
	set(&cfg)
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// pair returns a server and a client that allow each other, the client knowing the server's address.
func pair(t *testing.T, open OpenFunc) (srv, cli *Host) {
	t.Helper()
	srv, cli = loopbackHost(t, 1, open), loopbackHost(t, 2, nil)
	introduce(t, srv, cli)
	return srv, cli
}

// introduce makes srv and cli allow each other and tells cli srv's address.
func introduce(t *testing.T, srv, cli *Host) {
	t.Helper()
	if err := srv.SetAllowed([]string{cli.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := cli.SetAllowed([]string{srv.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := cli.AddAddrs(srv.ID(), srv.Addrs(), time.Hour); err != nil {
		t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFetchWholeResumeNotFound(t *testing.T) {
	blob := testBlob(1, 3<<20+17)
	sha := sha256.Sum256(blob)
	srv, cli := pair(t, memBlobs(blob))
	ctx := ctxT(t)

	var buf bytes.Buffer
	var last int64
	size, err := cli.Fetch(ctx, srv.ID(), sha, 0, &buf, func(n int64) { last = n })
	if err != nil || size != int64(len(blob)) || !bytes.Equal(buf.Bytes(), blob) || last != size {
		t.Fatalf("fetch: size %d err %v equal %v progress %d", size, err, bytes.Equal(buf.Bytes(), blob), last)
	}

	// Interrupted by the writer, then resumed from where the bytes are.
	part := &limitWriter{max: 1 << 20}
	if _, err := cli.Fetch(ctx, srv.ID(), sha, 0, part, nil); err == nil {
		t.Fatal("fetch into a failing writer succeeded")
	}
	got := part.buf.Len()
	rest := &bytes.Buffer{}
	if _, err := cli.Fetch(ctx, srv.ID(), sha, int64(got), rest, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(part.buf.Bytes(), rest.Bytes()...), blob) {
		t.Fatal("resumed blob differs")
	}

	// Offset at the end: nothing to send, still ok; beyond the end: refused.
	if n, err := cli.Fetch(ctx, srv.ID(), sha, int64(len(blob)), io.Discard, nil); err != nil || n != int64(len(blob)) {
		t.Fatalf("fetch at end: %d %v", n, err)
	}
	if _, err := cli.Fetch(ctx, srv.ID(), sha, int64(len(blob))+1, io.Discard, nil); err == nil {
		t.Fatal("offset beyond size accepted")
	}
	if _, err := cli.Fetch(ctx, srv.ID(), [32]byte{9}, 0, io.Discard, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	// Whole, resumed and empty-range fetches succeeded; interrupted, beyond-size and missing ones failed. The
	// server may have sent all of the interrupted one before the client gave up (the yamux window holds it).
	if cs := cli.Stats(); cs.Fetched != 3 || cs.FetchFailed != 3 || cs.BytesFetched < uint64(2*len(blob)) {
		t.Fatalf("client stats %+v", cs)
	}
	deadline := time.Now().Add(5 * time.Second) // the server counts after its last write, maybe after Fetch returns
	for ss := srv.Stats(); ss.Served+ss.ServeFailed != 6 || ss.Served < 3 || ss.ServeFailed < 2 ||
		ss.BytesServed < uint64(2*len(blob)); ss = srv.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("server stats %+v", ss)
		}
		time.Sleep(5 * time.Millisecond) // polling, bounded by the deadline
	}
}

type limitWriter struct {
	buf bytes.Buffer
	max int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		return 0, errors.New("disk full")
	}
	return l.buf.Write(p)
}

func TestGateAndRevoke(t *testing.T) {
	blob := testBlob(2, 1<<20)
	sha := sha256.Sum256(blob)
	srv, cli := pair(t, memBlobs(blob))
	ctx := ctxT(t)
	stranger := loopbackHost(t, 3, nil)
	_ = stranger.SetAllowed([]string{srv.ID()}) // it wants srv; srv does not want it
	_ = stranger.AddAddrs(srv.ID(), srv.Addrs(), time.Hour)
	if _, err := stranger.Fetch(ctx, srv.ID(), sha, 0, io.Discard, nil); err == nil {
		t.Fatal("a peer outside the allow list fetched a blob")
	}
	if _, err := cli.Fetch(ctx, stranger.ID(), sha, 0, io.Discard, nil); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("fetch from an unlisted peer: %v", err)
	}
	if _, err := cli.Fetch(ctx, srv.ID(), sha, 0, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if !srv.Connected(cli.ID()) {
		t.Fatal("no connection after a fetch")
	}
	if err := srv.SetAllowed(nil); err != nil {
		t.Fatal(err)
	}
	if srv.Connected(cli.ID()) {
		t.Fatal("revoked peer still connected")
	}
	if _, err := cli.Fetch(ctx, srv.ID(), sha, 0, io.Discard, nil); err == nil {
		t.Fatal("revoked peer fetched a blob")
	}
	if err := srv.SetAllowed([]string{"not-a-peer-id"}); err == nil {
		t.Fatal("invalid id accepted")
	}
}

// A peer that announces one size and sends another is reported as broken, either way.
func TestLyingServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		announce int64
		send     int
		stall    bool
	}{{"short", 1000, 999, false}, {"long", 1000, 1001, false}, {"stall", 1000, 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := pair(t, nil)
			release := make(chan struct{})
			defer close(release)
			srv.h.SetStreamHandler(protocol.ID(ProtocolID), func(s network.Stream) {
				_, _ = io.ReadFull(s, make([]byte, requestLen))
				_, _ = s.Write(header{Status: StatusOK, Size: tc.announce}.encode())
				_, _ = s.Write(make([]byte, tc.send))
				if tc.stall {
					<-release
				}
				_ = s.Close()
			})
			_, err := cli.Fetch(ctxT(t), srv.ID(), [32]byte{1}, 0, io.Discard, nil)
			want := ErrBadPeer
			if tc.stall {
				want = ErrStalled
			}
			if !errors.Is(err, want) {
				t.Fatalf("err %v, want %v", err, want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.ListenAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
		c.PrivateKey = testKey(1)
		return c
	}
	for name, mut := range map[string]func(*Config){
		"no listen":   func(c *Config) { c.ListenAddrs = nil },
		"wildcard":    func(c *Config) { c.ListenAddrs = []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 4001)} },
		"wildcard v6": func(c *Config) { c.ListenAddrs = []netip.AddrPort{netip.AddrPortFrom(netip.IPv6Unspecified(), 4001)} },
		"no key":      func(c *Config) { c.PrivateKey = nil },
		"psk size":    func(c *Config) { c.PSK = make([]byte, 16) },
		"security":    func(c *Config) { c.Security = "plaintext" },
		"buffer":      func(c *Config) { c.CopyBuffer = 10 },
		"window":      func(c *Config) { c.YamuxWindow = 1 },
		"stall":       func(c *Config) { c.StallTimeout = -1 },
	} {
		c := base()
		mut(&c)
		if err := c.validate(); !errors.Is(err, errConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := base()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWireRoundTrip(t *testing.T) {
	r := request{SHA: sha256.Sum256([]byte("x")), Offset: 12345}
	got, err := decodeRequest(r.encode())
	if err != nil || got != r {
		t.Fatalf("%v %v", got, err)
	}
	bad := r.encode()
	bad[32] = 0x80
	if _, err := decodeRequest(bad); err == nil {
		t.Fatal("offset >= 2^63 accepted")
	}
	h := header{Status: StatusNotFound, Msg: string(bytes.Repeat([]byte("m"), 600))}
	gh, err := readHeader(bytes.NewReader(h.encode()), 1<<30)
	if err != nil || gh.Status != StatusNotFound || len(gh.Msg) != maxStatusMsg {
		t.Fatalf("%v %v", gh, err)
	}
	if _, err := readHeader(bytes.NewReader(header{Size: 2 << 30}.encode()), 1<<30); err == nil {
		t.Fatal("size above the limit accepted")
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add(header{Size: 10}.encode())
	f.Add(header{Status: StatusError, Msg: "busy"}.encode())
	f.Add([]byte{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readHeader(bytes.NewReader(b), 1<<40)
		if err != nil {
			return
		}
		if h.Size < 0 || h.Size > 1<<40 || len(h.Msg) > maxStatusMsg || h.Status > StatusError {
			t.Fatalf("accepted invalid header %+v", h)
		}
		if again, err := readHeader(bytes.NewReader(h.encode()), 1<<40); err != nil || again != h {
			t.Fatalf("re-encode: %+v %v", again, err)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(request{Offset: 1}.encode())
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		if r.Offset < 0 || !bytes.Equal(r.encode(), b) {
			t.Fatalf("%+v from %x", r, b)
		}
	})
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// Cancelling the caller's context ends a fetch that the server keeps alive, well before the stall timeout.
func TestFetchCancelled(t *testing.T) {
	srv, cli := pair(t, nil)
	release := make(chan struct{})
	defer close(release)
	srv.h.SetStreamHandler(protocol.ID(ProtocolID), func(s network.Stream) {
		_, _ = io.ReadFull(s, make([]byte, requestLen))
		_, _ = s.Write(header{Status: StatusOK, Size: 1 << 20}.encode())
		<-release
		_ = s.Reset()
	})
	ctx, cancel := context.WithCancel(ctxT(t))
	var got int64
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Fetch(ctx, srv.ID(), [32]byte{1}, 0, io.Discard, func(n int64) { got = n })
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if got != 0 {
		t.Fatalf("progress %d", got)
	}
}

// Served tells the server who pulled which blob and how many bytes were sent.
func TestServedReportsPeerBlobAndBytes(t *testing.T) {
	blob := testBlob(3, 1<<20+5)
	sha := sha256.Sum256(blob)
	type served struct {
		peer string
		sha  [32]byte
		n    int64
	}
	got := make(chan served, 4)
	srv := loopbackHostWith(t, 5, func(c *Config) {
		c.Open = memBlobs(blob)
		c.Served = func(p string, s [32]byte, n int64) { got <- served{p, s, n} }
	})
	cli := loopbackHost(t, 6, nil)
	introduce(t, srv, cli)
	ctx := ctxT(t)
	if _, err := cli.Fetch(ctx, srv.ID(), sha, 1000, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s.peer != cli.ID() || s.sha != sha || s.n != int64(len(blob))-1000 {
			t.Fatalf("served %s %x %d, want %s %x %d", s.peer, s.sha[:4], s.n, cli.ID(), sha[:4], len(blob)-1000)
		}
	case <-ctx.Done():
		t.Fatal("Served was not called")
	}
}
