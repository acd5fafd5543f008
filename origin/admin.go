package origin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// adminRoutes registers the admin API. Every handler works in the caller's tenant only: ids of another tenant are
// not found, exactly like ids that do not exist.
func (s *Server) adminRoutes(mux *recordingMux) {
	a := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.admin(h)) }
	a("GET /v1/tenant", s.getTenant)
	a("POST /v1/stores", s.createStore)
	a("GET /v1/stores", s.listStores)
	a("GET /v1/stores/{id}", s.getStore)
	a("PUT /v1/stores/{id}", s.updateStore)
	a("DELETE /v1/stores/{id}", s.deleteStore)
	a("POST /v1/stores/{id}/zones", s.createZone)
	a("GET /v1/stores/{id}/zones", s.listZones)
	a("DELETE /v1/zones/{id}", s.deleteZone)
	a("GET /v1/devices", s.listDevices)
	a("GET /v1/devices/{id}", s.getDevice)
	a("POST /v1/devices/{id}/revoke", s.revokeDevice)
	a("GET /v1/devices/{id}/sync-logs", s.listSyncLogs)
	a("POST /v1/enrollment-tokens", s.createEnrollmentToken)
	a("GET /v1/enrollment-tokens", s.listEnrollmentTokens)
	a("GET /v1/plays", s.queryPlays)
	a("POST /v1/admin-tokens", s.createAdminToken)
	a("GET /v1/admin-tokens", s.listAdminTokens)
	a("POST /v1/admin-tokens/{id}/revoke", s.revokeAdminToken)
	s.contentRoutes(a)
	s.overrideRoutes(mux)
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.cat.GetTenant(r.Context(), tenantOf(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, api.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
}

func storeToWire(st catalog.Shop, zones []catalog.Zone) api.Store {
	w := api.Store{ID: st.ID, Name: st.Name, TimeZone: st.TimeZone, TargetLUFS: st.Settings.TargetLUFS,
		CrossfadeMS: st.Settings.CrossfadeMS, MeshID: st.MeshID, MeshEpoch: st.KeyEpoch, Zones: []api.ZoneInfo{}}
	for _, z := range zones {
		if z.StoreID == st.ID {
			w.Zones = append(w.Zones, api.ZoneInfo{ID: z.ID, Name: z.Name})
		}
	}
	return w
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func applyStoreInput(st *catalog.Shop, in api.StoreInput) {
	st.Name, st.TimeZone = in.Name, in.TimeZone
	st.Settings = catalog.StoreSettings{TargetLUFS: in.TargetLUFS, CrossfadeMS: in.CrossfadeMS}
	if st.Settings.TargetLUFS == 0 {
		st.Settings.TargetLUFS = -14
	}
}

func (s *Server) createStore(w http.ResponseWriter, r *http.Request) {
	var in api.StoreInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	st := catalog.Shop{ID: uuid.NewString(), TenantID: tenantOf(r), MeshKey: randomBytes(catalog.MeshKeyLen),
		KeyEpoch: 1, MeshID: hex.EncodeToString(randomBytes(8))}
	applyStoreInput(&st, in)
	err := s.cat.Update(r.Context(), st.TenantID, func(tx catalog.Tx) error {
		if err := tx.PutStore(st); err != nil {
			return err
		}
		return s.publishStore(tx, st.ID)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, storeToWire(st, nil))
}

func (s *Server) listStores(w http.ResponseWriter, r *http.Request) {
	sts, err := s.cat.ListStores(r.Context(), tenantOf(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	zones, err := s.cat.ListZones(r.Context(), tenantOf(r), "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Store]{Items: []api.Store{}}
	for _, st := range sts {
		out.Items = append(out.Items, storeToWire(st, zones))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getStore(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.cat.GetStore(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	zones, err := s.cat.ListZones(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, storeToWire(st, zones))
}

func (s *Server) updateStore(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in api.StoreInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	var st catalog.Shop
	err = s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error {
		if st, err = tx.GetStore(id); err != nil {
			return err
		}
		applyStoreInput(&st, in)
		if err := tx.PutStore(st); err != nil {
			return err
		}
		return s.publishStore(tx, id)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	zones, _ := s.cat.ListZones(r.Context(), tenantOf(r), id)
	writeJSON(w, r, http.StatusOK, storeToWire(st, zones))
}

func (s *Server) deleteStore(w http.ResponseWriter, r *http.Request) {
	s.deleteBy(w, r, func(tx catalog.Tx, id string) error { return tx.DeleteStore(id) })
}

// deleteBy runs del on the {id} of the path in one transaction and answers 204.
func (s *Server) deleteBy(w http.ResponseWriter, r *http.Request, del func(tx catalog.Tx, id string) error) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error { return del(tx, id) }); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createZone(w http.ResponseWriter, r *http.Request) {
	storeID, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in api.ZoneInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	z := catalog.Zone{ID: uuid.NewString(), TenantID: tenantOf(r), StoreID: storeID, Name: in.Name}
	err = s.cat.Update(r.Context(), z.TenantID, func(tx catalog.Tx) error {
		if _, err := tx.GetStore(storeID); err != nil {
			return err
		}
		return tx.PutZone(z)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, api.ZoneInfo{ID: z.ID, Name: z.Name})
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	storeID, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.cat.GetStore(r.Context(), tenantOf(r), storeID); err != nil {
		writeError(w, r, err)
		return
	}
	zones, err := s.cat.ListZones(r.Context(), tenantOf(r), storeID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.ZoneInfo]{Items: []api.ZoneInfo{}}
	for _, z := range zones {
		out.Items = append(out.Items, api.ZoneInfo{ID: z.ID, Name: z.Name})
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request) {
	s.deleteBy(w, r, func(tx catalog.Tx, id string) error {
		z, err := tx.GetZone(id)
		if err != nil {
			return err
		}
		if err := s.tombstoneOverride(tx, z); err != nil {
			return err
		}
		return tx.DeleteZone(id)
	})
}

func deviceToWire(d catalog.Device) api.Device {
	w := api.Device{ID: d.ID, StoreID: d.StoreID, ZoneID: d.ZoneID, Name: d.Name, PeerID: d.PeerID,
		EnrolledAt: d.EnrolledAt, RevokedAt: timePtr(d.RevokedAt), LastSyncAt: timePtr(d.Telemetry.LastSyncAt),
		AppVersion: d.Telemetry.AppVersion, CachedAssetsCount: d.Telemetry.CachedAssetsCount,
		CachedBytes: d.Telemetry.CachedBytes, AckedRevision: d.Telemetry.AckedRevision}
	if len(d.Telemetry.Status) > 0 {
		var st api.DeviceStatus
		// Stored by the sync handler from a validated report; an unreadable one is shown as none.
		if json.Unmarshal(d.Telemetry.Status, &st) == nil {
			w.Status = &st
		}
	}
	return w
}

// queryID reads an optional UUID query parameter.
func queryID(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	id, err := api.ParseID(name, v)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// listOptions reads cursor and limit query parameters.
func listOptions(r *http.Request) (catalog.ListOptions, error) {
	q := r.URL.Query()
	o := catalog.ListOptions{Cursor: q.Get("cursor")}
	if len(o.Cursor) > 256 {
		return o, api.BadField("cursor", "cursor longer than 256 bytes")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > catalog.MaxPageLimit {
			return o, api.BadField("limit", "limit must be an integer within [1, %d]", catalog.MaxPageLimit)
		}
		o.Limit = n
	}
	return o, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	var f catalog.DeviceFilter
	var err error
	if f.StoreID, err = queryID(r, "store_id"); err == nil {
		f.ZoneID, err = queryID(r, "zone_id")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	devs, err := s.cat.ListDevices(r.Context(), tenantOf(r), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Device]{Items: []api.Device{}}
	for _, d := range devs {
		out.Items = append(out.Items, deviceToWire(d))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	d, err := s.cat.GetDevice(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, deviceToWire(d))
}

// revokeDevice revokes a device, rotates its store's mesh key and re-signs the store's device-key list, in one
// transaction: the other devices learn both at their next sync, and the revoked one can no longer sync.
func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var d catalog.Device
	err = s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error {
		if d, err = tx.GetDevice(id); err != nil {
			return err
		}
		if err := tx.RevokeDevice(id, s.now().UTC()); err != nil {
			return err
		}
		st, err := tx.GetStore(d.StoreID)
		if err != nil {
			return err
		}
		st.MeshKey, st.KeyEpoch = randomBytes(catalog.MeshKeyLen), st.KeyEpoch+1
		if err := tx.PutStore(st); err != nil {
			return err
		}
		return s.publishDeviceKeys(tx, d.StoreID)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.auth.drop(d.CredentialHash)
	if d, err = s.cat.GetDevice(r.Context(), tenantOf(r), id); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, deviceToWire(d))
}

func (s *Server) listSyncLogs(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.cat.GetDevice(r.Context(), tenantOf(r), id); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.cat.ListSyncLogs(r.Context(), tenantOf(r), id, o)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.SyncLog]{Items: []api.SyncLog{}, Next: page.Next}
	for _, l := range page.Logs {
		out.Items = append(out.Items, api.SyncLog{At: l.At, FromRevision: l.FromRevision, ToRevision: l.ToRevision,
			Full: l.Full, Upserts: l.Upserts, Deletes: l.Deletes, Downloads: l.Downloads,
			StateHashMatched: l.StateHashMatched, Inventory: l.Inventory})
	}
	writeJSON(w, r, http.StatusOK, out)
}

func tokenToWire(t catalog.EnrollmentToken, secret string) api.EnrollmentToken {
	return api.EnrollmentToken{Token: secret, StoreID: t.StoreID, ZoneID: t.ZoneID, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, UsedBy: t.UsedBy, UsedAt: timePtr(t.UsedAt)}
}

func (s *Server) createEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	var in api.EnrollmentTokenInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	ttl := s.cfg.EnrollTokenTTL
	if in.TTLS > 0 {
		ttl = time.Duration(in.TTLS) * time.Second
	}
	secret, h := newSecret(enrollSecretPrefix)
	now := s.now().UTC()
	t := catalog.EnrollmentToken{Hash: h, TenantID: tenantOf(r), StoreID: in.StoreID, ZoneID: in.ZoneID,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := s.cat.Update(r.Context(), t.TenantID, func(tx catalog.Tx) error {
		z, err := tx.GetZone(in.ZoneID)
		if err != nil {
			return err
		}
		if z.StoreID != in.StoreID {
			return api.BadField("zone_id", "zone %s is not a zone of store %s", in.ZoneID, in.StoreID)
		}
		return tx.CreateEnrollmentToken(t)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, tokenToWire(t, secret))
}

func (s *Server) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) {
	storeID, err := queryID(r, "store_id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	toks, err := s.cat.ListEnrollmentTokens(r.Context(), tenantOf(r), storeID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.EnrollmentToken]{Items: []api.EnrollmentToken{}}
	for _, t := range toks {
		out.Items = append(out.Items, tokenToWire(t, ""))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) queryPlays(w http.ResponseWriter, r *http.Request) {
	var q catalog.PlayQuery
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"store_id", &q.StoreID}, {"zone_id", &q.ZoneID}, {"device_id", &q.DeviceID}, {"asset_id", &q.AssetID}} {
		if *p.dst, err = queryID(r, p.name); err != nil {
			writeError(w, r, err)
			return
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			if *p.dst, err = time.Parse(time.RFC3339, v); err != nil {
				writeProblem(w, api.BadField(p.name, "%s must be an RFC 3339 time, not %q", p.name, v))
				return
			}
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		writeProblem(w, api.BadField("to", "time range inverted: to is before from"))
		return
	}
	o, err := listOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q.Cursor, q.Limit = o.Cursor, o.Limit
	page, err := s.cat.QueryPlayEvents(r.Context(), tenantOf(r), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Play]{Items: []api.Play{}, Next: page.Next}
	for _, e := range page.Events {
		out.Items = append(out.Items, api.Play{DeviceID: e.DeviceID, Seq: e.Seq, AssetID: e.AssetID,
			StoreID: e.StoreID, ZoneID: e.ZoneID, StartedAt: e.StartedAt, DurationMS: e.DurationMS,
			Fallback: e.Fallback, ReceivedAt: e.ReceivedAt})
	}
	writeJSON(w, r, http.StatusOK, out)
}
