// Package discovery finds the other nodes of a store on the LAN by mDNS/DNS-SD (grandcat/zeroconf v1.0.0) and
// from static configuration, and reports them with expiry.
//
// What it owns: the announcement of one `_lomuz._tcp` service instance per node on the configured interfaces only,
// browsing for the others, and the table of peers seen (an expiry-driven cache: zeroconf has no removal events).
//
// What it must not do: trust what it hears beyond the bounds below, or reveal the tenant: the mesh id it announces
// is an opaque value the caller derives (for example a hash of the mesh key), and peers of another mesh id are
// ignored. It carries no state of the node and knows nothing of music.
//
// Wire format (DNS-SD): instance "lomuz-<node id>", service "_lomuz._tcp", domain "local.", SRV port = gossip
// port, host "lomuz-<node id>.local." with the interface's IPv4 addresses, and TXT records
//
//	v=1  node=<node id>  mesh=<mesh id>  p2p=<libp2p peer id>  gport=<gossip port>  [tport=<libp2p TCP port>]
//
// On receipt: at most 16 TXT strings of at most 255 bytes; node and mesh ids 1-64 bytes of [A-Za-z0-9._-]; the
// peer id 1-128 base58 characters; gport 1-65535 and equal to the SRV port; tport, when present, 1-65535; at most 8 IPv4 addresses. An entry
// that breaks any bound is dropped whole; unknown keys are ignored (forward compatibility).
//
// zeroconf v1.0.0 workarounds: IPv4 only (its resolver fails without IPv6); one fresh resolver per browse round,
// since a resolver serves one Browse and stops querying after the first answer; the entries channel is never
// closed here (the library closes it, a second close panics) and always read until closed (its send blocks, so a
// reader that stopped would leak its goroutine and socket). Peers missing from enough rounds expire.
// The library binds the wildcard :5353, as any mDNS responder does: only the interface selection restricts it.
package discovery
