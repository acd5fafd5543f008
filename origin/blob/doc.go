// Package blob owns origin's blob storage contract: the Store interface that holds masters and delivery renditions,
// the key grammar, the sentinel errors and the streaming digest check every backend applies on Put.
//
// Backends live in subpackages: dirblob (a local directory, the embedded default) and s3blob (any S3-compatible
// endpoint through aws-sdk-go-v2, for production). Both pass the one conformance suite in blobtest.
//
// Keys are slash-separated paths of [A-Za-z0-9._-] segments (no empty, "." or ".." segment), at most MaxKeyLen
// bytes. Content-addressed blobs live under ContentKey(sha256) = "sha256/<64 hex>": the key names the bytes, so a
// blob is immutable once written and a Put of the same key with the same digest is a harmless repeat.
//
// A Put with an expected digest never leaves a partial or wrong object visible: the digest is checked while the bytes
// stream (VerifyingReader) and a mismatch fails the write before the object is published (rename in dirblob,
// multipart completion or single PUT in s3blob).
//
// This package must not know about HTTP, the catalog or tenants: callers build keys; it stores bytes.
package blob
