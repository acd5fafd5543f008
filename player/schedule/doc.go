// Package schedule decides what a sound zone plays: the domain types of content and schedules (Asset, Playlist,
// Schedule, SpotRule, StoreSettings), schedule resolution at an instant in the store's IANA time zone (tzdata is
// embedded), next-track selection with every rule, the fallback levels, the zone's play history as a value, and Plan,
// "what will this zone play from T1 to T2".
//
// It must not: do I/O, read a clock, log, start goroutines or use a global random source. Time comes in as a
// trustedtime.Interval, randomness (only for the emergency pick) from Config.Rand. The node core, the panel's
// preview (origin) and the simulator all run this same code.
//
// # Using a Selector (the node core)
//
// One Selector per zone, owned by one goroutine: no method is safe for concurrent use, none blocks, none keeps a
// reference to a caller's slice (playlists, schedules and histories are copied in and out).
//
//	sel, err := schedule.NewSelector(cfg)       // cfg from DefaultConfig: Store, Zone, Rand set
//	sel.UpsertAsset(a); sel.RemoveAsset(id)     // catalog records, in any order
//	sel.UpsertPlaylist(p); sel.RemovePlaylist(id)
//	sel.UpsertSchedule(sc); sel.RemoveSchedule(id)
//	sel.SetPresent(sha256, true|false)          // the blob cache's verified set, also before its assets are known
//	sel.SetHistory(persisted)                   // after a restart
//	c := sel.Next(clock.Interval(reading))      // the interval at the boundary where c will start: to prepare
//	                                            // the next track, the reading advanced by the time left
//	sel.Played(c, iv.Now())                     // when c starts playing; c.Level is recorded and counted
//	persist(sel.History())                      // on a timer and at shutdown: O(n log n)
//
// Updates are incremental: O(log n) per asset and playlist member, O(n) for a replaced playlist. Next does not change
// the history; the same state and interval give the same Choice (for the emergency level: the same state of Rand).
//
// # Rules (ARCHITECTURE.md "Schedules and selection")
//
//   - Eligible: blob present and verified (SetPresent), and the whole play inside the validity window for every
//     instant of the trusted interval, to the second: ValidFrom <= Lo and Hi + PlayLength <= ValidUntil (see
//     Playable). With Hi unknown, dated assets pause.
//   - The schedule resolves at the interval's Now in the store's zone: active day-part, date range and weekday; then
//     highest Priority, most specific scope (zone > store > tenant), lowest id. Day-parts follow the wall clock: on a
//     day when clocks go forward a part inside the skipped hour does not happen and one across it is shorter; when
//     they go back a part inside the repeated hour happens twice.
//   - Spots: before the scheduled track, the first due rule of the schedule inserts the least recently played
//     eligible asset of its playlist. Fixed times come first: due at the first instant the wall clock reads HH:MM or
//     later (a skipped time is due at the end of the gap, a repeated one at its first occurrence), until
//     FixedWindow after it, once per date. Then every_n_tracks (scheduled tracks since the last spot) and
//     every_n_minutes (since the last spot, or the first track).
//   - Track: the least recently played eligible asset of the scheduled playlist (never played first, ties by
//     playlist position), not of the previous track's artist when another is eligible among ArtistLookahead.
//   - Fallbacks: a uniformly random eligible emergency asset (LevelEmergency: log a warning), else LevelBuiltin
//     (or LevelSilence with NoBuiltin).
//
// # Speed
//
// Each playlist keeps an indexed binary heap of its members whose blob is present, ordered by (last play rank,
// position). Next walks it best-first without modifying it (O(k log k) for the k candidates it looks at) and checks
// each candidate's window against the interval; a candidate whose window has not opened is parked in a heap keyed by
// ValidFrom and comes back when Lo reaches it, one whose window has passed for good is parked aside. So an expiring
// window costs one check, not a scan, and a call does not touch the other assets.
package schedule
