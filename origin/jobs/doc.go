// Package jobs owns origin's durable job queue contract (the Queue interface, Job, Handler and the retry rules) and
// its in-process implementation, Local, the embedded default. The production implementation over PostgreSQL
// (riverqueue/river) is in pgjobs; both pass the conformance suite in jobstest.
//
// Semantics every queue keeps:
//   - At least once: a job runs until a handler returns nil, the handler gives up with Permanent, or MaxAttempts
//     attempts are spent. A worker that dies mid-job (process killed, machine taken back) leaves the job to be
//     run again by a live worker, so handlers must be idempotent: running a job twice has the effect of running it
//     once. Job.Attempt (1-based) and Job.MaxAttempts let a handler know its last chance.
//   - Deduplication: Enqueue with a non-empty Key while a job of the same Kind and Key is unfinished (pending,
//     running or waiting to retry) adds nothing and returns the existing job's id. Finished jobs do not block a new
//     one with the same key.
//   - Bounds: Kind matches [a-z][a-z0-9._-]{0,63}, Key is at most MaxKeyLen bytes of printable ASCII, Payload at
//     most MaxPayload bytes (a job carries ids, not data; data lives in the blob store).
//
// Local keeps jobs in memory and, when given a directory, one JSON file per unfinished job written atomically
// (temp file, fsync, rename), so jobs survive a restart of the embedded origin; a job found "running" at open was
// interrupted by a crash and is retried.
//
// It must not know what the jobs do (transcode owns that) nor anything of HTTP.
package jobs
