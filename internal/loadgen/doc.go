// Package loadgen drives origin from outside, the way a fleet of devices does, and reports what the fleet saw.
//
// It enrolls simulated devices through the admin and device APIs, then has each device sync and deliver
// proof-of-play events for a bounded time through the real origin/api client, with its failover across the base
// URLs it is given. Every play event has a unique (device, seq) identity and the result lists exactly which ones
// origin acknowledged, so a caller can check afterwards that every acknowledged write is stored.
//
// One sync or upload is an operation: a device retries it with backoff for up to Config.AttemptTimeout, as a
// node would at its next attempts, and counts it as failed only when no try succeeded. The result counts requests,
// errors by kind, failed operations per device, and the longest error window: for one device, the time from the
// last success before a streak of failures to the first success after it.
//
// It holds no product logic: a simulated device keeps only what it needs to ask for no-change syncs (the records'
// keys and revisions, hashed with crdt.StateHash, as a node does) and its pending play events. `lomuz loadgen` runs
// it as a process of its own, apart from the origins it measures.
package loadgen
