package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Gossip. Start from DefaultConfig and set NodeName, BindAddr, Keys and Handler.
type Config struct {
	// NodeName is the node id, unique in the mesh (memberlist refuses a second live node of the same name).
	NodeName string
	// BindAddr is the store LAN interface's address (or loopback in tests). Required; unspecified addresses
	// (0.0.0.0, ::) are refused: gossip must never listen on every interface of the device.
	BindAddr netip.Addr
	// BindPort is the gossip port, UDP and TCP (0: any free port; discovery announces the one in use).
	BindPort int
	// Keys is the mesh keyring, Keys[0] the primary: 16, 24 or 32 bytes each (AES-128/192/256-GCM). Required:
	// encryption is always on.
	Keys [][]byte
	// Meta is sent with this node's membership (for example its libp2p peer id); at most 512 bytes.
	Meta []byte
	// Handler receives messages, state and membership events. Required.
	Handler Handler

	// UDPBufferSize is the gossip packet budget in bytes (memberlist's default 1,400 keeps packets under a
	// 1,500-byte Ethernet MTU). It fixes MaxBroadcast.
	UDPBufferSize int
	// MaxStateSize bounds the push/pull state, either way (bytes). memberlist caps a whole push/pull stream at
	// 20 MiB; the node's state of a store (catalog, inventories, play logs) stays far below 8 MiB.
	MaxStateSize int
	// MaxQueued bounds broadcasts waiting for retransmission; a node that produces faster than gossip drains gets
	// ErrBacklog and relies on push/pull.
	MaxQueued int
	// RetransmitMult sets how many times each node sends each broadcast: RetransmitMult * ceil(log10(members+1)),
	// each time to a random member. memberlist's 4 gives 4 sends in a 5-node store; measured there, about one
	// broadcast in a few hundred missed a node (left to push/pull, 30 s later). 8 makes a miss need every node's
	// 8 random picks to avoid it; the cost is a few KB per broadcast on a LAN.
	RetransmitMult int

	ProbeInterval    time.Duration // failure-detector probe period (memberlist LAN default 1 s)
	GossipInterval   time.Duration // gossip packet period (LAN default 200 ms)
	PushPullInterval time.Duration // full state exchange with one random member (30 s; a store's state is small)
	TCPTimeout       time.Duration // bound of one TCP join or push/pull (LAN default 10 s)
	RejoinInterval   time.Duration // how often Serve re-joins targets that are not live members (10 s)
	LeaveTimeout     time.Duration // graceful leave on shutdown (2 s)

	// Log receives memberlist's log (at debug level) and warnings; nil discards them.
	Log *slog.Logger
}

// DefaultConfig returns memberlist's LAN profile with Lomuz's bounds.
func DefaultConfig() Config {
	lan := memberlist.DefaultLANConfig()
	return Config{
		UDPBufferSize:    lan.UDPBufferSize,
		MaxStateSize:     8 << 20,
		MaxQueued:        1024,
		RetransmitMult:   8,
		ProbeInterval:    lan.ProbeInterval,
		GossipInterval:   lan.GossipInterval,
		PushPullInterval: 30 * time.Second,
		TCPTimeout:       lan.TCPTimeout,
		RejoinInterval:   10 * time.Second,
		LeaveTimeout:     2 * time.Second,
	}
}

var errConfig = errors.New("gossip: invalid config")

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.NodeName == "" || len(c.NodeName) > 128 {
		return fmt.Errorf("%w: node name of %d bytes (1-128)", errConfig, len(c.NodeName))
	}
	if !c.BindAddr.IsValid() || c.BindAddr.IsUnspecified() {
		return fmt.Errorf("%w: bind address %v is not a specific interface address", errConfig, c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return fmt.Errorf("%w: port %d", errConfig, c.BindPort)
	}
	if len(c.Keys) == 0 {
		return fmt.Errorf("%w: no mesh key (encryption is always on)", ErrKey)
	}
	for _, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("%w: %v", ErrKey, err)
		}
	}
	if len(c.Meta) > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: meta of %d bytes exceeds %d", errConfig, len(c.Meta), memberlist.MetaMaxSize)
	}
	if c.Handler == nil {
		return fmt.Errorf("%w: no handler", errConfig)
	}
	if c.UDPBufferSize == 0 {
		c.UDPBufferSize = d.UDPBufferSize
	}
	if c.UDPBufferSize < 512 || c.UDPBufferSize > 65000 {
		return fmt.Errorf("%w: UDP buffer %d outside 512-65000", errConfig, c.UDPBufferSize)
	}
	if c.MaxStateSize == 0 {
		c.MaxStateSize = d.MaxStateSize
	}
	if c.MaxStateSize < 1 || c.MaxStateSize > 16<<20 {
		return fmt.Errorf("%w: max state %d outside 1 B-16 MiB (memberlist caps push/pull at 20 MiB)", errConfig,
			c.MaxStateSize)
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = d.MaxQueued
	}
	if c.MaxQueued < 1 {
		return fmt.Errorf("%w: max queued %d", errConfig, c.MaxQueued)
	}
	if c.RetransmitMult == 0 {
		c.RetransmitMult = d.RetransmitMult
	}
	if c.RetransmitMult < 1 || c.RetransmitMult > 64 {
		return fmt.Errorf("%w: retransmit multiplier %d outside 1-64", errConfig, c.RetransmitMult)
	}
	for _, f := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&c.ProbeInterval, d.ProbeInterval, "probe interval"}, {&c.GossipInterval, d.GossipInterval, "gossip interval"},
		{&c.PushPullInterval, d.PushPullInterval, "push/pull interval"}, {&c.TCPTimeout, d.TCPTimeout, "TCP timeout"},
		{&c.RejoinInterval, d.RejoinInterval, "rejoin interval"}, {&c.LeaveTimeout, d.LeaveTimeout, "leave timeout"},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < time.Millisecond || *f.v > time.Hour {
			return fmt.Errorf("%w: %s %v outside 1 ms-1 h", errConfig, f.name, *f.v)
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}
