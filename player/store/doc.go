// Package store is one device's local database: everything a player must remember across restarts except the blobs
// themselves (those live in package cache).
//
// It owns, on badger/v4 in one directory:
//   - catalog records the node has verified (opaque encoded bytes with their revision; the caller verifies signatures
//     before calling ApplyCatalog, which replaces the previous state atomically or not at all), and the catalog
//     revision they belong to;
//   - per-zone play history (when each asset last started in a zone), for least-recently-played selection;
//   - the trusted-time state and the enrollment credentials (opaque bytes, written durably);
//   - the proof-of-play outbox: AppendPlay persists an event durably (the write is synced to disk before it returns),
//     PendingPlays lists events for upload in sequence order, AckPlays prunes what origin acknowledged. Sequence
//     numbers are never reused, even after the outbox empties, so origin can deduplicate by (device, seq).
//
// It must not: verify signatures, decode the records it holds, know about peers or read the clock (callers pass
// times in).
//
// # Options for small devices
//
// badger's defaults (64 MiB memtables x 5, a 256 MiB block cache) are sized for servers. Config uses 8 MiB memtables
// x 2, a 4 MiB block cache, a 2 MiB index cache, no compression (records are small, and compression with a zero block
// cache panics), 16 MiB value-log files and two compactors (one is not allowed). Values up to 64 KiB stay in the LSM
// tree. Measured by BenchmarkCatalog10k (10,000 asset records of ~600 bytes, 10,000 history entries and 1,000
// play events, reopen, full scan; one process per variant, 2 cores, Go 1.26; figures for the whole process, which
// held ~10 MB before Open): peak RSS 55-60 MB against 87 MB with badger's default sizes; after the scan and a GC,
// 22 MB RSS of which 6 MB anonymous (the rest is mapped table and value-log files, 8 MB on disk). scripts/bench.d/
// 30-player-store.sh prints the current figures.
//
// # Durability
//
// SyncWrites stays off (it would sync every history update); the methods that promise durability (AppendPlay,
// AckPlays, ApplyCatalog, SetTrustedTime, SetEnrollment) call DB.Sync after their commit. Everything else survives a
// process crash (kill -9) but may lose its last seconds to a power cut.
//
// All methods are safe for concurrent use.
package store
