package panel

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// The zones screen: each zone of the stores the user may see, its override (volume, mute window) and a form to
// change or clear it. A store manager sees and changes only their own store's zones; origin enforces it (a
// forged form for another store's zone is refused there and explained here).

// localLayout is the value format of <input type="datetime-local">, read in the store's time zone.
const localLayout = "2006-01-02T15:04"

// overrideForm is what was typed in one zone's form (kept when a save fails) or the zone's current values.
type overrideForm struct {
	Volume, MuteFrom, MuteUntil string
}

type zoneRow struct {
	Zone    api.ZoneInfo
	Current *api.ZoneOverride // nil: never set
	Muting  bool              // a mute window covers now
	Form    overrideForm
}

type storeZones struct {
	Store api.Store
	Zones []zoneRow
}

type zonesData struct {
	Stores []storeZones
}

// localTime formats t in the store's zone for a datetime-local input ("" for nil).
func localTime(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return t.In(loc).Format(localLayout)
}

// loadZones reads the stores the user may see, with their zones and overrides. failed and typed, when set, are the
// zone whose save failed and what was typed in its form.
func (p *Panel) loadZones(ctx context.Context, rq *request, failed string, typed overrideForm) (zonesData, error) {
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		return zonesData{}, err
	}
	now := p.cfg.Now()
	var data zonesData
	for _, st := range scope(rq.id, stores) {
		loc, err := time.LoadLocation(st.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		ovs, err := rq.api.ListZoneOverrides(ctx, st.ID)
		if err != nil {
			return zonesData{}, err
		}
		byZone := map[string]*api.ZoneOverride{}
		for i := range ovs {
			byZone[ovs[i].ZoneID] = &ovs[i]
		}
		sz := storeZones{Store: st}
		for _, z := range st.Zones {
			row := zoneRow{Zone: z, Current: byZone[z.ID], Form: overrideForm{Volume: "100"}}
			if o := row.Current; o != nil && !o.Cleared {
				row.Form = overrideForm{Volume: strconv.Itoa(o.VolumePct), MuteFrom: localTime(o.MuteFrom, loc),
					MuteUntil: localTime(o.MuteUntil, loc)}
				row.Muting = o.MuteFrom != nil && !now.Before(*o.MuteFrom) && now.Before(*o.MuteUntil)
			}
			if z.ID == failed {
				row.Form = typed
			}
			sz.Zones = append(sz.Zones, row)
		}
		data.Stores = append(data.Stores, sz)
	}
	return data, nil
}

func (p *Panel) zones(w http.ResponseWriter, r *http.Request, rq *request) {
	p.renderZones(w, r, rq, http.StatusOK, "", overrideForm{}, "")
}

func (p *Panel) renderZones(w http.ResponseWriter, r *http.Request, rq *request, status int, failed string, typed overrideForm, errMsg string) {
	data, err := p.loadZones(r.Context(), rq, failed, typed)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "zones", data, explain(rq.lang, err))
		return
	}
	p.render(w, r, rq, status, "zones", data, errMsg)
}

// overrideInput reads a zone's form into origin's input, or names what is wrong in the user's words.
func overrideInput(lang string, f overrideForm, loc *time.Location, now time.Time) (api.ZoneOverrideInput, string) {
	var in api.ZoneOverrideInput
	v, err := strconv.Atoi(strings.TrimSpace(f.Volume))
	if err != nil || v < 0 || v > 100 {
		return in, msg(lang, "ovr.err.volume")
	}
	in.VolumePct = &v
	if f.MuteFrom == "" && f.MuteUntil == "" {
		return in, ""
	}
	if f.MuteFrom == "" || f.MuteUntil == "" {
		return in, msg(lang, "ovr.err.both")
	}
	from, err1 := time.ParseInLocation(localLayout, f.MuteFrom, loc)
	until, err2 := time.ParseInLocation(localLayout, f.MuteUntil, loc)
	switch {
	case err1 != nil || err2 != nil:
		return in, msg(lang, "ovr.err.time")
	case !until.After(from):
		return in, msg(lang, "ovr.err.order")
	case until.Sub(from) > api.MaxMuteSpan:
		return in, msg(lang, "ovr.err.long")
	case !until.After(now):
		return in, msg(lang, "ovr.err.past")
	}
	in.MuteFrom, in.MuteUntil = &from, &until
	return in, ""
}

// zoneForm handles one zone's form: save (action=set) or clear (action=clear).
func (p *Panel) zoneForm(w http.ResponseWriter, r *http.Request, rq *request) {
	zoneID := r.PathValue("id")
	pf := r.PostForm
	f := overrideForm{Volume: pf.Get("volume"), MuteFrom: strings.TrimSpace(pf.Get("mute_from")),
		MuteUntil: strings.TrimSpace(pf.Get("mute_until"))}
	if len(f.Volume) > 16 || len(f.MuteFrom) > 32 || len(f.MuteUntil) > 32 {
		p.renderZones(w, r, rq, http.StatusBadRequest, zoneID, overrideForm{}, msg(rq.lang, "err.form"))
		return
	}
	ctx := r.Context()
	// The store's time zone reads the typed times; a zone the user may not see has none here, and origin refuses
	// the change itself.
	loc := time.UTC
	if stores, err := rq.api.ListStores(ctx); err == nil {
		for _, st := range stores {
			for _, z := range st.Zones {
				if z.ID == zoneID {
					if l, err := time.LoadLocation(st.TimeZone); err == nil {
						loc = l
					}
				}
			}
		}
	}
	var err error
	ok := "override"
	switch pf.Get("action") {
	case "clear":
		_, err = rq.api.ClearZoneOverride(ctx, zoneID)
		ok = "cleared"
	case "set":
		in, bad := overrideInput(rq.lang, f, loc, p.cfg.Now())
		if bad != "" {
			p.renderZones(w, r, rq, http.StatusBadRequest, zoneID, f, bad)
			return
		}
		_, err = rq.api.SetZoneOverride(ctx, zoneID, in)
	default:
		p.renderZones(w, r, rq, http.StatusBadRequest, zoneID, f, msg(rq.lang, "err.form"))
		return
	}
	if err != nil {
		status := http.StatusUnprocessableEntity
		if pr := (*api.Problem)(nil); errors.As(err, &pr) && pr.Status == http.StatusForbidden {
			status = http.StatusForbidden
		}
		p.renderZones(w, r, rq, status, zoneID, f, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/zones?ok="+ok, http.StatusSeeOther)
}
