package node

import (
	"errors"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

func audioOf(t *testing.T, r Ready) PlayCommand {
	t.Helper()
	if len(r.Audio) != 1 {
		t.Fatalf("want one audio command, got %+v", r.Audio)
	}
	return r.Audio[0]
}

func TestFirstBootWithNothingPlaysBuiltinAndSyncs(t *testing.T) {
	h := newHarness(t, newSigner(t), nil)
	r := h.tick()
	if r.Sync == nil || r.Sync.Revision != 0 {
		t.Fatalf("first tick must sync from revision 0: %+v", r.Sync)
	}
	cmd := audioOf(t, r)
	if !cmd.Builtin || cmd.Kind != PlayNow {
		t.Fatalf("nothing cached: want the built-in jingle now, got %+v", cmd)
	}
	r = h.step(AudioEvent{Kind: AudioStarted, Token: cmd.Token})
	if len(r.PersistPlays) != 1 || r.PersistPlays[0].Fallback != "builtin" {
		t.Fatalf("the builtin play must be recorded: %+v", r.PersistPlays)
	}
}

func TestSyncDownloadThenPlayScheduled(t *testing.T) {
	sig := newSigner(t)
	a := sig.asset("one", "A", nil)
	b := sig.asset("two", "B", nil)
	sig.allDay(sig.playlist(a, b))
	h := newHarness(t, sig, nil)
	r := h.tick()
	r = h.answer(r)
	if r.Time == nil {
		t.Fatal("the trusted-time floor must be persisted after a sync")
	}
	// Within Settle nothing is pulled; after it, the single node pulls both from the cloud.
	r = h.advance(time.Second)
	if len(r.Fetches) != 0 {
		t.Fatalf("fetches before the mesh settled: %+v", r.Fetches)
	}
	if len(r.Pins) != 2 {
		t.Fatalf("current content must be pinned: %v", r.Pins)
	}
	r = h.advance(5 * time.Second)
	if len(r.Fetches) != 2 {
		t.Fatalf("want 2 cloud fetches, got %+v", r.Fetches)
	}
	for _, f := range r.Fetches {
		if f.Peer != "" || f.Priority != api.PriorityCurrent || f.URL == "" {
			t.Fatalf("fetch %+v: want current priority from the cloud", f)
		}
	}
	h.step(FetchResult{SHA256: a.SHA256, Kind: FetchDone})
	// The builtin started at boot; when it ends the scheduled asset follows.
	var builtin uint64 = 1
	h.step(AudioEvent{Kind: AudioStarted, Token: builtin})
	r = h.step(AudioEvent{Kind: AudioEnded, Token: builtin})
	cmd := audioOf(t, r)
	if cmd.Builtin || cmd.Asset.ID != a.ID || cmd.Level != schedule.LevelScheduled {
		t.Fatalf("want asset one scheduled, got %+v", cmd)
	}
	r = h.step(AudioEvent{Kind: AudioStarted, Token: cmd.Token})
	if len(r.PersistPlays) != 1 || r.PersistPlays[0].AssetID != a.ID || r.History == nil {
		t.Fatalf("play event and history must be persisted at start: %+v", r)
	}
}

func TestBadManifestRejectedWhole(t *testing.T) {
	sig := newSigner(t)
	sig.allDay(sig.playlist(sig.asset("one", "A", nil)))
	h := newHarness(t, sig, nil)
	r := h.tick()
	m := sig.manifest(h.id, 0, h.true)
	bad := append([]byte(nil), m.Records[0].Sig...)
	bad[0] ^= 1
	m.Records[0].Sig = bad
	h.step(SyncResult{Manifest: m, Sent: h.mono, Recv: h.mono})
	if n := h.c.State().Catalog().Len(); n != 0 {
		t.Fatalf("a manifest with one bad signature must change nothing; catalog has %d records", n)
	}
	if h.c.Counters().ManifestsRejected != 1 {
		t.Fatal("rejection not counted")
	}
	// The sync is retried later with backoff; the next good answer applies.
	_ = r
	r = h.advance(31 * time.Minute)
	if r.Sync == nil {
		t.Fatal("no retry after a rejected manifest")
	}
	h.answer(r)
	if n := h.c.State().Catalog().Len(); n != 3 {
		t.Fatalf("catalog has %d records after a good sync, want 3", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, newSigner(t), nil)
	h.tick()
	h.step(SyncResult{Err: errors.New("429"), RetryAfter: 7 * time.Minute, Sent: h.mono, Recv: h.mono})
	for range 6 {
		if r := h.advance(time.Minute); r.Sync != nil {
			t.Fatal("synced before Retry-After")
		}
	}
	var synced bool
	for range 30 {
		if r := h.advance(time.Minute); r.Sync != nil {
			synced = true
			break
		}
	}
	if !synced {
		t.Fatal("never retried")
	}
}

func TestRevokedStopsSyncingKeepsPlaying(t *testing.T) {
	sig := newSigner(t)
	a := sig.asset("one", "A", nil)
	sig.allDay(sig.playlist(a))
	h := newHarness(t, sig, nil)
	h.answer(h.tick())
	h.advance(6 * time.Second)
	h.step(FetchResult{SHA256: a.SHA256, Kind: FetchDone})
	h.c.sched.syncNow(h.mono)
	r := h.advance(time.Second)
	h.step(SyncResult{Revoked: true, Sent: h.mono, Recv: h.mono})
	for range 100 {
		if r = h.advance(10 * time.Minute); r.Sync != nil {
			t.Fatal("a revoked device kept syncing")
		}
	}
	if !h.c.Status().Revoked {
		t.Fatal("status must say the device is revoked")
	}
	h.step(AudioEvent{Kind: AudioStarted, Token: 1})
	r = h.step(AudioEvent{Kind: AudioEnded, Token: 1})
	if cmd := audioOf(t, r); cmd.Asset.ID != a.ID {
		t.Fatalf("a revoked device must keep playing what it holds, got %+v", cmd)
	}
}

// With the wall clock reset to 1970 after a reboot, a windowed asset never plays; undated music does.
func TestClockAt1970NeverPlaysOutOfWindow(t *testing.T) {
	sig := newSigner(t)
	until := epoch.Add(time.Hour)
	spot := sig.asset("windowed", "S", func(a *api.Asset) { a.ValidUntil = &until })
	music := sig.asset("undated", "M", nil)
	sig.allDay(sig.playlist(spot, music))
	// First life: synced, both blobs present. The persisted floor survives the reboot.
	h := newHarness(t, sig, nil)
	h.answer(h.tick())
	ts := h.c.clock.State(h.c.reading())

	h2 := newHarness(t, sig, func(c *Config) { c.TimeState = ts })
	h2.wall = time.Unix(0, 0)
	h2.c.cfg.Device = h.id
	h2.tick()
	h2.step(SyncResult{Err: errors.New("offline"), Sent: h2.mono, Recv: h2.mono})
	// The core learns the catalog from a peer's snapshot (no origin), holds both blobs.
	snap, err := h.c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.c.Restore(snap); err != nil {
		t.Fatal(err)
	}
	h2.step(BlobsPresent{SHA256: []string{spot.SHA256, music.SHA256}})
	for i := range 20 {
		h2.step(AudioEvent{Kind: AudioStarted, Token: uint64(i + 1)})
		r := h2.step(AudioEvent{Kind: AudioEnded, Token: uint64(i + 1)})
		cmd := audioOf(t, r)
		if cmd.Asset.ID == spot.ID {
			t.Fatalf("play %d: windowed asset chosen with the clock at 1970", i)
		}
		if cmd.Asset.ID != music.ID {
			t.Fatalf("play %d: undated music must keep playing, got %+v", i, cmd)
		}
	}
	if st := h2.c.Status(); st.Clock.Problem == 0 {
		t.Fatalf("status must report the clock problem: %+v", st.Clock)
	}
}

// A new schedule takes over only once every file it plays is here; until then the previous one goes on.
func TestNewScheduleWaitsForItsFiles(t *testing.T) {
	sig := newSigner(t)
	old := sig.asset("old", "O", nil)
	sig.allDay(sig.playlist(old))
	h := newHarness(t, sig, nil)
	r := h.tick()
	h.answer(r)
	h.step(FetchResult{SHA256: old.SHA256, Kind: FetchDone})

	n1 := sig.asset("new1", "N", nil)
	n2 := sig.asset("new2", "M", nil)
	pl := sig.playlist(n1, n2)
	sc := api.Schedule{ID: "00000000-0000-4000-8000-000000000001", Scope: api.ScopeStore, StoreID: sig.store,
		PlaylistID: pl.ID, Priority: 10, Start: "00:00", End: "00:00"}
	sig.put("schedule/"+sc.ID, sc)
	h.c.sched.syncNow(h.mono)
	h.answer(h.advance(time.Second))
	if st := h.c.Status(); st.PendingSchedules != 1 {
		t.Fatalf("the new schedule must wait for its files: %d pending", st.PendingSchedules)
	}
	next := func(tok uint64) PlayCommand {
		h.step(AudioEvent{Kind: AudioStarted, Token: tok})
		return audioOf(t, h.step(AudioEvent{Kind: AudioEnded, Token: tok}))
	}
	if cmd := next(1); cmd.Asset.ID != old.ID {
		t.Fatalf("before the new files arrive the old schedule must play, got %+v", cmd.Asset.Title)
	}
	h.step(FetchResult{SHA256: n1.SHA256, Kind: FetchDone})
	h.advance(time.Second)
	if cmd := next(2); cmd.Asset.ID != old.ID {
		t.Fatalf("with one of two new files the old schedule must still play, got %q", cmd.Asset.Title)
	}
	h.step(FetchResult{SHA256: n2.SHA256, Kind: FetchDone})
	h.advance(time.Second)
	if cmd := next(3); cmd.Asset.ID != n1.ID && cmd.Asset.ID != n2.ID {
		t.Fatalf("with all its files the new schedule must take over, got %q", cmd.Asset.Title)
	}
}

func TestAudioCodecNames(t *testing.T) {
	for in, want := range map[string]string{"vorbis": "vorbis", "mp3": "mp3", "flac": "flac", "pcm": "wav",
		"wav": "wav", "aac": "", "": ""} {
		if got := string(audioCodec(in)); got != want {
			t.Errorf("audioCodec(%q) = %q, want %q", in, got, want)
		}
	}
}

// The first sync of a boot is what proves a wrong wall clock wrong; its status was built before, so the node
// follows up within statusFollowUp with the verdict instead of leaving the fleet view wrong for a sync interval.
func TestClockVerdictReportedRightAfterTheSyncThatFoundIt(t *testing.T) {
	sig := newSigner(t)
	h := newHarness(t, sig, nil)
	h.wall = epoch.Add(365 * 24 * time.Hour)
	r := h.tick()
	if r.Sync == nil || r.Sync.Status.ClockProblem != "unknown" {
		t.Fatalf("before any sync the clock is unknown: %+v", r.Sync)
	}
	h.answer(r)
	var follow *api.SyncRequest
	for range 16 {
		if r := h.advance(time.Second); r.Sync != nil {
			follow = r.Sync
			break
		}
	}
	if follow == nil || follow.Status.ClockProblem != "wall-ahead" {
		t.Fatalf("no follow-up sync reporting the clock within %v: %+v", statusFollowUp, follow)
	}
	h.answer(Ready{Sync: follow})
	for range 60 {
		if r := h.advance(time.Second); r.Sync != nil {
			t.Fatalf("a second follow-up although the verdict did not change: %+v", r.Sync.Status)
		}
	}
}

// An operator's sync request (SIGHUP) makes a sync due at once, long before the periodic one, and a request while
// a sync is in flight does not start a second one.
func TestSyncRequestedSyncsNow(t *testing.T) {
	sig := newSigner(t)
	h := newHarness(t, sig, nil)
	h.answer(h.tick())
	if r := h.advance(time.Second); r.Sync != nil {
		t.Fatal("a sync right after the last one, unasked")
	}
	h.step(SyncRequested{})
	r := h.advance(time.Millisecond)
	if r.Sync == nil {
		t.Fatal("no sync after a request")
	}
	h.step(SyncRequested{})
	if r2 := h.advance(time.Millisecond); r2.Sync != nil {
		t.Fatal("a second sync while one is in flight")
	}
	h.answer(r)
}

// Preparing a track that starts later shifts the trusted interval to its start; an unknown upper bound (the wall
// clock was set back below the floor) must stay unknown, so that assets with an end date stay paused. Shifted as a
// zero time it read as year 1 and let a spot past its valid_until play (simulator swarm seed 741).
func TestShiftedKeepsAnUnknownBoundUnknown(t *testing.T) {
	iv := trustedtime.Interval{Lo: epoch, Wall: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := shifted(iv, 3*time.Minute)
	if !s.Hi.IsZero() || !s.Lo.Equal(epoch.Add(3*time.Minute)) {
		t.Fatalf("shifted interval %+v", s)
	}
	if s.Eligible(time.Time{}, epoch.Add(time.Hour)) {
		t.Fatal("an asset with an end date is eligible with no upper bound on true time")
	}
	if !s.Eligible(time.Time{}, time.Time{}) {
		t.Fatal("an asset without a window is not eligible")
	}
}
