package origin

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

type stateKey struct{ tenant, store string }

// syncAuth finds the device of a credential and its store's sync state: from the caches when they hold them, else
// in one catalog read.
func (s *Server) syncAuth(ctx context.Context, h catalog.Hash, reported uint64) (catalog.Device, catalog.SyncState, error) {
	if e, ok := s.auth.get(h, s.now()); ok && e.device.ID != "" {
		st, err := s.syncState(ctx, e.device, reported, false)
		return e.device, st, err
	}
	d, st, err := s.cat.DeviceSyncState(ctx, h, reported)
	if err != nil {
		return d, st, deviceAuthError(d, err)
	}
	s.auth.put(h, authEntry{device: d}, s.now())
	s.states.put(stateKey{d.TenantID, d.StoreID}, st, s.now())
	return d, st, nil
}

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
//
// The credential is checked here rather than by Server.device so that, when it is not cached, one catalog round
// trip (DeviceSyncState) reads the device and its store's state together.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	tok, p := bearer(r, deviceSecretPrefix)
	if p != nil {
		writeProblem(w, p)
		return
	}
	var req api.SyncRequest
	if err := decode(r, api.MaxSyncBody, &req); err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	now := s.now()
	d, state, err := s.syncAuth(ctx, hashSecret(tok), req.Revision)
	if err != nil {
		writeError(w, r, err)
		return
	}
	acks, err := s.storePlays(ctx, d, req.PlayEvents)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Revision != state.Revision || req.StateHash != state.Hash.Hex() {
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
	if req.WantMesh && m.Mesh == nil {
		st, err := s.cat.GetStore(ctx, d.TenantID, d.StoreID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		mesh := s.signedMesh(st)
		m.Mesh = &mesh
	}
	if len(req.Inventory.Missing) > 0 {
		if err := s.addMissing(ctx, &m, req.Inventory.Missing); err != nil {
			writeError(w, r, err)
			return
		}
	}
	inv, _ := json.Marshal(map[string]any{"cached_assets": req.Inventory.CachedAssets,
		"cached_bytes": req.Inventory.CachedBytes, "missing": len(req.Inventory.Missing)})
	var status json.RawMessage
	if req.Status != nil {
		// Validated with the request; its bounded fields keep it far under catalog.MaxStatusBytes.
		if b, err := json.Marshal(req.Status); err == nil && len(b) <= catalog.MaxStatusBytes {
			status = b
		}
	}
	rep := catalog.SyncReport{
		Log: catalog.SyncLog{TenantID: d.TenantID, DeviceID: d.ID, StoreID: d.StoreID, At: now.UTC(),
			FromRevision: req.Revision, ToRevision: m.Revision, Full: m.Full, Upserts: len(m.Records),
			Deletes: len(m.Tombstones), Downloads: len(m.Downloads), StateHashMatched: matched, Inventory: inv},
		Telemetry: catalog.DeviceTelemetry{LastSyncAt: now.UTC(), AppVersion: req.AppVersion,
			CachedAssetsCount: req.Inventory.CachedAssets, CachedBytes: req.Inventory.CachedBytes,
			AckedRevision: req.Revision, Status: status},
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

// signManifest encodes m, signs the exact bytes and wraps them in a SignedManifest. The record arrays, which
// are nearly all of a large manifest, are written by appendRecords rather than encoding/json, which would
// re-validate every record body (bodies are origin's own canonical JSON, read back from the catalog).
func signManifest(key ed25519.PrivateKey, m *api.SyncManifest) ([]byte, error) {
	recs, tombs := m.Records, m.Tombstones
	m.Records, m.Tombstones = nil, nil
	head, err := json.Marshal(m)
	m.Records, m.Tombstones = recs, tombs
	if err != nil {
		return nil, err
	}
	const prefix = `{"manifest":`
	size := len(prefix) + len(api.ManifestSigningContext) + len(head) + 128
	for _, set := range [][]api.Record{recs, tombs} {
		for i := range set {
			size += len(set[i].Body) + len(set[i].Key) + len(set[i].Tenant) + 160
		}
	}
	// buf holds the signing context, then the manifest, then the envelope's tail; the envelope's head overwrites
	// the context once the manifest is signed, so the manifest is encoded once and never copied.
	buf := make([]byte, 0, size)
	buf = append(buf, api.ManifestSigningContext...)
	buf = append(buf, head[:len(head)-1]...) // without the closing brace
	buf = appendRecords(buf, "records", recs)
	buf = appendRecords(buf, "tombstones", tombs)
	buf = append(buf, '}')
	sig := ed25519.Sign(key, buf)
	start := len(api.ManifestSigningContext) - len(prefix)
	if start < 0 {
		return nil, errors.New("origin: signing context shorter than the envelope prefix")
	}
	copy(buf[start:], prefix)
	buf = append(buf, `,"sig":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, sig)
	buf = append(buf, `"}`...)
	return buf[start:], nil
}

// appendRecords appends `,"name":[record,...]` (nothing for none) in the JSON form of api.Record.
func appendRecords(b []byte, name string, recs []api.Record) []byte {
	if len(recs) == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, r.Key)
		b = append(b, `,"tenant":`...)
		b = appendString(b, r.Tenant)
		b = append(b, `,"rev":`...)
		b = strconv.AppendUint(b, r.Rev, 10)
		if r.Deleted {
			b = append(b, `,"deleted":true`...)
		}
		if len(r.Body) > 0 {
			b = append(b, `,"body":`...)
			b = append(b, r.Body...)
		}
		b = append(b, `,"sig":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Sig)
		b = append(b, `"}`...)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string; keys and tenant ids are plain ASCII ids, anything else goes through
// encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
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
	mesh := s.signedMesh(st)
	m.Mesh = &mesh
	return s.addDownloads(ctx, d, st, m, now)
}
