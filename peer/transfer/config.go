package transfer

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"
)

// OpenFunc opens a blob by content hash for the server side. It returns an error wrapping ErrNotFound when the
// blob is absent (or not complete and verified: serve only what you would play). It is called concurrently, once
// per inbound stream, from libp2p's goroutines, and must not block for long. The reader is used by that one
// goroutine and closed (when it is an io.Closer) at the end of the stream; size is the whole blob's size in bytes.
type OpenFunc func(sha [32]byte) (r io.ReadSeeker, size int64, err error)

// Config configures a Host. Start from DefaultConfig and set ListenAddrs, PrivateKey and Open.
type Config struct {
	// ListenAddrs are the TCP addresses to listen on: the store LAN interface's address (or loopback in tests) with
	// a port, 0 for any free one. Required. Unspecified addresses (0.0.0.0, ::) are refused: the host must never
	// listen on every interface of the device.
	ListenAddrs []netip.AddrPort
	// PrivateKey is the device's own ed25519 key; its public half is the peer id origin lists for the store.
	PrivateKey ed25519.PrivateKey
	// PSK, when set, is a 32-byte store pre-shared key: libp2p's private network wraps every connection in
	// XSalsa20 before the handshake. Off by default: the gater already admits only listed devices, and the
	// measured cost is high (ARCHITECTURE.md, peer section).
	PSK []byte
	// Open serves blobs to peers; nil serves nothing (every request gets "not found").
	Open OpenFunc
	// Served, when set, is told after every inbound stream that sent blob bytes: the peer id that asked, the blob
	// and the bytes sent (complete or not), so the caller can say who pulls what. Called from libp2p's goroutines;
	// it must not block.
	Served func(peer string, sha [32]byte, n int64)
	// Exchange answers the small-message protocol (ExchangeProtocolID); nil refuses every exchange.
	Exchange ExchangeFunc
	// Security is the handshake and channel encryption: "tls" (TLS 1.3, AES-GCM with hardware support; default) or
	// "noise" (ChaCha20-Poly1305).
	Security string

	// RequestTimeout bounds how long a server waits for the 40-byte request after a stream opens.
	RequestTimeout time.Duration
	// DialTimeout bounds connecting to a peer and opening a stream.
	DialTimeout time.Duration
	// StallTimeout is the stall detector: a stream on which no byte moved for this long is reset, on either side.
	// A 1 Gbit/s LAN moves a copy buffer in well under a millisecond; a store's weakest Wi-Fi bridge a few
	// hundred KB/s; 20 s tolerates a busy peer without holding a dead one for long.
	StallTimeout time.Duration
	// MaxBlobSize bounds the size a server may announce (bytes); larger announcements are refused.
	MaxBlobSize int64
	// CopyBuffer is the size of one read/write on a stream (bytes, 16 KiB-16 MiB).
	CopyBuffer int
	// YamuxWindow is yamux's maximum per-stream receive window (bytes, 256 KiB-64 MiB): with one stream per
	// transfer it bounds throughput to window/RTT.
	YamuxWindow uint32

	// Resource-manager limits (libp2p rcmgr), set deliberately rather than left to libp2p's defaults, which reset
	// streams beyond ~64 per peer and protocol without the caller asking for it.
	MaxConns              int   // connections in total (a store has tens of devices, not hundreds)
	MaxServeStreams       int   // concurrent inbound blob streams in total
	MaxServeStreamsPeer   int   // concurrent inbound blob streams from one peer
	MaxFetchStreams       int   // concurrent outbound blob streams in total
	MemoryLimit           int64 // bytes the resource manager lets libp2p reserve (yamux windows, buffers)
	PeerMemoryLimit       int64 // bytes one peer's connections may reserve
	MaxStreamsPerPeerConn int   // streams of all protocols per peer (identify and blob)

	// Log receives warnings (refused peers, failed streams); nil discards them.
	Log *slog.Logger
}

// DefaultConfig returns the settings for a store LAN. The listen addresses, key and blob source are the caller's.
func DefaultConfig() Config {
	return Config{
		Security:              "tls",
		RequestTimeout:        10 * time.Second,
		DialTimeout:           10 * time.Second,
		StallTimeout:          20 * time.Second,
		MaxBlobSize:           8 << 30, // largest rendition is a few hundred MB; this leaves room for video spots
		CopyBuffer:            256 << 10,
		YamuxWindow:           16 << 20,
		MaxConns:              128,
		MaxServeStreams:       32,
		MaxServeStreamsPeer:   8,
		MaxFetchStreams:       32,
		MemoryLimit:           512 << 20,
		PeerMemoryLimit:       96 << 20,
		MaxStreamsPerPeerConn: 64,
	}
}

var errConfig = errors.New("transfer: invalid config")

func (c *Config) validate() error {
	d := DefaultConfig()
	if len(c.ListenAddrs) == 0 {
		return fmt.Errorf("%w: no listen address (explicit addresses are required)", errConfig)
	}
	for _, a := range c.ListenAddrs {
		if !a.IsValid() || a.Addr().IsUnspecified() {
			return fmt.Errorf("%w: listen address %v is not a specific interface address", errConfig, a)
		}
	}
	if len(c.PrivateKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key of %d bytes, want an ed25519 key", errConfig, len(c.PrivateKey))
	}
	if c.PSK != nil && len(c.PSK) != 32 {
		return fmt.Errorf("%w: pre-shared key of %d bytes, want 32", errConfig, len(c.PSK))
	}
	switch c.Security {
	case "":
		c.Security = d.Security
	case "tls", "noise":
	default:
		return fmt.Errorf("%w: security %q (want tls or noise)", errConfig, c.Security)
	}
	fillDur := func(v *time.Duration, def time.Duration, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < 0 {
			return fmt.Errorf("%w: %s %v is negative", errConfig, name, *v)
		}
		return nil
	}
	for _, f := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{{&c.RequestTimeout, d.RequestTimeout, "request timeout"}, {&c.DialTimeout, d.DialTimeout, "dial timeout"},
		{&c.StallTimeout, d.StallTimeout, "stall timeout"}} {
		if err := fillDur(f.v, f.def, f.name); err != nil {
			return err
		}
	}
	fillInt := func(v *int, def, lo, hi int, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("%w: %s %d outside %d-%d", errConfig, name, *v, lo, hi)
		}
		return nil
	}
	for _, f := range []struct {
		v           *int
		def, lo, hi int
		name        string
	}{
		{&c.CopyBuffer, d.CopyBuffer, 16 << 10, 16 << 20, "copy buffer"},
		{&c.MaxConns, d.MaxConns, 1, 10000, "max conns"},
		{&c.MaxServeStreams, d.MaxServeStreams, 1, 10000, "max serve streams"},
		{&c.MaxServeStreamsPeer, d.MaxServeStreamsPeer, 1, 10000, "max serve streams per peer"},
		{&c.MaxFetchStreams, d.MaxFetchStreams, 1, 10000, "max fetch streams"},
		{&c.MaxStreamsPerPeerConn, d.MaxStreamsPerPeerConn, 4, 10000, "max streams per peer"},
	} {
		if err := fillInt(f.v, f.def, f.lo, f.hi, f.name); err != nil {
			return err
		}
	}
	if c.YamuxWindow == 0 {
		c.YamuxWindow = d.YamuxWindow
	}
	if c.YamuxWindow < 256<<10 || c.YamuxWindow > 64<<20 {
		return fmt.Errorf("%w: yamux window %d outside 256 KiB-64 MiB", errConfig, c.YamuxWindow)
	}
	if c.MaxBlobSize == 0 {
		c.MaxBlobSize = d.MaxBlobSize
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = d.MemoryLimit
	}
	if c.PeerMemoryLimit == 0 {
		c.PeerMemoryLimit = d.PeerMemoryLimit
	}
	if c.MaxBlobSize < 0 || c.MemoryLimit < 16<<20 || c.PeerMemoryLimit < 4<<20 || c.PeerMemoryLimit > c.MemoryLimit {
		return fmt.Errorf("%w: max blob size %d, memory %d, peer memory %d", errConfig, c.MaxBlobSize,
			c.MemoryLimit, c.PeerMemoryLimit)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}
