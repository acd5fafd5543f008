// Package crdt holds a store's shared state as delta-state CRDTs: the types, their merge, delta extraction for
// anti-entropy, and their binary encoding. Every node of a store keeps one State; peers exchange Summaries and
// Deltas through gossip, and any order of delivery, with duplicates and losses made good by later rounds,
// converges.
//
// # What it must not do
//
// crdt is pure: no goroutines, no I/O, no logging, no clock reads, no global random source. Time comes in as
// parameters (unix milliseconds of trusted time), signature checks as Verifier and TimeVerifier functions. A
// State is not safe for concurrent use; the node core owns it. internal/archtest enforces these boundaries.
//
// # Types and laws
//
//   - Catalog: origin-signed Records keyed by Key ("asset/<uuid>", "playlist/<uuid>", "schedule/<uuid>",
//     "store/<uuid>", "devices/<store uuid>"). Merge keeps, per key, the higher Rev; at equal Rev the tombstone, then
//     the greater Body, then the greater Sig (a total order, so replicas agree). A record whose Verifier check fails,
//     or of another tenant, is dropped and counted. StateHash is kept over the live records: the sum mod 2^256 of
//     sha256("lomuz/state/v1" || len(key) || key || rev), order independent and incremental.
//   - Inventory: per node, blob items (held, fetching with bytes so far and last-progress time, removed). Only the
//     owner writes its entry; each write takes the next counter of that entry; merge keeps per blob the item with
//     the higher counter, at one counter the greater (state, bytes, progress). A node restarted from an older
//     snapshot can reuse counters it had given away: two items (other blobs) of one entry may then share a counter,
//     and when the node hears of its earlier life it writes this life's items anew above it (Changes.Reissued).
//   - PlayLog: per node, PlayEvents numbered by Seq from 1, each carrying the Hash of its predecessor (PrevHash), so a
//     gap or a forged event shows (PlayLog.Chain). Merge is a union by (node, seq); two different events at one seq
//     (a forgery, or a node that lost its state) resolve to the lower Hash and are counted as conflicts. Origin's Ack
//     per node (Seq and the Hash of that event) merges by maximum and prunes the events it covers.
//   - TimeFloors: per node, the newest origin-signed time it verified; merge keeps the later (verified) one; the
//     store's floor is the maximum.
//   - Overrides: per zone, a last-writer-wins register of ZoneSettings ordered by HLC, then writer, then settings.
//   - HLC: hybrid logical clock (wall ms, logical counter). VersionVector and Dot name writes of per-node entries.
//
// Merge is a join: commutative, associative and idempotent, and merging b.DeltaFor(a.Summary()) into a gives the
// same state as merging all of b into a. Property tests in this package check this with rapid against a plain
// reference model, on histories that forget no deletion; forgetting (pruning, an origin full resync) is the one
// step outside the lattice, and the tests check that replicas still converge to the model under loss,
// duplication, reordering and split deltas when it happens at any revision.
//
// # Anti-entropy
//
// Summary says what a replica holds, in size independent of the state: the catalog watermark W, horizon H and the
// few records held above W; per node the inventory counter through which every write is held, the play ack and the
// contiguous seq held, and the time floor; per zone the override stamp. DeltaFor(summary) returns only what that
// replica lacks. Its claims check themselves against whoever merges it, so the same delta may also be broadcast
// (DeltaFor of the summary last broadcast is "what I gained since").
//
// The watermark means "holds the current version of every key whose current version has a revision <= W" (see
// Catalog). Origin's answers and covering deltas from peers raise it (CatalogDelta: From, To, Held); a record at or
// below both W and the horizon for a key not held is outdated and ignored. Inventory versions mean the same per
// node.
//
// Changes, returned by Merge, lists what changed (records that entered, blobs whose state changed, plays, acks,
// a new time floor, overrides) and Fresh, the part of the input that was new here, without claims: relay Fresh,
// never the input, so a delta does not return to its sender and stops spreading once everyone has it.
//
// # Pruning rules
//
//   - Play events are pruned as soon as origin's ack for them is known (nothing is lost while one unpruned copy
//     survives: an ack exists only after origin stored the events).
//   - Catalog tombstones are pruned by PruneTombstones(upTo), never above the watermark. A replica that forgot a
//     deletion records it in its horizon H; a peer whose watermark and horizon are below H gets, from a replica
//     complete through H, a reset with its delta (the fingerprints of every key held, 8 bytes each) and drops its
//     records of revision <= H that are not among them. Until then it takes no coverage claim from that replica,
//     and no record of revision <= H for a key it lacks from a peer not complete through H. Pruning is therefore
//     always safe; it is cheap when upTo is at or below the lowest watermark among the store's nodes, which the
//     node learns from their summaries. An origin full resync (live records only) sets the horizon to its
//     revision.
//   - Inventory removal tombstones of a node are compacted by their owner once there are more than
//     Config.InventoryTombstones; a peer that had not seen them gets that node's entry whole, once.
//
// Two cases are left to origin: a replica whose data was wiped restarts its play log at seq 1 unless a peer or an
// ack tells it its last seq first (the two events then conflict, counted in Changes.Conflicts), and a record
// outdated by a forgotten deletion that reaches a replica before the reset does. The next origin sync heals the
// second: the state hash differs and origin answers in full.
//
// # Encoding (version 1)
//
// Summaries and deltas have a compact, canonical binary encoding (EncodeDelta/DecodeDelta,
// EncodeSummary/DecodeSummary). Integers are minimal unsigned LEB128 varints (signed: zig-zag), strings and byte
// strings a varint length then the bytes, hashes 32 raw bytes. Every list is sorted (records by (rev, key), nodes
// and zones by id, items by (counter, blob), events by seq) and decoders reject unsorted, duplicate, non-minimal,
// truncated or trailing input, so one value has one encoding: decode then encode gives back the input. Decoders
// bound every length and count by the bytes present and by the limits in codec.go, copy what they keep, and reject
// an unknown version with ErrVersion; other errors wrap ErrMalformed.
//
// Delta:   'D' 0x01, tenant,
// catalog{from, to, horizon, complete, reset(bool), [n, n x 8-byte fingerprint],
// n records{key, rev step from the previous record, deleted(bool), body, sig}, n held{key, rev}},
// n blob hashes (32 bytes each, sorted, each used), n inventory{node, from, to, full(bool), [base],
// n items{blob index, counter step, state(byte), [bytes, progress ms if fetching]}},
// n plays{node, ack seq, [ack hash(32) if seq>0], n events{seq step, hlc wall, hlc logical, asset id,
// sha flag(0|1) [sha(32)], started at, duration ms, fallback code(0 scheduled .. 4 silence), zone, prev hash(32)}},
// n times{node, unix ms, sig}, n overrides{zone, hlc wall, hlc logical, writer, volume(byte), mute from, mute until}.
//
// Summary: 'S' 0x01, n node ids (sorted, each used), catalog{watermark, horizon, truncated(bool), n extras{key, rev}},
// n inventory{node index, version}, n plays{node index, acked, have-acked}, n times{node index, unix ms},
// n overrides{zone, hlc wall, hlc logical, writer}.
//
// Gossip packets hold about 1,300 bytes: Split cuts a delta into parts under a byte budget, each mergeable alone.
//
// Signed bytes (Record.SigningBytes, SignedTime.SigningBytes) and hashed bytes (StateHash, PlayEvent.Hash) have
// their own fixed layouts with domain-separation prefixes ("lomuz/record/v1", "lomuz/time/v1", "lomuz/state/v1",
// "lomuz/play/v1"), documented at each.
package crdt
