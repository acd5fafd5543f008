package origin

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

type stateKey struct{ tenant, store string }

// syncState reads the (revision, state hash) of the device's store, through the per-process cache unless the
// device reports a revision the cached value has not reached (so no device is ever sent backwards).
// Only the no-change answer uses a cached value: a device that needs records gets a fresh read (fresh=true),
// so the records it is sent and the revision and hash it is told come from the same moment.
func (s *Server) syncState(ctx context.Context, d catalog.Device, reported uint64, fresh bool) (catalog.SyncState, error) {
	k := stateKey{d.TenantID, d.StoreID}
	if st, ok := s.states.get(k, s.now()); ok && st.Revision >= reported && !fresh {
		return st, nil
	}
	st, err := s.cat.SyncState(ctx, d.TenantID, d.StoreID, reported)
	if err != nil {
		return st, err
	}
	s.states.put(k, st, s.now())
	return st, nil
}

// handleSync answers a device's sync: store its play events, then compare its revision and state hash with the
// store's and send nothing (the no-change answer reads only the credential, revision and hash), a delta, or
// everything. The answer waits for the sync's log row and telemetry to be durable.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	d := deviceOf(r)
	var req api.SyncRequest
	if err := decode(r, api.MaxSyncBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	now := s.now()
	acks, err := s.storePlays(ctx, d, req.PlayEvents)
	if err != nil {
		writeError(w, r, err)
		return
	}
	state, err := s.syncState(ctx, d, req.Revision, false)
	if err == nil && (req.Revision != state.Revision || req.StateHash != state.Hash.Hex()) {
		state, err = s.syncState(ctx, d, req.Revision, true)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	stateHex := state.Hash.Hex()
	m := api.SyncManifest{TenantID: d.TenantID, DeviceID: d.ID, Revision: state.Revision, StateHash: stateHex,
		Time: s.times.sign(now), Acks: acks, NextSyncS: s.cfg.SyncInterval}
	matched := req.Revision == state.Revision && req.StateHash == stateHex
	if !matched {
		m.Full = req.Revision == 0 || req.Revision >= state.Revision
		if err := s.fillChanges(ctx, d, req.Revision, state, &m, now); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if len(req.Inventory.Missing) > 0 {
		if err := s.addMissing(ctx, &m, req.Inventory.Missing); err != nil {
			writeError(w, r, err)
			return
		}
	}
	inv, _ := json.Marshal(map[string]any{"cached_assets": req.Inventory.CachedAssets,
		"cached_bytes": req.Inventory.CachedBytes, "missing": len(req.Inventory.Missing)})
	rep := catalog.SyncReport{
		Log: catalog.SyncLog{TenantID: d.TenantID, DeviceID: d.ID, StoreID: d.StoreID, At: now.UTC(),
			FromRevision: req.Revision, ToRevision: m.Revision, Full: m.Full, Upserts: len(m.Records),
			Deletes: len(m.Tombstones), Downloads: len(m.Downloads), StateHashMatched: matched, Inventory: inv},
		Telemetry: catalog.DeviceTelemetry{LastSyncAt: now.UTC(), AppVersion: req.AppVersion,
			CachedAssetsCount: req.Inventory.CachedAssets, CachedBytes: req.Inventory.CachedBytes,
			AckedRevision: req.Revision},
	}
	if err := s.logs.submit(ctx, rep); err != nil {
		writeError(w, r, err)
		return
	}
	body, err := signManifest(s.key, &m)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeBody(w, r, http.StatusOK, "application/json", body)
}

// signManifest encodes m, signs the exact bytes and wraps them in a SignedManifest.
func signManifest(key ed25519.PrivateKey, m *api.SyncManifest) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(api.ManifestSigningContext)+len(raw))
	msg = append(append(msg, api.ManifestSigningContext...), raw...)
	return json.Marshal(api.SignedManifest{Manifest: raw, Sig: ed25519.Sign(key, msg)})
}

// fillChanges puts the records the device lacks into m: every live record (m.Full) or those changed since
// `since`. The manifest's revision never exceeds what every page read reached, and its state hash is sent only
// when the records sent are exactly the store's state at that revision.
func (s *Server) fillChanges(ctx context.Context, d catalog.Device, since uint64, state catalog.SyncState,
	m *api.SyncManifest, now time.Time) error {
	rev, consistent := state.Revision, true
	var recs []crdt.Record
	cursor := ""
	for {
		var page catalog.RecordPage
		var err error
		if m.Full {
			page, err = s.cat.LiveRecords(ctx, d.TenantID, d.StoreID, state.Revision, cursor, s.cfg.PageSize)
		} else {
			page, err = s.cat.RecordsSince(ctx, d.TenantID, d.StoreID, since, cursor, s.cfg.PageSize)
		}
		if err != nil {
			return err
		}
		if page.Revision != state.Revision {
			consistent = false
			rev = min(rev, page.Revision)
		}
		recs = append(recs, page.Records...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if !m.Full {
		// A delta stops at the manifest's revision; later changes come with the next sync.
		kept := recs[:0]
		for _, rec := range recs {
			if rec.Rev <= rev {
				kept = append(kept, rec)
			}
		}
		recs = kept
		consistent = rev == state.Revision
	}
	m.Revision = rev
	if !consistent {
		m.StateHash = ""
	}
	for _, rec := range recs {
		w := api.RecordToWire(rec)
		if rec.Deleted {
			m.Tombstones = append(m.Tombstones, w)
		} else {
			m.Records = append(m.Records, w)
		}
	}
	st, err := s.cat.GetStore(ctx, d.TenantID, d.StoreID)
	if err != nil {
		return err
	}
	m.Mesh = &api.Mesh{ID: st.MeshID, Key: st.MeshKey, Epoch: st.KeyEpoch}
	return s.addDownloads(ctx, d, st, m, now)
}
