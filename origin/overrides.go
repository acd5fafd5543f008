package origin

import (
	"errors"
	"net/http"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Zone overrides (ARCHITECTURE.md "Zone overrides"): a director changes any zone of the tenant, a store manager
// only the zones of their own store; every change is a row of the zone's audit trail and a new signed record
// override/<zone> in the store's scope, so the store's devices receive it at their next sync.

func overrideKey(zoneID string) string { return "override/" + zoneID }

// overrideRoutes registers the override API. Its writes are open to store managers (mine checks the store).
func (s *Server) overrideRoutes(mux *recordingMux) {
	m := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.adminManagerWrites(h)) }
	m("GET /v1/stores/{id}/overrides", s.listOverrides)
	m("GET /v1/zones/{id}/override", s.getOverride)
	m("PUT /v1/zones/{id}/override", s.setOverride)
	m("DELETE /v1/zones/{id}/override", s.clearOverride)
	m("GET /v1/zones/{id}/override/history", s.overrideHistory)
}

// mine refuses a store manager's request about another store.
func mine(r *http.Request, storeID string) error {
	if t := adminOf(r); t.Role != catalog.RoleDirector && t.StoreID != storeID {
		return api.NewProblem(http.StatusForbidden, api.ProblemUnauth,
			"a store manager may only see and change the zones of their own store")
	}
	return nil
}

func overrideToWire(o catalog.ZoneOverride) api.ZoneOverride {
	w := overrideBody(o)
	w.SetBy, w.SetByName, w.SetAt = o.SetBy, o.SetByName, timePtr(o.SetAt)
	return w
}

// overrideBody is the record body devices receive: what to apply and its HLC, not who set it.
func overrideBody(o catalog.ZoneOverride) api.ZoneOverride {
	return api.ZoneOverride{ZoneID: o.ZoneID, StoreID: o.StoreID, VolumePct: o.VolumePct, MuteFrom: timePtr(o.MuteFrom),
		MuteUntil: timePtr(o.MuteUntil), Cleared: o.Cleared, HLC: api.HLC{WallMS: o.HLC.WallMS, Logical: o.HLC.Logical}}
}

// zoneOf reads the {id} zone and checks the caller may touch it.
func (s *Server) zoneOf(r *http.Request) (catalog.Zone, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return catalog.Zone{}, err
	}
	z, err := s.cat.GetZone(r.Context(), tenantOf(r), id)
	if err != nil {
		return z, err
	}
	return z, mine(r, z.StoreID)
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request) {
	storeID, err := pathID(r, "id")
	if err == nil {
		err = mine(r, storeID)
	}
	if err == nil {
		_, err = s.cat.GetStore(r.Context(), tenantOf(r), storeID)
	}
	var ovs []catalog.ZoneOverride
	if err == nil {
		ovs, err = s.cat.ListZoneOverrides(r.Context(), tenantOf(r), storeID)
	}
	writeOverrides(w, r, ovs, err)
}

// writeOverrides answers a list of overrides, or err.
func writeOverrides(w http.ResponseWriter, r *http.Request, ovs []catalog.ZoneOverride, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.ZoneOverride]{Items: []api.ZoneOverride{}}
	for _, o := range ovs {
		out.Items = append(out.Items, overrideToWire(o))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getOverride(w http.ResponseWriter, r *http.Request) {
	z, err := s.zoneOf(r)
	var o catalog.ZoneOverride
	if err == nil {
		o, err = s.cat.GetZoneOverride(r.Context(), tenantOf(r), z.ID)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, overrideToWire(o))
}

func (s *Server) overrideHistory(w http.ResponseWriter, r *http.Request) {
	z, err := s.zoneOf(r)
	var ovs []catalog.ZoneOverride
	if err == nil {
		ovs, err = s.cat.ZoneOverrideHistory(r.Context(), tenantOf(r), z.ID, 0)
	}
	writeOverrides(w, r, ovs, err)
}

func (s *Server) setOverride(w http.ResponseWriter, r *http.Request) {
	var in api.ZoneOverrideInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	now := s.now().UTC()
	if in.MuteUntil != nil && !in.MuteUntil.After(now) {
		writeProblem(w, api.BadField("mute_until", "the mute would already be over: mute_until %s is not in the future",
			in.MuteUntil.UTC().Format(time.RFC3339)))
		return
	}
	s.writeOverride(w, r, now, func(o *catalog.ZoneOverride) {
		o.VolumePct = *in.VolumePct
		if in.MuteFrom != nil {
			o.MuteFrom, o.MuteUntil = in.MuteFrom.UTC(), in.MuteUntil.UTC()
		}
	})
}

func (s *Server) clearOverride(w http.ResponseWriter, r *http.Request) {
	s.writeOverride(w, r, s.now().UTC(), func(o *catalog.ZoneOverride) { o.VolumePct, o.Cleared = 100, true })
}

// errNoOverride: clearing a zone that has none.
var errNoOverride = api.NewProblem(http.StatusNotFound, api.ProblemNotFound, "the zone has no override to clear")

// writeOverride stores the zone's new override (filled by fill) and its signed record in one transaction. Its
// HLC is origin's clock in milliseconds, strictly after the zone's previous override.
func (s *Server) writeOverride(w http.ResponseWriter, r *http.Request, now time.Time, fill func(*catalog.ZoneOverride)) {
	z, err := s.zoneOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tok := adminOf(r)
	var o catalog.ZoneOverride
	err = s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error {
		cur, err := tx.GetZoneOverride(z.ID)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			cur = catalog.ZoneOverride{Cleared: true}
		case err != nil:
			return err
		}
		o = catalog.ZoneOverride{TenantID: z.TenantID, StoreID: z.StoreID, ZoneID: z.ID,
			HLC: cur.HLC.Tick(now.UnixMilli()), SetBy: tok.ID, SetByName: tok.Name, SetAt: now}
		fill(&o)
		if o.Cleared && cur.Cleared {
			return errNoOverride
		}
		o = catalog.NormOverride(o)
		if err := tx.PutZoneOverride(o); err != nil {
			return err
		}
		return s.putRecord(tx, overrideKey(z.ID), z.StoreID, overrideBody(o))
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, overrideToWire(o))
}

// tombstoneOverride removes a deleted zone's override record from its store's devices.
func (s *Server) tombstoneOverride(tx catalog.Tx, z catalog.Zone) error {
	if _, err := tx.GetZoneOverride(z.ID); err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		return err
	}
	return s.putRecord(tx, overrideKey(z.ID), z.StoreID, nil)
}
