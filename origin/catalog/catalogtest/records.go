package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/catalog"
)

func testUpdateRollsBack(f *fx) {
	ten := f.tenant()
	s := f.shop(ten)
	before := f.revision(ten)
	a := f.newAsset(ten)
	boom := errors.New("boom")
	err := f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		if err := tx.PutAsset(a); err != nil {
			return err
		}
		if err := tx.PutRecord(f.rec(tx, "asset/"+a.ID, false), catalog.TenantScope); err != nil {
			return err
		}
		if err := tx.DeleteStore(s.ID); err != nil {
			return err
		}
		if _, err := tx.GetAsset(a.ID); err != nil {
			f.Errorf("a transaction does not see its own write: %v", err)
		}
		return boom
	})
	f.is(err, boom, "update returns fn's error")
	_, err = f.s.GetAsset(f.ctx, ten, a.ID)
	f.is(err, catalog.ErrNotFound, "asset of a rolled-back update")
	_, err = f.s.GetStore(f.ctx, ten, s.ID)
	f.is(err, nil, "store deleted by a rolled-back update")
	_, _, err = f.s.GetRecord(f.ctx, ten, "asset/"+a.ID)
	f.is(err, catalog.ErrNotFound, "record of a rolled-back update")
	if r := f.revision(ten); r != before {
		f.Fatalf("revision %d after a rolled-back update, want %d", r, before)
	}
	st, err := f.s.SyncState(f.ctx, ten, s.ID, 0)
	f.is(err, nil, "sync state")
	if st.Hash != (crdt.StateHash{}) {
		f.Fatal("a rolled-back update changed the state hash")
	}
	// A failed write makes the whole transaction fail even if fn ignores the error.
	err = f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		_ = tx.PutAsset(a)
		dup := f.newShop()
		dup.MeshID = s.MeshID
		_ = tx.PutStore(dup)
		return nil
	})
	if err == nil {
		if _, gerr := f.s.GetAsset(f.ctx, ten, a.ID); gerr != nil {
			f.Fatalf("update committed without its asset: %v", gerr)
		}
	}
}

func testRevisions(f *fx) {
	ten := f.tenant()
	s := f.shop(ten) // a domain write that takes no revision
	if r := f.revision(ten); r != 0 {
		f.Fatalf("revision %d after a write without records, want 0", r)
	}
	f.update(ten, func(tx catalog.Tx) error {
		r1, err := tx.NextRevision()
		if err != nil {
			return err
		}
		r2, err := tx.NextRevision()
		if err != nil {
			return err
		}
		if r1 != 1 || r2 != 1 {
			f.Errorf("NextRevision gave %d then %d, want 1 and 1", r1, r2)
		}
		return tx.PutRecord(f.rec(tx, "store/"+s.ID, false), s.ID)
	})
	if r := f.revision(ten); r != 1 {
		f.Fatalf("revision %d, want 1", r)
	}
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		r := f.rec(tx, "asset/"+NewID(), false)
		r.Rev++
		return tx.PutRecord(r, catalog.TenantScope)
	}), catalog.ErrRevisionMismatch, "record with a later revision")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		r := f.rec(tx, "asset/"+NewID(), false)
		r.Tenant = NewID()
		return tx.PutRecord(r, catalog.TenantScope)
	}), catalog.ErrRevisionMismatch, "record of another tenant")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutRecord(crdt.Record{Key: "asset/" + NewID(), Tenant: ten, Rev: 2}, catalog.TenantScope)
	}), catalog.ErrRevisionMismatch, "record before NextRevision")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutRecord(f.rec(tx, "nonsense", false), catalog.TenantScope)
	}), catalog.ErrInvalid, "malformed key")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutRecord(f.rec(tx, "asset/"+NewID(), false), NewID())
	}), catalog.ErrInvalid, "scope that is not a store")
	if r := f.revision(ten); r != 1 {
		f.Fatalf("refused transactions moved the revision to %d", r)
	}
	f.put(ten, catalog.TenantScope, false, "asset/a")
	if r := f.revision(ten); r != 2 {
		f.Fatalf("revision %d, want 2 (no gaps after refused transactions)", r)
	}
}

func testConcurrentWriters(f *fx) {
	ten := f.tenant()
	const writers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("asset/w%d-%d", w, i)
				errs <- f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
					rev, err := tx.NextRevision()
					if err != nil {
						return err
					}
					r := crdt.Record{Key: key, Tenant: ten, Rev: rev, Body: []byte(`{}`), Sig: []byte("s")}
					return tx.PutRecord(r, catalog.TenantScope)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		f.is(err, nil, "concurrent update")
	}
	if r := f.revision(ten); r != writers*each {
		f.Fatalf("revision %d after %d transactions", r, writers*each)
	}
	recs := f.since(ten, "", 0, 0)
	if len(recs) != writers*each {
		f.Fatalf("%d records, want %d", len(recs), writers*each)
	}
	for i, r := range recs {
		if r.Rev != uint64(i+1) {
			f.Fatalf("record %d has revision %d: revisions must be 1..N without gaps or repeats", i, r.Rev)
		}
	}
}

func testRecordsSince(f *fx) {
	ten := f.tenant()
	a, b := f.shop(ten), f.shop(ten)
	r1 := f.put(ten, catalog.TenantScope, false, "asset/1", "asset/2")
	f.put(ten, a.ID, false, "store/"+a.ID)
	f.put(ten, b.ID, false, "store/"+b.ID)
	r4 := f.put(ten, catalog.TenantScope, false, "asset/1") // overwrite: only the latest is kept
	f.put(ten, catalog.TenantScope, true, "asset/2")        // tombstone
	f.put(ten, a.ID, false, "devices/"+a.ID)

	all := f.since(ten, a.ID, 0, 0)
	f.same(keysOf(all), []string{"store/" + a.ID, "asset/1", "asset/2", "devices/" + a.ID}, "records of store a since 0")
	if all[1].Rev != r4 || !all[2].Deleted || all[2].Body != nil {
		f.Fatalf("latest records wrong: %+v", all)
	}
	for _, r := range all {
		if r.Tenant != ten || len(r.Sig) == 0 {
			f.Fatalf("record %s lacks tenant or signature", r.Key)
		}
		if err := r.Validate(); err != nil {
			f.Fatalf("stored record no longer valid: %v", err)
		}
	}
	// What comes back is exactly what was signed.
	g, scope, err := f.s.GetRecord(f.ctx, ten, "asset/1")
	f.is(err, nil, "get record")
	f.same(g, all[1], "get record = records since")
	if scope != catalog.TenantScope {
		f.Fatalf("scope %q", scope)
	}
	f.same(keysOf(f.since(ten, a.ID, r1, 0)), []string{"store/" + a.ID, "asset/1", "asset/2", "devices/" + a.ID}, "since r1")
	f.same(keysOf(f.since(ten, a.ID, r4, 0)), []string{"asset/2", "devices/" + a.ID}, "since r4")
	f.same(keysOf(f.since(ten, b.ID, r4, 0)), []string{"asset/2"}, "store b since r4")
	f.same(keysOf(f.since(ten, "", 0, 0)), []string{"asset/1", "asset/2"}, "tenant scope only")
	p, err := f.s.RecordsSince(f.ctx, ten, a.ID, f.revision(ten), "", 0)
	f.is(err, nil, "since now")
	if len(p.Records) != 0 || p.Next != "" || p.Revision != f.revision(ten) {
		f.Fatalf("since the current revision: %+v", p)
	}
	_, err = f.s.RecordsSince(f.ctx, ten, a.ID, 0, "bogus", 0)
	f.is(err, catalog.ErrInvalid, "bad cursor")
	_, err = f.s.RecordsSince(f.ctx, NewID(), a.ID, 0, "", 0)
	f.is(err, catalog.ErrNotFound, "unknown tenant")
}

func testRecordsSincePaging(f *fx) {
	ten := f.tenant()
	s := f.shop(ten)
	var want []string
	for i := 0; i < 7; i++ { // several records per revision, so pages end inside revisions
		keys := []string{fmt.Sprintf("asset/%d-a", i), fmt.Sprintf("asset/%d-b", i), fmt.Sprintf("asset/%d-c", i)}
		f.put(ten, catalog.TenantScope, false, keys...)
		want = append(want, keys...)
		f.put(ten, s.ID, false, "store/"+s.ID)
	}
	want = append(want, "store/"+s.ID)
	for _, limit := range []int{1, 2, 4, 5, 100} {
		got := f.since(ten, s.ID, 0, limit)
		f.same(keysOf(got), want, fmt.Sprintf("paged by %d", limit))
		if !slices.IsSortedFunc(got, func(a, b crdt.Record) int { return int(a.Rev) - int(b.Rev) }) {
			f.Fatal("records not ordered by revision")
		}
	}
}

func testLiveRecords(f *fx) {
	ten := f.tenant()
	a, b := f.shop(ten), f.shop(ten)
	var want []string
	for i := 0; i < 23; i++ {
		k := fmt.Sprintf("asset/%02d", i)
		f.put(ten, catalog.TenantScope, false, k)
		want = append(want, k)
	}
	f.put(ten, catalog.TenantScope, true, "asset/05", "asset/17")
	want = slices.DeleteFunc(want, func(k string) bool { return k == "asset/05" || k == "asset/17" })
	f.put(ten, a.ID, false, "store/"+a.ID)
	f.put(ten, b.ID, false, "store/"+b.ID)
	want = append(want, "store/"+a.ID)
	slices.Sort(want)
	for _, limit := range []int{1, 4, 1000} {
		got := f.live(ten, a.ID, limit)
		f.same(keysOf(got), want, fmt.Sprintf("live records by %d", limit))
		for _, r := range got {
			if r.Deleted {
				f.Fatalf("tombstone %s in live records", r.Key)
			}
		}
	}
	p, err := f.s.LiveRecords(f.ctx, ten, a.ID, 0, "", 5)
	f.is(err, nil, "first page")
	if p.Revision != f.revision(ten) {
		f.Fatalf("page revision %d, tenant at %d", p.Revision, f.revision(ten))
	}
}

// hashOf is what a device computes over the live records it holds.
func hashOf(rs []crdt.Record) crdt.StateHash {
	var h crdt.StateHash
	for _, r := range rs {
		if !r.Deleted {
			h.Add(r.Key, r.Rev)
		}
	}
	return h
}

func testStateHash(f *fx) {
	ten := f.tenant()
	a, b := f.shop(ten), f.shop(ten)
	rng := rand.New(rand.NewPCG(1, 2))
	scopes := map[string]string{} // key -> scope, fixed at first write
	for step := 0; step < 60; step++ {
		f.update(ten, func(tx catalog.Tx) error {
			for n := 1 + rng.IntN(3); n > 0; n-- {
				var key, scope string
				switch rng.IntN(3) {
				case 0:
					key, scope = fmt.Sprintf("asset/%d", rng.IntN(12)), catalog.TenantScope
				case 1:
					key, scope = fmt.Sprintf("schedule/a%d", rng.IntN(4)), a.ID
				default:
					key, scope = fmt.Sprintf("schedule/b%d", rng.IntN(4)), b.ID
				}
				scopes[key] = scope
				if err := tx.PutRecord(f.rec(tx, key, rng.IntN(4) == 0), scope); err != nil {
					return err
				}
			}
			return nil
		})
		if step%10 != 9 {
			continue
		}
		for _, st := range []string{a.ID, b.ID, ""} {
			got, err := f.s.SyncState(f.ctx, ten, st, 0)
			f.is(err, nil, "sync state")
			want := hashOf(f.live(ten, st, 0))
			if got.Hash != want || got.Revision != f.revision(ten) {
				f.Fatalf("step %d store %q: state %x rev %d, want hash %x rev %d", step, st, got.Hash, got.Revision,
					want, f.revision(ten))
			}
			// A device that applied every delta from zero holds the same set.
			if d := hashOf(f.since(ten, st, 0, 0)); d != want {
				f.Fatalf("delta-built hash %x differs from live hash %x", d, want)
			}
		}
	}
	// The tenant scope and a store scope sum as crdt.StateHash sets do.
	ta := hashOf(f.live(ten, "", 0))
	var sa crdt.StateHash
	for _, r := range f.live(ten, a.ID, 0) {
		if scopes[r.Key] == a.ID {
			sa.Add(r.Key, r.Rev)
		}
	}
	if catalog.SumHashes(ta, sa) != hashOf(f.live(ten, a.ID, 0)) {
		f.Fatal("SumHashes is not the hash of the union")
	}
	st, err := f.s.SyncState(f.ctx, NewID(), a.ID, 0)
	f.is(err, catalog.ErrNotFound, "sync state of unknown tenant")
	_ = st
}

func testRecordScope(f *fx) {
	ten := f.tenant()
	a, b := f.shop(ten), f.shop(ten)
	f.put(ten, a.ID, false, "schedule/x")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutRecord(f.rec(tx, "schedule/x", false), b.ID)
	}), catalog.ErrConflict, "record moved to another scope")
	f.is(f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
		return tx.PutRecord(f.rec(tx, "schedule/x", true), catalog.TenantScope)
	}), catalog.ErrConflict, "tombstone in another scope")
	f.put(ten, a.ID, true, "schedule/x")
	_, scope, err := f.s.GetRecord(f.ctx, ten, "schedule/x")
	f.is(err, nil, "get record")
	if scope != a.ID {
		f.Fatalf("scope %q, want %q", scope, a.ID)
	}
	if len(f.since(ten, b.ID, 0, 0)) != 0 {
		f.Fatal("store b sees store a's record")
	}
}

func testDeviceSyncState(f *fx) {
	ten := f.tenant()
	s, _, d := f.place(ten)
	_, _, other := f.place(ten)
	f.put(ten, catalog.TenantScope, false, "asset/1", "asset/2")
	f.put(ten, s.ID, false, "store/"+s.ID)
	f.put(ten, other.StoreID, false, "store/"+other.StoreID)
	got, st, err := f.s.DeviceSyncState(f.ctx, d.CredentialHash, 0)
	f.is(err, nil, "device sync state")
	f.same(got, d, "device")
	want, err := f.s.SyncState(f.ctx, ten, s.ID, 0)
	f.is(err, nil, "sync state")
	if st != want || st.Hash != hashOf(f.live(ten, s.ID, 0)) || st.Revision != 3 {
		f.Fatalf("device sync state %+v, want %+v", st, want)
	}
	_, _, err = f.s.DeviceSyncState(f.ctx, randHash(), 0)
	f.is(err, catalog.ErrNotFound, "unknown credential")
	f.update(ten, func(tx catalog.Tx) error { return tx.RevokeDevice(d.ID, t0) })
	got, st, err = f.s.DeviceSyncState(f.ctx, d.CredentialHash, 0)
	f.is(err, catalog.ErrRevoked, "revoked device")
	if got.ID != d.ID || st != (catalog.SyncState{}) {
		f.Fatalf("revoked: device %s state %+v", got.ID, st)
	}
}

func testCanceledContext(f *fx) {
	ten := f.tenant()
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.s.Revision(ctx, ten)
	f.is(err, context.Canceled, "revision with a canceled context")
	err = f.s.Update(ctx, ten, func(tx catalog.Tx) error {
		_, err := tx.NextRevision()
		return err
	})
	f.is(err, context.Canceled, "update with a canceled context")
	if r := f.revision(ten); r != 0 {
		f.Fatalf("a canceled update moved the revision to %d", r)
	}
}

// testDeltaSyncUnderWrites plays a device that syncs by deltas, in small pages, while a writer keeps changing the
// catalog: when the writer stops, one more sync must leave the device holding exactly the live records, with the
// same state hash as origin. A page that skipped a record, or a revision reported ahead of what was sent, fails it.
func testDeltaSyncUnderWrites(f *fx) {
	ten := f.tenant()
	shop := f.shop(ten)
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 8))
		for i := 0; i < 120; i++ {
			err := f.s.Update(f.ctx, ten, func(tx catalog.Tx) error {
				for n := 1 + rng.IntN(4); n > 0; n-- {
					key, scope := fmt.Sprintf("asset/%d", rng.IntN(40)), catalog.TenantScope
					if rng.IntN(4) == 0 {
						key, scope = fmt.Sprintf("schedule/%d", rng.IntN(5)), shop.ID
					}
					rev, err := tx.NextRevision()
					if err != nil {
						return err
					}
					r := crdt.Record{Key: key, Tenant: ten, Rev: rev, Deleted: rng.IntN(5) == 0, Sig: []byte("s")}
					if !r.Deleted {
						r.Body = []byte(`{}`)
					}
					if err := tx.PutRecord(r, scope); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()

	held := map[string]crdt.Record{} // the device's records, tombstones dropped
	var rev uint64
	sync := func() {
		since, cursor, lowest := rev, "", uint64(0)
		for first := true; ; first = false {
			p, err := f.s.RecordsSince(f.ctx, ten, shop.ID, since, cursor, 3)
			f.is(err, nil, "delta page")
			if first || p.Revision < lowest {
				lowest = p.Revision
			}
			for _, r := range p.Records {
				if r.Rev <= since {
					f.Fatalf("record %s at revision %d in a delta since %d", r.Key, r.Rev, since)
				}
				if old, ok := held[r.Key]; ok && old.Rev > r.Rev {
					continue // an older copy of what an earlier page already gave
				}
				if r.Deleted {
					delete(held, r.Key)
				} else {
					held[r.Key] = r
				}
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		rev = lowest
	}
	for writing := true; writing; {
		select {
		case err := <-done:
			f.is(err, nil, "writer")
			writing = false
		default:
		}
		sync()
	}
	sync()
	live := f.live(ten, shop.ID, 0)
	if len(live) != len(held) {
		f.Fatalf("device holds %d records, origin has %d live", len(held), len(live))
	}
	var h crdt.StateHash
	for _, r := range live {
		if got, ok := held[r.Key]; !ok || got.Rev != r.Rev {
			f.Fatalf("device holds %s at %d, origin at %d", r.Key, got.Rev, r.Rev)
		}
		h.Add(r.Key, r.Rev)
	}
	st, err := f.s.SyncState(f.ctx, ten, shop.ID, rev)
	f.is(err, nil, "sync state")
	if st.Hash != h || st.Revision != rev {
		f.Fatalf("origin state (rev %d, %x), device (rev %d, %x)", st.Revision, st.Hash, rev, h)
	}
}
