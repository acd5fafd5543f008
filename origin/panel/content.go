package panel

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

// playlistForm is what the user typed in the new-playlist form.
type playlistForm struct {
	Name     string
	AssetIDs []string
}

type playlistsData struct {
	Playlists []playlistRow
	Assets    []api.Asset // candidates for a new playlist: the library search below the form
	Q         string
	Form      playlistForm
}

type playlistRow struct {
	P      api.Playlist
	Titles []string // of the first few tracks
}

func listPlaylists(ctx context.Context, c *api.Client) ([]api.Playlist, error) {
	var pg api.Page[api.Playlist]
	err := c.Do(ctx, http.MethodGet, "/v1/playlists", nil, &pg)
	return pg.Items, err
}

func listSchedules(ctx context.Context, c *api.Client) ([]api.Schedule, error) {
	var pg api.Page[api.Schedule]
	err := c.Do(ctx, http.MethodGet, "/v1/schedules", nil, &pg)
	return pg.Items, err
}

func (p *Panel) loadPlaylists(ctx context.Context, rq *request, q string, data *playlistsData) error {
	pls, err := listPlaylists(ctx, rq.api)
	if err != nil {
		return err
	}
	titles := newTitleCache(rq.api)
	for _, pl := range pls {
		row := playlistRow{P: pl}
		for _, id := range pl.AssetIDs[:min(len(pl.AssetIDs), 5)] {
			row.Titles = append(row.Titles, titles.title(ctx, id))
		}
		data.Playlists = append(data.Playlists, row)
	}
	data.Q = strings.TrimSpace(q)
	if len(data.Q) > 200 {
		data.Q = data.Q[:200]
	}
	if data.Q != "" {
		data.Assets, _, err = p.findAssets(ctx, rq.api, data.Q, "")
	} else {
		var pg api.Page[api.Asset]
		pg, err = rq.api.ListAssets(ctx, "", p.cfg.PageSize)
		data.Assets = pg.Items
	}
	return err
}

func (p *Panel) playlists(w http.ResponseWriter, r *http.Request, rq *request) {
	var data playlistsData
	if err := p.loadPlaylists(r.Context(), rq, r.URL.Query().Get("q"), &data); err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "playlists", data, explain(rq.lang, err))
		return
	}
	p.render(w, r, rq, http.StatusOK, "playlists", data, "")
}

func (p *Panel) createPlaylist(w http.ResponseWriter, r *http.Request, rq *request) {
	// csrfOK already parsed the (bounded) urlencoded body.
	form := playlistForm{Name: strings.TrimSpace(r.PostForm.Get("name")), AssetIDs: r.PostForm["asset"]}
	_, err := rq.api.CreatePlaylist(r.Context(), api.PlaylistInput{Name: form.Name, AssetIDs: form.AssetIDs})
	if err != nil {
		data := playlistsData{Form: form}
		if lerr := p.loadPlaylists(r.Context(), rq, r.PostForm.Get("q"), &data); lerr != nil {
			err = lerr
		}
		p.render(w, r, rq, http.StatusUnprocessableEntity, "playlists", data, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/playlists?ok=playlist", http.StatusSeeOther)
}

// scheduleForm is what the user typed in the new-schedule form.
type scheduleForm struct {
	Scope        string // "tenant", "store:<id>" or "zone:<store id>:<zone id>"
	PlaylistID   string
	Priority     string
	Weekdays     []int
	Start, End   string
	DateFrom     string
	DateTo       string
	SpotPlaylist string
	EveryTracks  string
	EveryMinutes string
	At           string
}

type scheduleRow struct {
	S        api.Schedule
	Scope    string
	Playlist string
	Grid     [7][24]bool // rows Monday..Sunday, columns hours: the day-part is active during that hour
	Spots    []string
}

type schedulesData struct {
	Schedules []scheduleRow
	Stores    []api.Store
	Playlists []api.Playlist
	Form      scheduleForm
}

// gridOf marks, for each weekday (Monday first) and hour, whether the schedule's day-part covers part of it. A
// part that crosses midnight belongs to the day it starts and spills into the next morning.
func gridOf(s api.Schedule) [7][24]bool {
	var g [7][24]bool
	start, err1 := schedule.ParseClock(s.Start)
	end, err2 := schedule.ParseClock(s.End)
	if err1 != nil || err2 != nil {
		return g
	}
	sm, em := int(start), int(end)
	if em <= sm {
		em += 24 * 60 // crosses midnight, or all day when equal
	}
	row := func(wd int) int { return (wd + 6) % 7 } // Sunday=0 -> row 6
	for wd := 0; wd < 7; wd++ {
		if len(s.Weekdays) > 0 && !containsInt(s.Weekdays, wd) {
			continue
		}
		for m := sm - sm%60; m < em; m += 60 {
			day := (wd + m/(24*60)) % 7
			g[row(day)][(m/60)%24] = true
		}
	}
	return g
}

func (p *Panel) loadSchedules(ctx context.Context, rq *request, data *schedulesData) error {
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		return err
	}
	data.Stores = scope(rq.id, stores)
	if data.Playlists, err = listPlaylists(ctx, rq.api); err != nil {
		return err
	}
	scs, err := listSchedules(ctx, rq.api)
	if err != nil {
		return err
	}
	sn, zn := names(stores)
	pn := map[string]string{}
	for _, pl := range data.Playlists {
		pn[pl.ID] = pl.Name
	}
	for _, s := range scs {
		if !rq.id.Director() && s.StoreID != "" && s.StoreID != rq.id.StoreID {
			continue
		}
		row := scheduleRow{S: s, Playlist: pn[s.PlaylistID], Grid: gridOf(s)}
		switch {
		case s.ZoneID != "":
			row.Scope = sn[s.StoreID] + " / " + zn[s.ZoneID]
		case s.StoreID != "":
			row.Scope = sn[s.StoreID]
		}
		for _, sr := range s.SpotRules {
			var parts []string
			if sr.EveryNTracks > 0 {
				parts = append(parts, "every "+strconv.Itoa(sr.EveryNTracks)+" tracks")
			}
			if sr.EveryNMinutes > 0 {
				parts = append(parts, "every "+strconv.Itoa(sr.EveryNMinutes)+" min")
			}
			if len(sr.At) > 0 {
				parts = append(parts, "at "+strings.Join(sr.At, ", "))
			}
			row.Spots = append(row.Spots, pn[sr.PlaylistID]+": "+strings.Join(parts, "; "))
		}
		data.Schedules = append(data.Schedules, row)
	}
	return nil
}

func (p *Panel) schedules(w http.ResponseWriter, r *http.Request, rq *request) {
	data := schedulesData{Form: scheduleForm{Scope: "tenant", Priority: "0", Start: "00:00", End: "00:00"}}
	if err := p.loadSchedules(r.Context(), rq, &data); err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "schedules", data, explain(rq.lang, err))
		return
	}
	p.render(w, r, rq, http.StatusOK, "schedules", data, "")
}

// scheduleInput turns the form into origin's input; only the shape of numbers is checked here, origin checks
// the rest (times, dates, ids, rule bounds) and its words are shown if it refuses.
func scheduleInput(f scheduleForm) (api.ScheduleInput, bool) {
	in := api.ScheduleInput{Scope: "tenant", PlaylistID: f.PlaylistID, Weekdays: f.Weekdays, Start: f.Start, End: f.End,
		DateFrom: f.DateFrom, DateTo: f.DateTo}
	switch parts := strings.Split(f.Scope, ":"); {
	case len(parts) == 2 && parts[0] == "store":
		in.Scope, in.StoreID = "store", parts[1]
	case len(parts) == 3 && parts[0] == "zone":
		in.Scope, in.StoreID, in.ZoneID = "zone", parts[1], parts[2]
	}
	num := func(s string) (int, bool) {
		if s = strings.TrimSpace(s); s == "" {
			return 0, true
		}
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	var ok1, ok2, ok3 bool
	in.Priority, ok1 = num(f.Priority)
	rule := api.SpotRule{PlaylistID: f.SpotPlaylist}
	rule.EveryNTracks, ok2 = num(f.EveryTracks)
	rule.EveryNMinutes, ok3 = num(f.EveryMinutes)
	for _, at := range strings.Split(f.At, ",") {
		if at = strings.TrimSpace(at); at != "" {
			rule.At = append(rule.At, at)
		}
	}
	if f.SpotPlaylist != "" {
		in.SpotRules = []api.SpotRule{rule}
	}
	return in, ok1 && ok2 && ok3
}

func (p *Panel) createSchedule(w http.ResponseWriter, r *http.Request, rq *request) {
	pf := r.PostForm
	f := scheduleForm{Scope: pf.Get("scope"), PlaylistID: pf.Get("playlist"), Priority: pf.Get("priority"),
		Start: pf.Get("start"), End: pf.Get("end"), DateFrom: pf.Get("date_from"), DateTo: pf.Get("date_to"),
		SpotPlaylist: pf.Get("spot_playlist"), EveryTracks: pf.Get("every_tracks"),
		EveryMinutes: pf.Get("every_minutes"), At: pf.Get("at")}
	for _, d := range pf["wd"] {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 && n <= 6 && !slices.Contains(f.Weekdays, n) {
			f.Weekdays = append(f.Weekdays, n)
		}
	}
	slices.Sort(f.Weekdays)
	in, ok := scheduleInput(f)
	var err error
	var why string
	if !ok {
		why = msg(rq.lang, "err.number")
	} else if _, err = rq.api.CreateSchedule(r.Context(), in); err != nil {
		why = explain(rq.lang, err)
	}
	if why != "" {
		data := schedulesData{Form: f}
		if lerr := p.loadSchedules(r.Context(), rq, &data); lerr != nil {
			why += " " + explain(rq.lang, lerr)
		}
		p.render(w, r, rq, http.StatusUnprocessableEntity, "schedules", data, why)
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/schedules?ok=schedule", http.StatusSeeOther)
}

// scopeValue is the form value naming a schedule scope (used by the template to keep the choice).
func scopeValue(kind, storeID, zoneID string) string {
	switch kind {
	case "store":
		return "store:" + storeID
	case "zone":
		return "zone:" + storeID + ":" + zoneID
	}
	return "tenant"
}

func init() {
	funcs["scopeValue"] = scopeValue
	funcs["urlq"] = url.QueryEscape
}

// deleteContent deletes a playlist or a schedule (kind), as origin's API does (a playlist still scheduled or
// used by a spot rule is refused by origin, and its words are shown).
func (p *Panel) deleteContent(kind string) func(http.ResponseWriter, *http.Request, *request) {
	return func(w http.ResponseWriter, r *http.Request, rq *request) {
		err := rq.api.Do(r.Context(), http.MethodDelete, "/v1/"+kind+"/"+url.PathEscape(r.PathValue("id")), nil, nil)
		if err != nil {
			if kind == "playlists" {
				var data playlistsData
				if lerr := p.loadPlaylists(r.Context(), rq, "", &data); lerr != nil {
					err = lerr
				}
				p.render(w, r, rq, http.StatusUnprocessableEntity, "playlists", data, explain(rq.lang, err))
				return
			}
			data := schedulesData{Form: scheduleForm{Scope: "tenant", Priority: "0", Start: "00:00", End: "00:00"}}
			if lerr := p.loadSchedules(r.Context(), rq, &data); lerr != nil {
				err = lerr
			}
			p.render(w, r, rq, http.StatusUnprocessableEntity, "schedules", data, explain(rq.lang, err))
			return
		}
		http.Redirect(w, r, p.cfg.Prefix+"/"+kind+"?ok=deleted", http.StatusSeeOther)
	}
}

type playlistEditData struct {
	P       api.Playlist
	Current []api.Asset // the playlist's tracks, in order
	Assets  []api.Asset // library search results to add
	Q       string
	Form    playlistForm
}

// loadPlaylistEdit reads a playlist, its tracks (at most MaxPlaylistShown are listed) and the library search.
func (p *Panel) loadPlaylistEdit(ctx context.Context, rq *request, id, q string, data *playlistEditData) error {
	if err := rq.api.Do(ctx, http.MethodGet, "/v1/playlists/"+url.PathEscape(id), nil, &data.P); err != nil {
		return err
	}
	titles := newTitleCache(rq.api)
	for _, aid := range data.P.AssetIDs[:min(len(data.P.AssetIDs), maxPlaylistShown)] {
		data.Current = append(data.Current, titles.asset(ctx, aid))
	}
	data.Q = strings.TrimSpace(q)
	if len(data.Q) > 200 {
		data.Q = data.Q[:200]
	}
	var err error
	if data.Q != "" {
		data.Assets, _, err = p.findAssets(ctx, rq.api, data.Q, "")
	}
	return err
}

// maxPlaylistShown bounds the tracks listed (one GET each) on a playlist's page.
const maxPlaylistShown = 500

func (p *Panel) playlist(w http.ResponseWriter, r *http.Request, rq *request) {
	var data playlistEditData
	if err := p.loadPlaylistEdit(r.Context(), rq, r.PathValue("id"), r.URL.Query().Get("q"), &data); err != nil {
		p.render(w, r, rq, http.StatusNotFound, "playlist", data, explain(rq.lang, err))
		return
	}
	data.Form = playlistForm{Name: data.P.Name, AssetIDs: data.P.AssetIDs}
	p.render(w, r, rq, http.StatusOK, "playlist", data, "")
}

// updatePlaylist saves the edit form: the name, the kept tracks in their order, then the added ones.
func (p *Panel) updatePlaylist(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	pf := r.PostForm
	form := playlistForm{Name: strings.TrimSpace(pf.Get("name"))}
	for _, aid := range append(pf["keep"], pf["asset"]...) {
		if !slices.Contains(form.AssetIDs, aid) {
			form.AssetIDs = append(form.AssetIDs, aid)
		}
	}
	in := api.PlaylistInput{Name: form.Name, AssetIDs: form.AssetIDs}
	if err := rq.api.Do(r.Context(), http.MethodPut, "/v1/playlists/"+url.PathEscape(id), &in, nil); err != nil {
		var data playlistEditData
		if lerr := p.loadPlaylistEdit(r.Context(), rq, id, pf.Get("q"), &data); lerr != nil {
			err = lerr
		}
		data.Form = form
		p.render(w, r, rq, http.StatusUnprocessableEntity, "playlist", data, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/playlists/"+url.PathEscape(id)+"?ok=playlist", http.StatusSeeOther)
}
