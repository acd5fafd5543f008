// Package catalog owns origin's catalog storage contract: the domain types (tenants, admin tokens, stores, zones,
// devices, enrollment tokens, assets, playlists, schedules, sync logs, play events), the Store and Tx interfaces,
// the sentinel errors, and the validation every backend applies before writing (Validate methods, pure).
//
// Every catalog change happens in a tenant transaction (Store.Update) that takes the tenant's next revision and
// stores the origin-signed crdt.Record devices will receive, with its scope (the whole tenant, or one store).
// Backends keep, in that same transaction, an index by revision (so "records since R" is a range read) and the
// state hash of the live records of each scope (so a no-change sync compares hashes without scanning records).
//
// Backends: origin/catalog/pgstore (PostgreSQL through pgx/v5, production) and origin/catalog/embedded
// (badger/v4, nothing installed, the default). Both pass the conformance suite origin/catalog/catalogtest.
//
// This package must not do I/O, sign records (origin signs, the catalog only stores) or know the HTTP wire
// types: record bodies are opaque bytes here.
package catalog
