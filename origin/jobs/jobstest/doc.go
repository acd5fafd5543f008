// Package jobstest is the conformance suite every jobs.Queue passes: Run(t, factory) runs each subtest on a fresh,
// serving queue. It checks the contract written in package jobs: delivery with the job's fields, deduplication by
// key among unfinished jobs, retries with attempt counting, permanent failures, the attempt limit, panics taken as
// failures, bounds on kind, key and payload, and many jobs each run once.
//
// Crash recovery depends on how a backend detects a dead worker, so each backend tests it itself.
package jobstest
