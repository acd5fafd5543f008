// Package pgjobs is the production jobs.Queue: jobs live in PostgreSQL through riverqueue/river, so any number of
// `lomuz worker` processes on any machines share one queue, and origin replicas enqueue into it.
//
// Mapping onto river: every Lomuz job is one river job of kind "lomuz_job" in river queue Config.Queue, whose args
// carry the Lomuz kind, key and payload; workers dispatch on the Lomuz kind. Deduplication by key uses river's
// unique jobs (by the kind and key args, among the states available, pending, running, retryable and scheduled).
// jobs.Permanent maps to river.JobCancel. River records each attempt's error on the job row.
//
// Dead workers: a worker killed mid-job leaves its row "running". River's rescuer, run by the elected leader among
// the clients, sets jobs running longer than Config.RescueAfter back to retryable (or discards them when their
// attempts are spent); the rescuer wakes every 30 s (river's fixed interval) and a dead leader's lease expires after
// about 15 s, so a killed job is retried within RescueAfter + ~45 s. RescueAfter must exceed JobTimeout, after
// which a live worker's attempt is canceled: a job is never rescued while a live worker still runs it.
//
// Migrate applies river's schema (rivermigrate) under a Postgres advisory lock, so every process may run it at start.
//
// It must not know what the jobs do, nor anything of HTTP.
package pgjobs
