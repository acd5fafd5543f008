package node

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
)

// playBuiltins lets h play n tracks (the built-in jingle: nothing is cached) and returns the play events recorded.
func playBuiltins(t *testing.T, h *harness, n int) []crdt.PlayEvent {
	t.Helper()
	r := h.tick()
	var evs []crdt.PlayEvent
	for range n {
		cmd := audioOf(t, r)
		r = h.step(AudioEvent{Kind: AudioStarted, Token: cmd.Token})
		evs = append(evs, r.PersistPlays...)
		r = h.step(AudioEvent{Kind: AudioEnded, Token: cmd.Token})
	}
	if len(evs) != n {
		t.Fatalf("%d plays recorded, want %d", len(evs), n)
	}
	return evs
}

// A node relays another node's play log with a hole (event 2 was not gossiped to it): origin stores and acks
// what arrived, event by event. The relay must not turn the ack of 3 into a watermark: spread to the recording
// node, it would prune event 2 there before any copy reached origin.
func TestRelayedPlaysWithAHoleKeepTheHole(t *testing.T) {
	sig := newSigner(t)
	rec, relay := newHarness(t, sig, nil), newHarness(t, sig, nil)
	evs := playBuiltins(t, rec, 3)
	part := func(evs ...crdt.PlayEvent) []byte {
		b, err := crdt.EncodeDelta(crdt.Delta{Tenant: sig.tenant, Plays: []crdt.PlayDelta{{Node: rec.id, Events: evs}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r := relay.tick()
	relay.step(MembersChanged{Live: []string{rec.id}})
	relay.step(GossipReceived{From: "gossip", Payload: part(evs[0], evs[2])})
	r = relay.answer(r) // the boot sync went out before the plays arrived: sync again
	r = relay.advance(relay.c.cfg.SyncInterval + relay.c.cfg.SyncJitter)
	if r.Sync == nil {
		t.Fatal("no periodic sync")
	}
	var sent []uint64
	for _, e := range r.Sync.PlayEvents {
		if e.DeviceID == rec.id {
			sent = append(sent, e.Seq)
		}
	}
	if len(sent) != 2 || sent[0] != 1 || sent[1] != 3 {
		t.Fatalf("relayed seqs %v, want [1 3]", sent)
	}
	m := sig.manifest(relay.id, r.Sync.Revision, relay.true)
	m.Acks = []api.PlayAck{{DeviceID: rec.id, Seq: 1}, {DeviceID: rec.id, Seq: 3}}
	r = relay.step(SyncResult{Manifest: m, Sent: relay.mono, Recv: relay.mono})
	if a := relay.c.state.PlayLog().Acked(rec.id); a.Seq != 1 {
		t.Fatalf("relay's watermark for the recorder is %d, want 1 (event 2 never reached origin)", a.Seq)
	}
	// What the relay gossips next lets the recorder prune 1 only: 2 and 3 stay in its log and its outbox.
	r = relay.advance(relay.c.cfg.GossipInterval)
	for _, b := range r.Broadcast {
		rec.step(GossipReceived{From: "gossip", Payload: b})
	}
	pl := rec.c.state.PlayLog()
	if pl.Acked(rec.id).Seq != 1 || len(pl.Pending(rec.id)) != 2 {
		t.Fatalf("recorder: ack %d, pending %v; want ack 1 and 2, 3 pending", pl.Acked(rec.id).Seq,
			pl.Pending(rec.id))
	}
	// Once 2 reaches the relay, the next acks (2 now, 3 again: origin stores a repeat once) close the hole.
	relay.step(GossipReceived{From: "gossip", Payload: part(evs[1])})
	m.Acks = []api.PlayAck{{DeviceID: rec.id, Seq: 2}, {DeviceID: rec.id, Seq: 3}}
	relay.step(SyncResult{Manifest: m, Sent: relay.mono, Recv: relay.mono})
	if a := relay.c.state.PlayLog().Acked(rec.id); a.Seq != 3 {
		t.Fatalf("relay's watermark %d after the hole closed, want 3", a.Seq)
	}
}

// A peer that synced a revocation first gossips the shorter device list: the node syncs at once for the rotated
// mesh key instead of at its next periodic sync. A device enrolled (a longer list) does not call for it.
func TestRevocationOnAPeerSyncsAtOnce(t *testing.T) {
	sig := newSigner(t)
	keys := func(ids ...string) api.DeviceKeys {
		k := api.DeviceKeys{StoreID: sig.store}
		for _, id := range ids {
			k.Devices = append(k.Devices, api.DeviceKey{DeviceID: id, ZoneID: "z", PeerPublicKey: []byte(id)})
		}
		return k
	}
	h := newHarness(t, sig, nil)
	a, b, c := h.id, "00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"
	sig.put("devices/"+sig.store, keys(a, b))
	h.answer(h.tick())
	gossipRecord := func(r crdt.Record) Ready {
		d := crdt.Delta{Tenant: sig.tenant, Catalog: crdt.CatalogDelta{Records: []crdt.Record{r}}}
		p, err := crdt.EncodeDelta(d)
		if err != nil {
			t.Fatal(err)
		}
		h.step(GossipReceived{From: "gossip", Payload: p})
		return h.advance(time.Second)
	}
	if r := gossipRecord(sig.put("devices/"+sig.store, keys(a, b, c))); r.Sync != nil {
		t.Fatal("a device enrolled on a peer's word made the node sync")
	}
	r := gossipRecord(sig.put("devices/"+sig.store, keys(a, c)))
	if r.Sync == nil {
		t.Fatal("a device revoked on a peer's word did not make the node sync")
	}
	h.answer(r)
	if r := h.advance(time.Second); r.Sync != nil {
		t.Fatal("the node synced again for the same list")
	}
}

// A sync that changes the catalog is snapshotted at once, not after SnapshotEvery: the snapshot is also the state
// peers get by push/pull, the only way a record too large for one gossip packet (a store's device-key list) spreads.
func TestCatalogFromOriginSnapshotsAtOnce(t *testing.T) {
	sig := newSigner(t)
	sig.allDay(sig.playlist(sig.asset("one", "A", nil)))
	h := newHarness(t, sig, nil)
	h.answer(h.tick())
	if r := h.advance(time.Millisecond); !r.Snapshot {
		t.Fatal("the first catalog from origin was not snapshotted at once")
	}
	sig.asset("two", "B", nil)
	h.c.sched.syncNow(h.mono)
	h.answer(h.advance(time.Second))
	if r := h.advance(time.Millisecond); !r.Snapshot {
		t.Fatalf("a catalog change from origin within %v of the last snapshot waited for the debounce",
			h.c.cfg.SnapshotEvery)
	}
	h.step(AudioEvent{Kind: AudioStarted, Token: 1})
	if r := h.advance(time.Millisecond); r.Snapshot {
		t.Fatal("a play was snapshotted without the debounce")
	}
}
