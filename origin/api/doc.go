// Package api holds the wire types of origin's device and admin APIs and the Go client that devices, the admin
// CLI and tests use.
//
// It must not import origin's server code, pgx or the AWS SDK: every node imports it. Wire types are separate from
// origin/catalog's domain types; origin converts at its edge. All JSON is snake_case; every request type has a
// Validate method and a body bound (Max*Body), and DecodeStrict rejects unknown fields, trailing data and
// oversized bodies. Errors are RFC 7807 Problems (application/problem+json).
//
// Record bodies: a crdt.Record's Body is the JSON of Asset (asset/<id>), Playlist (playlist/<id>), Schedule
// (schedule/<id>), StoreInfo (store/<id>) or DeviceKeys (devices/<store id>).
//
// Sync answers are SignedManifest values: Manifest holds the exact bytes signed by origin's ed25519 key over
// ManifestSigningContext || Manifest. The client verifies that signature with the key pinned at enrollment, then
// every record's and the time's own signatures, before it returns anything.
package api
