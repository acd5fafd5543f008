// Package cache is a device's content-addressed blob cache on local disk.
//
// It owns, under one directory:
//
//	blobs/<aa>/<sha256>   installed blobs; a blob is only ever here complete and verified
//	partial/<sha256>      bytes of an unfinished download, kept across restarts so a download resumes
//	quarantine/<sha256>.<n>  blobs that failed a re-hash, moved aside for inspection, never served
//	index.log             append-only journal: installs (size and mtime at install, for the boot fast path),
//	                      uses (a logical LRU clock) and removals; compacted at every Open and when it
//	                      grows by 4 MiB
//
// Install is atomic: the partial file is hashed as it is written (sha256, and md5 when the caller gives one), then
// fsynced, renamed into blobs/ and the directory fsynced. A crash at any point leaves either no blob or a complete one;
// a blob that is on disk but not in the journal (a crash between rename and journal write) is re-hashed before it is
// served.
//
// Boot integrity: Open trusts a blob whose size and mtime match the journal (the fast path) and serves it at once;
// Serve then re-hashes every blob in the background at a bounded rate (Config.VerifyBytesPerSec), blobs without a
// fast-path match first. A blob whose hash does not match is quarantined and reported through Config.Notify; the
// caller fetches it again.
//
// Disk quota: installs and open writers count their full size, idle partial files their bytes on disk. Making room
// deletes idle partial files of unpinned blobs, then the least recently used unpinned blobs. The caller pins what it
// must keep (the current and emergency content): pinned blobs are never evicted; when only pinned content is left,
// Create fails with ErrQuotaExceeded. A full disk (ENOSPC) is reported as ErrDiskFull and leaves nothing installed.
//
// It must not: fetch anything, know about playlists or peers, or decide what to pin.
//
// Every method of Cache is safe for concurrent use. A Writer is used by one goroutine at a time.
package cache
