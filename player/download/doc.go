// Package download fetches blobs into the player's cache (package cache): a priority queue (Current > Emergency >
// Future, re-prioritised on request, a higher priority pre-empting a lower one when every slot is busy), resumable
// transfers (each attempt continues from the partial file), verification by the cache (sha256, and md5 when given)
// before anything is installed, bounded concurrency, an optional shared bandwidth limit, a stall watchdog, and retries
// with exponential backoff and jitter.
//
// Where bytes come from is a Source: HTTPSource fetches from origin, a CDN or a presigned URL with HTTP Range; a LAN
// peer can implement the same interface. The node core drives a Manager: it calls Enqueue, SetPriority and Cancel
// (safe for concurrent use, never blocking on the network), drains Events (Done, Retrying, Failed), and reads
// Progress for status. Serve runs the transfers in goroutines of its own until its context ends.
//
// It must not: decide what to download or what to pin, know about playlists or peers, or write into the cache
// anything but through cache.Writer (which refuses unverified content).
//
// The package also holds a terminal progress bar for `lomuz node` (Bar), drawn only when the output is a terminal.
package download
