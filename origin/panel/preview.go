package panel

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
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
// with the catalog as origin serves it, assuming the device holds every ready asset.
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
	sel, titles, err := p.selector(ctx, rq.api, store.ID, data.Zone, store.TimeZone)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "preview", data, explain(rq.lang, err))
		return
	}
	to := from.Add(time.Duration(hours) * time.Hour)
	plan, err := sel.Plan(from, to)
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

// selector builds a zone's selector from origin's catalog: every asset (up to Config.SearchScan), playlist and
// schedule, ready assets present. It returns the selector and asset titles by id.
func (p *Panel) selector(ctx context.Context, c *api.Client, storeID, zoneID, tz string) (*schedule.Selector, map[string]string, error) {
	cfg := schedule.DefaultConfig()
	cfg.Store = schedule.StoreSettings{StoreID: storeID, TimeZone: tz}
	cfg.Zone = zoneID
	cfg.Rand = rand.NewPCG(1, 2)
	cfg.MaxPlanEntries = maxPreviewEntries
	sel, err := schedule.NewSelector(cfg)
	if err != nil {
		return nil, nil, err
	}
	titles := map[string]string{}
	cursor := ""
	for n := 0; n < p.cfg.SearchScan; {
		pg, err := c.ListAssets(ctx, cursor, 10000)
		if err != nil {
			return nil, nil, err
		}
		n += len(pg.Items)
		for _, w := range pg.Items {
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
		if cursor = pg.Next; cursor == "" || len(pg.Items) == 0 {
			break
		}
	}
	pls, err := listPlaylists(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	for _, pl := range pls {
		_ = sel.UpsertPlaylist(wire.Playlist(pl))
	}
	scs, err := listSchedules(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range scs {
		if sc, err := wire.Schedule(s); err == nil {
			_ = sel.UpsertSchedule(sc)
		}
	}
	return sel, titles, nil
}
