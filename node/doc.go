// Package node is one store node: a single-threaded core that composes the player (selection, cache, downloads,
// audio), the store's shared CRDT state and an origin client, and decides who pulls what from the cloud, when to sync,
// and what plays next. The core does no I/O and reads no clock: it is driven by Tick(now) and Step(event) and hands its
// effects back as data; a thin Run loop performs them through injected interfaces (origin client, fetchers, cache,
// store, audio engine, gossip, discovery). The simulator runs this same core on simulated parts.
//
// The pull rule (pull.go): each needed blob is pulled from the cloud by exactly one live node with an uplink, the
// highest by rendezvous hash of (blob, node id); the others fetch it from a peer that holds it; a puller that never
// starts or stalls is skipped after a bound and the next-ranked node takes over.
//
// Syncs (syncsched.go) run every 10 minutes with jitter and back off exponentially with full jitter on failure,
// never sooner than origin's Retry-After.
package node
