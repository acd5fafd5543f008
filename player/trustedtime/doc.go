// Package trustedtime turns the few time signals a device has into an interval [Lo, Hi] that contains true time, so
// that validity windows are checked against what the device can prove rather than what its wall clock says.
//
// It owns: the interval model (ARCHITECTURE.md "Trusted time"), the persisted floor, eligibility of a validity window
// (Interval.Eligible), the "now" used to resolve schedules (Interval.Now) and a Status describing a clock problem.
//
// It must not: read any clock, sleep, do I/O, log or start goroutines. The caller reads the wall clock and a monotonic
// clock (time elapsed since an arbitrary point of this boot, e.g. time.Since of a time.Time taken at start, which Go
// measures on the monotonic clock) and passes them in a Reading; the caller persists State and hands it back at the
// next boot.
//
// Signals, strongest first:
//   - origin's signed time in the answer to this node's own sync request: true time at receipt lies in
//     [origin, origin + round trip + Slack] (Slack covers skew between origin replicas); both bounds then advance with
//     the monotonic clock, widened by DriftPPM in each direction.
//   - origin's signed time relayed by a peer: arbitrarily old, so it only raises Lo.
//   - the persisted floor: the largest Lo seen in earlier boots (and Config.Epoch, a time before which the binary
//     cannot be running, e.g. its release date). It only raises Lo.
//   - the wall clock: believed only as an upper bound, and only when it is not below Lo and no sync in this boot
//     gives a tighter one.
//
// To check a play that starts later (preparing the next track), pass the Reading predicted for that instant: both
// clocks advanced by the time left.
//
// A Clock is a plain value owned by one goroutine (the node core); it is not safe for concurrent use. Methods never
// block.
package trustedtime
