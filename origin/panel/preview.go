package panel

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/wire"
)

// Bounds of one preview.
const (
	maxPreviewHours   = 48
	maxPreviewEntries = 5000
)

// previewRow is a run of consecutive plays of the same asset at the same level (a one-track playlist would
// otherwise fill thousands of rows): Count plays from Start, lasting Length in all.
type previewRow struct {
	Start  time.Time // in the store's time zone
	Length time.Duration
	Count  int
	Title  string
	Level  string
	Reason string
}

type previewData struct {
	Stores    []api.Store
	Zone      string
	From      string // store-local "2006-01-02T15:04"
	Hours     string
	Rows      []previewRow
	Covered   time.Time
	Full      bool // the whole window is covered by scheduled content
	Truncated bool
	Done      bool
}

// preview answers "what will this zone play" with the players' own selection code (schedule.Selector.Plan) fed
// with the part of the catalog the zone can reach, as origin serves it (see load and plan), assuming the device
// holds every ready asset.
func (p *Panel) preview(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	q := r.URL.Query()
	data := previewData{Zone: q.Get("zone"), From: q.Get("from"), Hours: q.Get("hours")}
	if data.Hours == "" {
		data.Hours = "3"
	}
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "preview", data, explain(rq.lang, err))
		return
	}
	data.Stores = scope(rq.id, stores)
	if data.Zone == "" {
		p.render(w, r, rq, http.StatusOK, "preview", data, "")
		return
	}
	var store *api.Store
	for i, s := range data.Stores {
		for _, z := range s.Zones {
			if z.ID == data.Zone {
				store = &data.Stores[i]
			}
		}
	}
	hours, err := strconv.Atoi(data.Hours)
	switch {
	case store == nil:
		p.render(w, r, rq, http.StatusBadRequest, "preview", data, msg(rq.lang, "err.zone"))
		return
	case err != nil || hours < 1 || hours > maxPreviewHours:
		p.render(w, r, rq, http.StatusBadRequest, "preview", data, msg(rq.lang, "err.hours"))
		return
	}
	loc, err := time.LoadLocation(store.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	from := p.cfg.Now().In(loc).Truncate(time.Minute)
	if data.From != "" {
		if from, err = time.ParseInLocation(dtLayout, data.From, loc); err != nil {
			p.render(w, r, rq, http.StatusBadRequest, "preview", data, msg(rq.lang, "err.time"))
			return
		}
	}
	data.From = from.Format(dtLayout)
	to := from.Add(time.Duration(hours) * time.Hour)
	pc, err := p.load(ctx, rq.api, store.ID, data.Zone, store.TimeZone)
	var plan []schedule.PlanEntry
	var titles map[string]string
	if err == nil {
		plan, titles, err = p.plan(ctx, rq.api, pc, from, to)
	}
	if err != nil && !errors.Is(err, schedule.ErrPlanTruncated) {
		p.render(w, r, rq, http.StatusBadGateway, "preview", data, explain(rq.lang, err))
		return
	}
	data.Truncated = errors.Is(err, schedule.ErrPlanTruncated)
	data.Done, data.Full = true, true
	for _, e := range plan {
		title := titles[e.Choice.Asset.ID]
		if e.Choice.Asset.ID == "" {
			title = "—"
		}
		if e.Choice.Level >= schedule.LevelEmergency && data.Full {
			data.Full, data.Covered = false, e.Start.In(loc)
		}
		level, reason := e.Choice.Level.String(), e.Choice.Reason.String()
		if n := len(data.Rows); n > 0 && data.Rows[n-1].Title == title && data.Rows[n-1].Level == level &&
			data.Rows[n-1].Reason == reason {
			data.Rows[n-1].Count++
			data.Rows[n-1].Length += e.Length
			continue
		}
		data.Rows = append(data.Rows, previewRow{Start: e.Start.In(loc), Length: e.Length, Count: 1, Title: title,
			Level: level, Reason: reason})
	}
	if data.Full {
		data.Covered = to
	}
	p.render(w, r, rq, http.StatusOK, "preview", data, "")
}

// previewCatalog is what a preview reads from origin: every playlist and schedule of the tenant, and only the
// assets the selection can reach (see load), so its cost follows the zone's programme, not the library's size.
type previewCatalog struct {
	storeID, zoneID, tz string
	playlists           []api.Playlist
	schedules           []api.Schedule
	assets              map[string]api.Asset
	emergency           bool // the emergency-eligible assets are loaded
}

// load reads the playlists and schedules, then the assets of the playlists the zone's schedules name, in batches
// of api.MaxAssetIDs (origin's GET /v1/assets?ids=).
func (p *Panel) load(ctx context.Context, c *api.Client, storeID, zoneID, tz string) (*previewCatalog, error) {
	pc := &previewCatalog{storeID: storeID, zoneID: zoneID, tz: tz, assets: map[string]api.Asset{}}
	var err error
	if pc.playlists, err = listPlaylists(ctx, c); err != nil {
		return nil, err
	}
	if pc.schedules, err = listSchedules(ctx, c); err != nil {
		return nil, err
	}
	sel, _, err := pc.selector()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range sel.ScheduledPlaylists() {
		want[id] = true
	}
	var ids []string
	for _, pl := range pc.playlists {
		if want[pl.ID] {
			ids = append(ids, pl.AssetIDs...)
		}
	}
	as, err := c.AssetsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		pc.assets[a.ID] = a
	}
	return pc, nil
}

// addEmergency reads the tenant's emergency-eligible assets (up to Config.SearchScan), which the selection falls
// back to when nothing scheduled is eligible.
func (p *Panel) addEmergency(ctx context.Context, c *api.Client, pc *previewCatalog) error {
	cursor := ""
	for n := 0; n < p.cfg.SearchScan; {
		pg, err := c.EmergencyAssets(ctx, cursor, 10000)
		if err != nil {
			return err
		}
		n += len(pg.Items)
		for _, a := range pg.Items {
			pc.assets[a.ID] = a
		}
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	pc.emergency = true
	return nil
}

// selector builds the zone's selector from what pc holds, ready assets present, and returns it with asset titles
// by id. Assets are added in id order, as a device's full sync and origin's listing do: the emergency pick draws
// an index into the eligible assets in the order they were added.
func (pc *previewCatalog) selector() (*schedule.Selector, map[string]string, error) {
	cfg := schedule.DefaultConfig()
	cfg.Store = schedule.StoreSettings{StoreID: pc.storeID, TimeZone: pc.tz}
	cfg.Zone = pc.zoneID
	cfg.Rand = rand.NewPCG(1, 2)
	cfg.MaxPlanEntries = maxPreviewEntries
	sel, err := schedule.NewSelector(cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, pl := range pc.playlists {
		_ = sel.UpsertPlaylist(wire.Playlist(pl))
	}
	for _, s := range pc.schedules {
		if sc, err := wire.Schedule(s); err == nil {
			_ = sel.UpsertSchedule(sc)
		}
	}
	titles := map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(pc.assets)) {
		w := pc.assets[id]
		a, err := wire.Asset(w)
		if err != nil {
			continue // a kind this panel does not know: the player would not play it either
		}
		if err := sel.UpsertAsset(a); err != nil {
			continue
		}
		titles[w.ID] = w.Title
		if w.Status == "ready" && w.SHA256 != "" {
			sel.SetPresent(w.SHA256, true)
		}
	}
	return sel, titles, nil
}

// plan runs the selection from `from` to `to` over the assets the zone's playlists hold. Only a fallback can
// reach any other asset (an emergency-eligible one, drawn at random), so when the plan has one, the
// emergency-eligible assets are read and the plan run again over both: the answer is the plan over the whole
// library either way.
func (p *Panel) plan(ctx context.Context, c *api.Client, pc *previewCatalog, from, to time.Time) ([]schedule.PlanEntry, map[string]string, error) {
	for {
		sel, titles, err := pc.selector()
		if err != nil {
			return nil, nil, err
		}
		plan, err := sel.Plan(from, to)
		if pc.emergency || !slices.ContainsFunc(plan, func(e schedule.PlanEntry) bool {
			return e.Choice.Level >= schedule.LevelEmergency
		}) {
			return plan, titles, err
		}
		if err := p.addEmergency(ctx, c, pc); err != nil {
			return nil, nil, err
		}
	}
}
