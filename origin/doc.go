// Package origin is the cloud service of Lomuz: a stateless HTTP server for the device API (enrollment, signed
// delta sync, blobs, proof of play) and the admin API (stores, zones, devices, assets and their upload, playlists,
// schedules, enrollment tokens, play-log queries).
//
// It owns: the HTTP routes and their bounds, authentication (admin tokens and device credentials, stored only as
// sha256), signing of catalog records, manifests and time with origin's ed25519 key, building sync manifests,
// load shedding (429 + Retry-After past Config.MaxInFlight device requests), group commit of sync logs, and the
// ingest seam (Ingester) after an upload.
//
// It must not keep state between requests outside its stores: any replica answers any request. The only memory
// it has is bounded caches (credentials for Config.AuthCacheTTL, a store's revision and state hash for
// Config.StateCacheTTL, a signed time for 50 ms) and the sync-log batch in flight, which a sync waits for.
// Storage is origin/catalog (Postgres or embedded) and origin/blob (S3 or a directory).
//
// Wire format: JSON under /v1, described by openapi.yaml in this directory and typed in origin/api. Every body is
// bounded and strictly decoded; every error is application/problem+json (RFC 7807). A sync answer is a
// api.SignedManifest: the manifest's exact JSON bytes and an ed25519 signature over
// api.ManifestSigningContext || bytes; each record inside carries its own signature over crdt.Record.SigningBytes
// so nodes can relay records to each other. Answers of 1,400 bytes or more are gzip-compressed when the client
// accepts it.
package origin
