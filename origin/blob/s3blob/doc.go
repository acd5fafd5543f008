// Package s3blob is the production blob.Store: blobs are objects in one bucket of any S3-compatible service,
// reached through aws-sdk-go-v2.
//
// Settings that S3-compatible servers need: BaseEndpoint plus path-style addressing, and checksums only "when
// required" (since 2025 the SDK adds CRC32 trailers by default, which many servers reject).
//
// Put streams: bytes are read in parts of Config.PartSize (8 MiB by default; S3's minimum is 5 MiB) through
// blob.VerifyingReader. A stream that ends within the first part is sent as one PutObject; a longer one (a large
// master) as a multipart upload whose parts are sent as they are read, Config.Uploads at a time, so memory stays
// at Uploads+1 parts whatever the size. The upload is published (PutObject sent, or CompleteMultipartUpload called) only after the whole stream
// was read and met the expected sha256 and size; any failure aborts the multipart upload, so nothing partial or
// wrong becomes visible.
//
// Presigned GET URLs (blob.Presigner) let devices or a CDN fetch blobs straight from the bucket.
//
// It must not know about HTTP routes or the catalog.
package s3blob
