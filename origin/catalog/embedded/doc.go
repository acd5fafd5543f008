// Package embedded is the catalog.Store that needs nothing installed: a badger/v4 database in one directory, the
// default of `lomuz origin --data DIR`. It passes the same conformance suite as the PostgreSQL backend.
//
// Writes of one tenant are serialized by an in-process lock held for the whole Update, so only one process may
// open a directory (badger enforces it with a lock file). Values are the catalog types as JSON, except devices
// (read on every device request) and records, which have compact binary forms (codec.go, encodeRecord); the key
// layout is documented in store.go. A change log keyed by (tenant, revision, key) makes RecordsSince a range scan,
// and the state hash of each scope sits under its own key, so a no-change sync (DeviceSyncState) reads five small
// keys and scans nothing. Commits are fsynced by default (Config.NoSyncWrites turns that off).
//
// Limits: a transaction must fit badger's transaction size (about 15% of MemTableSize); a larger one fails with
// catalog.ErrInvalid and writes nothing, so bulk imports go in batches. A done context stops a call before it
// starts; once started, a call is local and short and runs to its end.
//
// It must not be opened by two processes, and it must not know about HTTP or signing.
package embedded
