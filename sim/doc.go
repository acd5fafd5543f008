// Package sim is Lomuz's deterministic network simulator: many nodes of the real node core (node.Core) on
// simulated parts, all driven by one seed, with faults, invariants and a report.
//
// What is real and what is simulated:
//   - The node core is the real one: the simulator only performs its effects (Ready) in virtual time, as
//     node.Runner does in real time. There is no second copy of node logic here.
//   - Origin is the real origin (origin.Open with the embedded badger catalog and a blob directory, origin.New
//     with the virtual clock) answering in-memory requests through its HTTP handler; enrollment, admin calls and
//     syncs go through the api client and its manifest verification. The transcode step is replaced by an
//     ingester that declares each small uploaded master to be a rendition of the scenario's size and length.
//   - Network: per store, an uplink whose bandwidth is shared equally by the cloud pulls in flight (latency per
//     request), and a LAN with latency, loss and partitions. Gossip reaches every live reachable peer (a lost
//     packet still arrives through one relay unless that copy is lost too: memberlist's receivers forward);
//     every node does a push/pull exchange (Core.AntiEntropy) with a random reachable peer each AntiEntropy
//     period; membership (node.MembersChanged) follows crashes, restarts and partitions after MemberDetect.
//   - Audio: a sink answering PlayCommands with AudioStarted/AudioEnded in virtual time, AudioFailed for assets
//     marked undecodable.
//   - Disk: what Runner persists (play outbox, snapshot, history, trusted time, verified blobs, partial
//     downloads); a crash loses the rest; faults: full disk (snapshot, history and time writes fail), torn
//     snapshot on crash.
//   - Clock: per node wall-clock skew (1970, a year ahead) and drift; the monotonic clock restarts at each boot.
//
// Determinism: one seed drives every component through sub-seeds (faults, network, each core's Seed, origin's
// ids through google/uuid's source, which a run holds for its duration, so runs in one process are serialised).
// The trace (one line per observable event, names instead of ids) is hashed; the same seed gives the same hash.
// Every knob drawn from the seed is logged in the report; a failing run prints the `lomuz sim` command that
// reproduces it.
//
// A run has a chaos phase (scripted timeline and swarm faults; safety invariants checked at every step: no
// asset played outside its window by true time, no unverified blob played, no fallback to the jingle or silence
// while an eligible blob is held, no blob pulled over a store's uplink more than once per LAN side) and a heal
// phase (faults lifted, crashed nodes restarted; the catalog must converge within ConvergeWithin and origin must
// hold every play event persisted before the heal).
//
// sim must not: reimplement node decisions, open sockets, read the wall clock for anything but progress and wall
// time figures, or run two worlds at once in one process.
package sim
