package peer

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/lomuz/lomuz/peer/discovery"
	"github.com/lomuz/lomuz/peer/gossip"
	"github.com/lomuz/lomuz/peer/transfer"
)

// Discovery is the method set of *discovery.Discovery. All methods are safe for concurrent use.
type Discovery interface {
	// Serve announces this node and browses in rounds until ctx ends (blocking); it withdraws the announcement on
	// return.
	Serve(ctx context.Context) error
	// Peers returns static peers then peers of this mesh heard within the TTL; the slices are the caller's.
	Peers() []discovery.Peer
	// Changes receives a coalesced signal after the peer set changed; it is never closed.
	Changes() <-chan struct{}
}

// Gossip is the method set of *gossip.Gossip. All methods are safe for concurrent use; incoming bytes arrive through
// the gossip.Handler given in its config, from memberlist's goroutines.
type Gossip interface {
	// Serve re-joins lost peers periodically until ctx ends (blocking), then leaves the mesh and shuts down.
	Serve(ctx context.Context) error
	// Broadcast copies b and queues it for epidemic gossip; it never blocks. Errors: gossip.ErrTooLarge
	// (len(b) > MaxBroadcast), gossip.ErrBacklog (queue full); both change nothing.
	Broadcast(b []byte) error
	// MaxBroadcast is the largest payload Broadcast accepts (bytes; 1,328 with the default 1,400-byte budget).
	MaxBroadcast() int
	// Join contacts addrs now (blocking, up to the TCP timeout) and returns how many answered.
	Join(addrs []netip.AddrPort) (int, error)
	// SetRejoinTargets replaces the addresses Serve re-joins when they are not live members (discovered peers).
	SetRejoinTargets(addrs []netip.AddrPort)
	// Members returns the live members, this node included, sorted by name; the slice is the caller's.
	Members() []gossip.Member
	// SetKeys replaces the keyring, keys[0] primary (rotation: [old,new], then [new,old], then [new]).
	SetKeys(keys [][]byte) error
	// LocalAddr is the gossip address other nodes join.
	LocalAddr() netip.AddrPort
	// Stats returns counters for status and metrics.
	Stats() gossip.Stats
}

// Transfer is the method set of *transfer.Host. All methods are safe for concurrent use; blobs are served through
// the transfer.OpenFunc given in its config.
type Transfer interface {
	// Serve runs until ctx ends (blocking), then closes the host.
	Serve(ctx context.Context) error
	// ID is this device's libp2p peer id.
	ID() string
	// Addrs are the addresses it listens on.
	Addrs() []netip.AddrPort
	// SetAllowed replaces the allow list (the store's signed device list) and disconnects peers not in it.
	SetAllowed(ids []string) error
	// AddAddrs records where a peer listens, for ttl.
	AddAddrs(id string, addrs []netip.AddrPort, ttl time.Duration) error
	// Fetch streams blob sha from peer id, from offset, into w (blocking, bounded by ctx and the stall timeout);
	// progress gets the bytes written so far. It returns the blob's announced size. w and progress are used only
	// during the call. Errors wrap transfer.ErrNotFound, ErrNotAllowed, ErrStalled or ErrBadPeer.
	Fetch(ctx context.Context, id string, sha [32]byte, offset int64, w io.Writer,
		progress func(written int64)) (size int64, err error)
	// Stats returns counters for status and metrics (bytes served to and fetched from peers).
	Stats() transfer.Stats
}

var (
	_ Discovery = (*discovery.Discovery)(nil)
	_ Gossip    = (*gossip.Gossip)(nil)
	_ Transfer  = (*transfer.Host)(nil)
)
