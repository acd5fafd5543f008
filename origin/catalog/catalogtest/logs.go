package catalogtest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lomuz/lomuz/origin/catalog"
)

func report(ten string, d catalog.Device, at time.Time, to uint64) catalog.SyncReport {
	return catalog.SyncReport{
		Log: catalog.SyncLog{TenantID: ten, DeviceID: d.ID, StoreID: d.StoreID, At: at, FromRevision: to - 1, ToRevision: to,
			Upserts: 3, Deletes: 1, Downloads: 2, StateHashMatched: true, Inventory: json.RawMessage(`{"blobs":12}`)},
		Telemetry: catalog.DeviceTelemetry{LastSyncAt: at, AppVersion: fmt.Sprintf("1.%d", to), CachedAssetsCount: int(to),
			CachedBytes: int64(to) << 20, AckedRevision: to - 1, Status: json.RawMessage(`{"ok":true}`)},
	}
}

func testSyncReports(f *fx) {
	ten := f.tenant()
	_, _, d1 := f.place(ten)
	_, _, d2 := f.place(ten)
	batch := []catalog.SyncReport{
		report(ten, d1, t0.Add(1*time.Minute), 5),
		report(ten, d2, t0.Add(1*time.Minute), 7),
		report(ten, d1, t0.Add(3*time.Minute), 6),
		report(ten, d1, t0.Add(2*time.Minute), 9), // arrives last but is older: telemetry keeps the 3-minute one
	}
	f.is(f.s.RecordSyncs(f.ctx, batch), nil, "record syncs")
	got, err := f.s.GetDevice(f.ctx, ten, d1.ID)
	f.is(err, nil, "get device")
	f.same(got.Telemetry, batch[2].Telemetry, "telemetry of the newest sync")
	// A later batch with an older sync does not move telemetry back either.
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{report(ten, d1, t0, 4)}), nil, "late report")
	got, _ = f.s.GetDevice(f.ctx, ten, d1.ID)
	f.same(got.Telemetry, batch[2].Telemetry, "telemetry after a late report")
	list, err := f.s.ListDevices(f.ctx, ten, catalog.DeviceFilter{})
	f.is(err, nil, "list devices")
	for _, d := range list {
		if d.Telemetry.LastSyncAt.IsZero() {
			f.Fatalf("device %s listed without telemetry", d.ID)
		}
	}

	var logs []catalog.SyncLog
	cursor := ""
	for {
		p, err := f.s.ListSyncLogs(f.ctx, ten, d1.ID, catalog.ListOptions{Cursor: cursor, Limit: 2})
		f.is(err, nil, "list sync logs")
		logs = append(logs, p.Logs...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(logs) != 4 {
		f.Fatalf("%d sync logs of device 1, want 4", len(logs))
	}
	f.same(logs[0], report(ten, d1, t0, 4).Log, "newest log first")
	f.same(logs[3], batch[0].Log, "oldest log last")

	// A bad report fails the whole batch and stores nothing.
	unknown := d1
	unknown.ID = NewID()
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{report(ten, d2, t0.Add(time.Hour), 8), report(ten, unknown, t0, 1)}),
		catalog.ErrNotFound, "report of an unknown device")
	bad := report(ten, d2, t0.Add(time.Hour), 8)
	bad.Telemetry.Status = json.RawMessage(`{"x":`)
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{bad}), catalog.ErrInvalid, "malformed status")
	bad = report(ten, d2, t0.Add(time.Hour), 8)
	bad.Log.Inventory = json.RawMessage(fmt.Sprintf(`{"x":"%0*d"}`, catalog.MaxInventoryLen, 0))
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{bad}), catalog.ErrInvalid, "oversized inventory")
	got, _ = f.s.GetDevice(f.ctx, ten, d2.ID)
	f.same(got.Telemetry, batch[1].Telemetry, "telemetry after refused batches")
	p, err := f.s.ListSyncLogs(f.ctx, ten, d2.ID, catalog.ListOptions{})
	f.is(err, nil, "logs of device 2")
	if len(p.Logs) != 1 {
		f.Fatalf("device 2 has %d logs after refused batches, want 1", len(p.Logs))
	}
	other := f.tenant()
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{report(other, d1, t0.Add(time.Hour), 9)}), catalog.ErrNotFound, "device under another tenant")
	p, err = f.s.ListSyncLogs(f.ctx, other, d1.ID, catalog.ListOptions{})
	f.is(err, nil, "logs under another tenant")
	if len(p.Logs) != 0 {
		f.Fatal("another tenant sees a device's sync logs")
	}
}

func play(d catalog.Device, seq uint64, asset string, at time.Time) catalog.PlayEvent {
	fb := catalog.FallbackScheduled
	if asset == "" {
		fb = catalog.FallbackBuiltin
	}
	return catalog.PlayEvent{TenantID: d.TenantID, DeviceID: d.ID, Seq: seq, AssetID: asset, StoreID: d.StoreID, ZoneID: d.ZoneID,
		StartedAt: at, DurationMS: 180000, Fallback: fb, ReceivedAt: at.Add(time.Hour)}
}

func (f *fx) plays(ten string, q catalog.PlayQuery) []catalog.PlayEvent {
	f.Helper()
	var out []catalog.PlayEvent
	for i := 0; ; i++ {
		p, err := f.s.QueryPlayEvents(f.ctx, ten, q)
		f.is(err, nil, "query play events")
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		if i > 10000 {
			f.Fatal("QueryPlayEvents does not end")
		}
		q.Cursor = p.Next
	}
}

func testPlayEvents(f *fx) {
	ten := f.tenant()
	s, z, d := f.place(ten)
	d2 := f.device(ten, s.ID, z.ID)
	a, b := f.asset(ten), f.asset(ten)
	batch := []catalog.PlayEvent{
		play(d, 1, a.ID, t0), play(d, 2, b.ID, t0.Add(3*time.Minute)), play(d, 3, "", t0.Add(6*time.Minute)),
		play(d2, 1, a.ID, t0.Add(time.Minute)),
	}
	n, err := f.s.AddPlayEvents(f.ctx, ten, batch)
	f.is(err, nil, "add play events")
	if n != 4 {
		f.Fatalf("%d new events, want 4", n)
	}
	again := append([]catalog.PlayEvent(nil), batch...)
	again[0].AssetID = b.ID // a replay with different content: the first copy wins
	again = append(again, play(d, 4, a.ID, t0.Add(9*time.Minute)), play(d, 4, a.ID, t0.Add(9*time.Minute)))
	n, err = f.s.AddPlayEvents(f.ctx, ten, again)
	f.is(err, nil, "replayed batch")
	if n != 1 {
		f.Fatalf("%d new events in a replayed batch, want 1", n)
	}
	all := f.plays(ten, catalog.PlayQuery{})
	want := []catalog.PlayEvent{batch[0], batch[3], batch[1], batch[2], again[4]}
	f.same(all, want, "all plays in time order")
	f.same(f.plays(ten, catalog.PlayQuery{AssetID: a.ID}), []catalog.PlayEvent{batch[0], batch[3], again[4]}, "by asset")
	f.same(f.plays(ten, catalog.PlayQuery{DeviceID: d2.ID}), []catalog.PlayEvent{batch[3]}, "by device")
	f.same(f.plays(ten, catalog.PlayQuery{StoreID: s.ID, ZoneID: z.ID, From: t0.Add(time.Minute), To: t0.Add(6 * time.Minute)}),
		[]catalog.PlayEvent{batch[3], batch[1]}, "by store, zone and time")
	f.same(f.plays(ten, catalog.PlayQuery{StoreID: NewID()}), []catalog.PlayEvent(nil), "other store")

	noTenant := play(d, 10, a.ID, t0)
	noTenant.TenantID = ""
	n, err = f.s.AddPlayEvents(f.ctx, ten, []catalog.PlayEvent{noTenant})
	f.is(err, nil, "event without tenant")
	if n != 1 {
		f.Fatalf("%d new, want 1", n)
	}

	bad := play(d, 20, a.ID, t0)
	bad.Fallback = "whatever"
	n, err = f.s.AddPlayEvents(f.ctx, ten, []catalog.PlayEvent{play(d, 21, a.ID, t0), bad})
	f.is(err, catalog.ErrInvalid, "bad fallback")
	ghost := play(d, 22, a.ID, t0)
	ghost.DeviceID = NewID()
	_, err = f.s.AddPlayEvents(f.ctx, ten, []catalog.PlayEvent{play(d, 23, a.ID, t0), ghost})
	f.is(err, catalog.ErrNotFound, "unknown device")
	if got := f.plays(ten, catalog.PlayQuery{DeviceID: d.ID}); len(got) != 5 {
		f.Fatalf("%d events of device 1 after refused batches, want 5", len(got))
	}
	_, err = f.s.QueryPlayEvents(f.ctx, ten, catalog.PlayQuery{Cursor: "nope"})
	f.is(err, catalog.ErrInvalid, "bad cursor")
}

func testPlayEventPaging(f *fx) {
	ten := f.tenant()
	_, _, d := f.place(ten)
	_, _, d2 := f.place(ten)
	var batch []catalog.PlayEvent
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i/3) * time.Minute) // three events share each start time
		batch = append(batch, play(d, uint64(i+1), "", at), play(d2, uint64(i+1), "", at))
	}
	n, err := f.s.AddPlayEvents(f.ctx, ten, batch)
	f.is(err, nil, "add")
	if n != 60 {
		f.Fatalf("added %d, want 60", n)
	}
	for _, limit := range []int{1, 7, 60, 0} {
		got := f.plays(ten, catalog.PlayQuery{Limit: limit})
		if len(got) != 60 {
			f.Fatalf("limit %d: %d events, want 60", limit, len(got))
		}
		seen := map[string]bool{}
		for i, e := range got {
			k := fmt.Sprint(e.DeviceID, e.Seq)
			if seen[k] {
				f.Fatalf("limit %d: event %s twice", limit, k)
			}
			seen[k] = true
			if i > 0 && e.StartedAt.Before(got[i-1].StartedAt) {
				f.Fatalf("limit %d: not in time order", limit)
			}
		}
	}
}

func testIsolation(f *fx) {
	a, b := f.tenant(), f.tenant()
	s, z, d := f.place(a)
	asset := f.asset(a)
	pl := f.playlist(a, asset.ID)
	f.put(a, catalog.TenantScope, false, "asset/"+asset.ID)
	f.put(a, s.ID, false, "store/"+s.ID)
	_, err := f.s.AddPlayEvents(f.ctx, a, []catalog.PlayEvent{play(d, 1, asset.ID, t0)})
	f.is(err, nil, "tenant a's play")
	f.is(f.s.RecordSyncs(f.ctx, []catalog.SyncReport{report(a, d, t0, 2)}), nil, "tenant a's sync")

	_, err = f.s.GetStore(f.ctx, b, s.ID)
	f.is(err, catalog.ErrNotFound, "store of a from b")
	_, err = f.s.GetZone(f.ctx, b, z.ID)
	f.is(err, catalog.ErrNotFound, "zone of a from b")
	_, err = f.s.GetDevice(f.ctx, b, d.ID)
	f.is(err, catalog.ErrNotFound, "device of a from b")
	_, err = f.s.GetAsset(f.ctx, b, asset.ID)
	f.is(err, catalog.ErrNotFound, "asset of a from b")
	_, err = f.s.GetPlaylist(f.ctx, b, pl.ID)
	f.is(err, catalog.ErrNotFound, "playlist of a from b")
	_, _, err = f.s.GetRecord(f.ctx, b, "asset/"+asset.ID)
	f.is(err, catalog.ErrNotFound, "record of a from b")

	stores, _ := f.s.ListStores(f.ctx, b)
	zones, _ := f.s.ListZones(f.ctx, b, s.ID)
	devs, _ := f.s.ListDevices(f.ctx, b, catalog.DeviceFilter{StoreID: s.ID})
	assets, _ := f.s.ListAssets(f.ctx, b, catalog.ListOptions{})
	pls, _ := f.s.ListPlaylists(f.ctx, b)
	scheds, _ := f.s.ListSchedules(f.ctx, b, catalog.ScheduleFilter{StoreID: s.ID})
	if len(stores)+len(zones)+len(devs)+len(assets.Assets)+len(pls)+len(scheds) != 0 {
		f.Fatal("tenant b lists tenant a's rows")
	}
	if len(f.since(b, s.ID, 0, 0))+len(f.live(b, s.ID, 0))+len(f.plays(b, catalog.PlayQuery{})) != 0 {
		f.Fatal("tenant b reads tenant a's records or plays")
	}
	if r := f.revision(b); r != 0 {
		f.Fatalf("tenant b at revision %d after tenant a's writes", r)
	}
	st, err := f.s.SyncState(f.ctx, b, s.ID, 0)
	f.is(err, nil, "sync state of b")
	if st.Revision != 0 || st.Hash != hashOf(nil) {
		f.Fatal("tenant b's sync state reflects tenant a")
	}

	// Writes in b cannot touch or reference a's rows.
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error { return tx.DeleteAsset(asset.ID) }), catalog.ErrNotFound, "delete a's asset from b")
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error { return tx.RevokeDevice(d.ID, t0) }), catalog.ErrNotFound, "revoke a's device from b")
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error {
		return tx.PutZone(catalog.Zone{ID: NewID(), StoreID: s.ID, Name: "x", CreatedAt: t0})
	}), catalog.ErrInvalid, "zone in a's store from b")
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error { return tx.CreateDevice(f.newDevice(b, s.ID, z.ID)) }), catalog.ErrInvalid, "device in a's zone from b")
	stolen := asset
	stolen.Title = "stolen"
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error { return tx.PutAsset(stolen) }), catalog.ErrConflict, "overwrite a's asset id from b")
	f.is(f.s.Update(f.ctx, b, func(tx catalog.Tx) error { return tx.PutRecord(f.rec(tx, "store/"+s.ID, false), s.ID) }), catalog.ErrInvalid, "record in a's store scope from b")
	_, err = f.s.AddPlayEvents(f.ctx, b, []catalog.PlayEvent{play(d, 2, asset.ID, t0)})
	if err == nil {
		f.Fatal("tenant b stored a play of tenant a's device")
	}
	got, _ := f.s.GetAsset(f.ctx, a, asset.ID)
	f.same(got, asset, "a's asset after b's attempts")
}

func testClosed(f *fx) {
	ten := f.tenant()
	f.is(f.s.Close(), nil, "close")
	_, err := f.s.GetTenant(f.ctx, ten)
	f.is(err, catalog.ErrClosed, "get after close")
	f.is(f.s.Update(f.ctx, ten, func(catalog.Tx) error { return nil }), catalog.ErrClosed, "update after close")
	_, err = f.s.SyncState(f.ctx, ten, "", 0)
	f.is(err, catalog.ErrClosed, "sync state after close")
}

// testPlayEventsConcurrent sends the same batch from several writers at once, as when two nodes relay the same
// events to two origin processes: each event is stored once and counted as new once.
func testPlayEventsConcurrent(f *fx) {
	ten := f.tenant()
	_, _, d := f.place(ten)
	var batch []catalog.PlayEvent
	for i := 0; i < 50; i++ {
		batch = append(batch, play(d, uint64(i+1), "", t0.Add(time.Duration(i)*time.Minute)))
	}
	const writers = 4
	added := make(chan int, writers)
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			n, err := f.s.AddPlayEvents(f.ctx, ten, batch)
			added <- n
			errs <- err
		}()
	}
	total := 0
	for w := 0; w < writers; w++ {
		total += <-added
		f.is(<-errs, nil, "concurrent add")
	}
	if total != len(batch) {
		f.Fatalf("%d events counted as new across %d writers, want %d", total, writers, len(batch))
	}
	if got := f.plays(ten, catalog.PlayQuery{}); len(got) != len(batch) {
		f.Fatalf("%d events stored, want %d", len(got), len(batch))
	}
}

// testTelemetryKeepsRevocation writes telemetry while the device is revoked: neither write may undo the other.
func testTelemetryKeepsRevocation(f *fx) {
	ten := f.tenant()
	_, _, d := f.place(ten)
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= 30; i++ {
			if err := f.s.RecordSyncs(f.ctx, []catalog.SyncReport{report(ten, d, t0.Add(time.Duration(i)*time.Second), uint64(i+1))}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	f.update(ten, func(tx catalog.Tx) error { return tx.RevokeDevice(d.ID, t0) })
	f.is(<-done, nil, "telemetry writes")
	got, err := f.s.GetDevice(f.ctx, ten, d.ID)
	f.is(err, nil, "get device")
	if got.RevokedAt.IsZero() {
		f.Fatal("a telemetry write undid the revocation")
	}
	if !got.Telemetry.LastSyncAt.Equal(t0.Add(30 * time.Second)) {
		f.Fatalf("telemetry at %v, want the last sync", got.Telemetry.LastSyncAt)
	}
}

// testLargeBatches sends the largest batches the contract allows, with full-size blobs, and one more.
func testLargeBatches(f *fx) {
	ten := f.tenant()
	_, _, d := f.place(ten)
	status := json.RawMessage(fmt.Sprintf(`{"s":"%0*d"}`, catalog.MaxStatusBytes-10, 0))
	inv := json.RawMessage(fmt.Sprintf(`{"i":"%0*d"}`, catalog.MaxInventoryLen-10, 0))
	var reports []catalog.SyncReport
	for i := 0; i < 1024; i++ {
		r := report(ten, d, t0.Add(time.Duration(i)*time.Second), uint64(i+2))
		r.Telemetry.Status, r.Log.Inventory = status, inv
		reports = append(reports, r)
	}
	f.is(f.s.RecordSyncs(f.ctx, reports), nil, "1,024 full-size sync reports")
	got, err := f.s.GetDevice(f.ctx, ten, d.ID)
	f.is(err, nil, "get device")
	f.same(got.Telemetry, reports[1023].Telemetry, "telemetry after a large batch")
	f.is(f.s.RecordSyncs(f.ctx, make([]catalog.SyncReport, catalog.MaxSyncBatch+1)), catalog.ErrInvalid, "oversized sync batch")

	events := make([]catalog.PlayEvent, catalog.MaxPlayBatch)
	for i := range events {
		events[i] = play(d, uint64(i+1), "", t0.Add(time.Duration(i)*time.Second))
	}
	n, err := f.s.AddPlayEvents(f.ctx, ten, events)
	f.is(err, nil, "largest play batch")
	if n != len(events) {
		f.Fatalf("%d new of %d", n, len(events))
	}
	_, err = f.s.AddPlayEvents(f.ctx, ten, append(events, play(d, 1e6, "", t0)))
	f.is(err, catalog.ErrInvalid, "oversized play batch")
}
