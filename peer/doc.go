// Package peer is the store mesh's LAN plumbing, in three services that move opaque bytes and never interpret them:
//
//   - discovery: mDNS/DNS-SD announce and browse of `_lomuz._tcp` on configured interfaces (grandcat/zeroconf),
//     static peers, expiry of peers no longer heard;
//   - gossip: membership and gossip over hashicorp/memberlist, always encrypted with the store's mesh key, bounded
//     broadcasts, push/pull of the node's full state, key rotation, periodic re-join;
//   - transfer: blobs named by sha256 over go-libp2p TCP, admitted by an allow list of device peer ids.
//
// This package names the method sets of the three adapters (Discovery, Gossip, Transfer), documented for the node,
// which owns the interfaces it consumes and keeps in-memory twins of them for the simulator. It must not import
// player, node, crdt, origin or sim (internal/archtest), and must not know about music.
//
// Wire formats are documented in each subpackage's doc.go. Tests that use real sockets run on loopback or inside
// network namespaces created by the test (internal/netns).
package peer
