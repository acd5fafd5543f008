package panel

import (
	"encoding/csv"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

type playRow struct {
	P     api.Play
	Store string
	Zone  string
	Asset api.Asset
}

type playsData struct {
	Stores []api.Store
	F      playFilter
	Rows   []playRow
	Cursor string
	Next   string
	CSVQ   template.URL // the filter as a query string, for the CSV link
}

// playFilter is the report's filter as typed (times in UTC, datetime-local form).
type playFilter struct {
	Store, Zone, Device, From, To string
}

// apiFilter turns the typed filter into origin's query parameters; a bad time is reported in plain words.
func (p *Panel) apiFilter(rq *request, q url.Values) (playFilter, url.Values, string) {
	f := playFilter{Store: q.Get("store"), Zone: q.Get("zone"), Device: q.Get("device"), From: q.Get("from"), To: q.Get("to")}
	if !rq.id.Director() {
		f.Store = rq.id.StoreID // a manager reports on their own store only
	}
	v := url.Values{"store_id": {f.Store}, "zone_id": {f.Zone}, "device_id": {f.Device}}
	for _, t := range []struct{ name, val string }{{"from", f.From}, {"to", f.To}} {
		tm, err := parseDT(t.val)
		if err != nil {
			return f, nil, msg(rq.lang, "err.time")
		}
		if tm != nil {
			v.Set(t.name, tm.Format(time.RFC3339))
		}
	}
	return f, v, ""
}

func (p *Panel) plays(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	q := r.URL.Query()
	var data playsData
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "plays", data, explain(rq.lang, err))
		return
	}
	data.Stores = scope(rq.id, stores)
	f, v, bad := p.apiFilter(rq, q)
	data.F = f
	data.CSVQ = template.URL(url.Values{"store": {f.Store}, "zone": {f.Zone}, "device": {f.Device}, "from": {f.From}, "to": {f.To}}.Encode())
	if bad != "" {
		p.render(w, r, rq, http.StatusBadRequest, "plays", data, bad)
		return
	}
	data.Cursor = q.Get("cursor")
	page, err := queryPlays(ctx, rq.api, v, data.Cursor, p.cfg.PageSize)
	if err != nil {
		p.render(w, r, rq, http.StatusBadRequest, "plays", data, explain(rq.lang, err))
		return
	}
	data.Next = page.Next
	sn, zn := names(stores)
	titles := newTitleCache(rq.api)
	for _, e := range page.Items {
		data.Rows = append(data.Rows, playRow{P: e, Store: sn[e.StoreID], Zone: zn[e.ZoneID], Asset: titles.asset(ctx, e.AssetID)})
	}
	p.render(w, r, rq, http.StatusOK, "plays", data, "")
}

// playsCSV streams the filtered proof of play as CSV, one row per play with the asset's ISRC for rights
// reporting, reading origin's pages of 10,000 until the end or Config.MaxCSVRows.
func (p *Panel) playsCSV(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	_, v, bad := p.apiFilter(rq, r.URL.Query())
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		http.Error(w, explain(rq.lang, err), http.StatusBadGateway)
		return
	}
	// The first page is read before the header is sent, so a refused filter is still a plain error.
	page, err := queryPlays(ctx, rq.api, v, "", 10000)
	if err != nil {
		http.Error(w, explain(rq.lang, err), http.StatusBadRequest)
		return
	}
	sn, zn := names(stores)
	titles := newTitleCache(rq.api)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="proof-of-play.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"started_at", "duration_ms", "store", "zone", "device_id", "seq", "fallback",
		"asset_id", "title", "artist", "isrc", "store_id", "zone_id"})
	rows := 0
	for {
		for _, e := range page.Items {
			if rows >= p.cfg.MaxCSVRows {
				cw.Flush()
				return
			}
			a := titles.asset(ctx, e.AssetID)
			_ = cw.Write([]string{e.StartedAt.UTC().Format(time.RFC3339Nano), strconv.FormatInt(e.DurationMS, 10),
				csvSafe(sn[e.StoreID]), csvSafe(zn[e.ZoneID]), e.DeviceID, strconv.FormatUint(e.Seq, 10), e.Fallback,
				e.AssetID, csvSafe(a.Title), csvSafe(a.Artist), a.ISRC, e.StoreID, e.ZoneID})
			rows++
		}
		if page.Next == "" {
			break
		}
		if page, err = queryPlays(ctx, rq.api, v, page.Next, 10000); err != nil {
			break // the header is sent; a truncated file ends without its last rows
		}
		if len(titles.m) > 100_000 {
			titles = newTitleCache(rq.api) // bound memory on huge exports
		}
	}
	cw.Flush()
}

// csvSafe defuses spreadsheet formula injection: a cell a user typed (a title) that starts with = + - @ is
// prefixed with a quote so spreadsheet software shows it as text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}
