// Package pgstore is the PostgreSQL catalog.Store (production: one writer, e.g. Aurora's, plus optional read
// replicas), through pgx/v5 pools. Its schema is the goose migrations embedded from migrations/, run at Open under
// an advisory lock so that many origin processes can start together.
//
// Every write runs in Update, which locks the tenant's row first: the tenant's writers are serialized, revisions
// commit in order without gaps, and reference checks cannot race. Records sit in one table keyed by (tenant, key)
// with an index on (tenant, rev, key), the change log; scope_hashes holds each scope's state hash, rewritten in the
// same transaction. Foreign keys on (tenant_id, id) pairs back up the checks so a row never references another
// tenant's.
//
// Reads that tolerate lag (sync state, deltas, full resyncs, credential lookups) may go to a replica, but never to
// one whose revision for the tenant is below what the device reports. Transient failures are retried with backoff
// within the caller's deadline.
//
// It must not hold state between calls beyond its pools, and it must not know about HTTP or signing.
package pgstore
