package panel

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// Bounds of what one fleet or alerts page reads from origin.
const (
	// nowPlayingWindow: a device's last play older than this is not shown as "now playing". Devices deliver
	// plays with each sync (every 10 min with jitter), so the last reported play may be that old; 30 min
	// tolerates a missed sync. The fleet reads every play of the window once (1,000 devices playing 3-minute
	// tracks: ~10,000 events), as origin's play index is by time.
	nowPlayingWindow = 30 * time.Minute
	// maxPlayPages bounds the pages of 10,000 plays one screen reads (the alerts scan reads at most 200,000).
	maxPlayPages = 20
)

type deviceRow struct {
	D         api.Device
	StoreName string
	ZoneName  string
	Status    string // online, offline, never, revoked
	Playing   string // title of the last reported play, "" if none recent
	Level     string // its fallback level
	PlayedAt  time.Time
}

type fleetData struct {
	Stores  []api.Store
	Rows    []deviceRow
	Total   int
	Online  int
	Q       string
	Store   string
	Pager   pager
	Missing bool
	Form    fleetForm
}

// fleetForm is what the user typed in the fleet's forms (new store, new zone, enrollment), and the enrollment
// token just issued, which is shown once.
type fleetForm struct {
	StoreName, StoreTZ  string
	ZoneStore, ZoneName string
	EnrollZone          string // "zone:<store id>:<zone id>"
	Token               string
}

// scope narrows what a store manager sees to their store; a director sees the whole tenant.
func scope(id Identity, stores []api.Store) []api.Store {
	if id.Director() {
		return stores
	}
	return slices.DeleteFunc(stores, func(s api.Store) bool { return s.ID != id.StoreID })
}

// names maps store and zone ids to their names.
func names(stores []api.Store) (map[string]string, map[string]string) {
	sn, zn := map[string]string{}, map[string]string{}
	for _, s := range stores {
		sn[s.ID] = s.Name
		for _, z := range s.Zones {
			zn[z.ID] = z.Name
		}
	}
	return sn, zn
}

func (p *Panel) status(d api.Device, now time.Time) string {
	switch {
	case d.RevokedAt != nil:
		return "revoked"
	case d.LastSyncAt == nil:
		return "never"
	case now.Sub(*d.LastSyncAt) <= p.cfg.OnlineWindow:
		return "online"
	}
	return "offline"
}

// fleetDevices reads the devices the identity may see, with store and zone names.
func (p *Panel) fleetDevices(ctx context.Context, rq *request) ([]api.Store, []deviceRow, error) {
	stores, err := rq.api.ListStores(ctx)
	if err != nil {
		return nil, nil, err
	}
	stores = scope(rq.id, stores)
	storeFilter := ""
	if !rq.id.Director() {
		storeFilter = rq.id.StoreID
	}
	devs, err := rq.api.ListDevices(ctx, storeFilter)
	if err != nil {
		return nil, nil, err
	}
	sn, zn := names(stores)
	now := p.cfg.Now()
	rows := make([]deviceRow, 0, len(devs))
	for _, d := range devs {
		rows = append(rows, deviceRow{D: d, StoreName: sn[d.StoreID], ZoneName: zn[d.ZoneID], Status: p.status(d, now)})
	}
	slices.SortStableFunc(rows, func(a, b deviceRow) int {
		if c := strings.Compare(a.StoreName, b.StoreName); c != 0 {
			return c
		}
		if c := strings.Compare(a.ZoneName, b.ZoneName); c != 0 {
			return c
		}
		return strings.Compare(a.D.ID, b.D.ID)
	})
	return stores, rows, nil
}

func (p *Panel) fleet(w http.ResponseWriter, r *http.Request, rq *request) {
	p.renderFleet(w, r, rq, http.StatusOK, fleetForm{StoreTZ: "America/Sao_Paulo"}, "")
}

// renderFleet shows the fleet page for the request's query, with form as typed and errMsg above it.
func (p *Panel) renderFleet(w http.ResponseWriter, r *http.Request, rq *request, status int, form fleetForm, errMsg string) {
	ctx := r.Context()
	q := r.URL.Query()
	stores, rows, err := p.fleetDevices(ctx, rq)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "fleet", fleetData{Form: form}, explain(rq.lang, err))
		return
	}
	data := fleetData{Stores: stores, Q: strings.TrimSpace(q.Get("q")), Store: q.Get("store"), Missing: true, Form: form}
	if len(data.Q) > 200 {
		data.Q = data.Q[:200]
	}
	needle := strings.ToLower(data.Q)
	rows = slices.DeleteFunc(rows, func(d deviceRow) bool {
		if data.Store != "" && d.D.StoreID != data.Store {
			return true
		}
		if needle == "" {
			return false
		}
		hay := strings.ToLower(strings.Join([]string{d.D.ID, d.D.Name, d.StoreName, d.ZoneName, d.D.AppVersion, d.Status}, " "))
		return !strings.Contains(hay, needle)
	})
	data.Total = len(rows)
	for _, d := range rows {
		if d.Status == "online" {
			data.Online++
		}
	}
	page := pageOf(q)
	lo := min((page-1)*p.cfg.PageSize, len(rows))
	hi := min(lo+p.cfg.PageSize, len(rows))
	data.Rows = rows[lo:hi]
	data.Pager = newPager(url.Values{"q": {data.Q}, "store": {data.Store}}, page, hi < len(rows))
	storeFilter := data.Store
	if !rq.id.Director() {
		storeFilter = rq.id.StoreID
	}
	p.nowPlaying(ctx, rq.api, storeFilter, data.Rows)
	p.render(w, r, rq, status, "fleet", data, errMsg)
}

// fleetForms handles the fleet's three forms: new store, new zone, and a one-time enrollment token for a zone.
func (p *Panel) fleetForms(w http.ResponseWriter, r *http.Request, rq *request) {
	pf := r.PostForm
	f := fleetForm{StoreName: strings.TrimSpace(pf.Get("store_name")), StoreTZ: strings.TrimSpace(pf.Get("store_tz")),
		ZoneStore: pf.Get("zone_store"), ZoneName: strings.TrimSpace(pf.Get("zone_name")), EnrollZone: pf.Get("enroll_zone")}
	ctx := r.Context()
	var err error
	ok := ""
	switch pf.Get("form") {
	case "store":
		_, err = rq.api.CreateStore(ctx, api.StoreInput{Name: f.StoreName, TimeZone: f.StoreTZ})
		ok = "store"
	case "zone":
		_, err = rq.api.CreateZone(ctx, f.ZoneStore, api.ZoneInput{Name: f.ZoneName})
		ok = "zone"
	case "enroll":
		parts := strings.Split(f.EnrollZone, ":")
		if len(parts) != 3 || parts[0] != "zone" {
			p.renderFleet(w, r, rq, http.StatusBadRequest, f, msg(rq.lang, "err.zone"))
			return
		}
		var tok api.EnrollmentToken
		if tok, err = rq.api.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: parts[1], ZoneID: parts[2]}); err == nil {
			// Shown in this answer only: the secret is not kept anywhere the panel could show it again.
			f.Token = tok.Token
			p.renderFleet(w, r, rq, http.StatusOK, f, "")
			return
		}
	default:
		p.renderFleet(w, r, rq, http.StatusBadRequest, f, msg(rq.lang, "err.form"))
		return
	}
	if err != nil {
		p.renderFleet(w, r, rq, http.StatusUnprocessableEntity, f, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/fleet?ok="+ok, http.StatusSeeOther)
}

// nowPlaying fills the rows' last reported play from proof of play: each device's newest event in the window.
// It reads the window's events once for all rows (at most maxPlayPages pages); a failure leaves the column empty.
func (p *Panel) nowPlaying(ctx context.Context, c *api.Client, storeID string, rows []deviceRow) {
	if len(rows) == 0 {
		return
	}
	idx := make(map[string]int, len(rows))
	for i, r := range rows {
		idx[r.D.ID] = i
	}
	last := map[string]api.Play{}
	f := url.Values{"from": {p.cfg.Now().Add(-nowPlayingWindow).UTC().Format(time.RFC3339)}, "store_id": {storeID}}
	cursor := ""
	for range maxPlayPages {
		page, err := queryPlays(ctx, c, f, cursor, 10000)
		if err != nil {
			break
		}
		for _, e := range page.Items {
			if _, ok := idx[e.DeviceID]; ok {
				last[e.DeviceID] = e // ascending by start: the last one seen is the newest
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	titles := newTitleCache(c)
	for id, e := range last {
		row := &rows[idx[id]]
		row.Level, row.PlayedAt = e.Fallback, e.StartedAt
		row.Playing = titles.title(ctx, e.AssetID)
	}
	// A self-report sent with a sync newer than the last delivered play says what plays right now.
	for i := range rows {
		row := &rows[i]
		st, at := row.D.Status, row.D.LastSyncAt
		if st == nil || st.Fallback == "" || at == nil || p.cfg.Now().Sub(*at) > nowPlayingWindow || !at.After(row.PlayedAt) {
			continue
		}
		row.Level, row.PlayedAt, row.Playing = st.Fallback, *at, st.NowPlayingTitle
	}
}

// queryPlays reads one page of proof-of-play events with the given filters.
func queryPlays(ctx context.Context, c *api.Client, f url.Values, cursor string, limit int) (api.Page[api.Play], error) {
	q := url.Values{}
	for k, v := range f {
		if len(v) > 0 && v[0] != "" {
			q.Set(k, v[0])
		}
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	q.Set("limit", strconv.Itoa(limit))
	var page api.Page[api.Play]
	err := c.Do(ctx, http.MethodGet, "/v1/plays?"+q.Encode(), nil, &page)
	return page, err
}

// titleCache resolves asset ids to assets for one request.
type titleCache struct {
	c *api.Client
	m map[string]api.Asset
}

func newTitleCache(c *api.Client) *titleCache { return &titleCache{c: c, m: map[string]api.Asset{}} }

func (t *titleCache) asset(ctx context.Context, id string) api.Asset {
	if id == "" {
		return api.Asset{}
	}
	if a, ok := t.m[id]; ok {
		return a
	}
	var a api.Asset
	if err := t.c.Do(ctx, http.MethodGet, "/v1/assets/"+url.PathEscape(id), nil, &a); err != nil {
		a = api.Asset{ID: id}
	}
	t.m[id] = a
	return a
}

func (t *titleCache) title(ctx context.Context, id string) string {
	a := t.asset(ctx, id)
	if a.Title == "" {
		return shortID(id)
	}
	if a.Artist != "" {
		return a.Title + " — " + a.Artist
	}
	return a.Title
}

type alert struct {
	Kind      string // message key
	Device    deviceRow
	Since     time.Time
	Count     int
	LastTitle string
}

// Thresholds of the alerts raised from a device's last self-report.
const (
	lowDiskBytes = 1 << 30       // less free disk than this cannot hold a season's new content
	thinCoverage = 6 * time.Hour // the cache runs out of scheduled content within this
)

// statusAlerts are the alerts a device's last self-report raises: a clock it does not believe, low disk, dead air,
// and a cache that will not cover the schedule for long.
func statusAlerts(d deviceRow, now time.Time) []alert {
	st := d.D.Status
	if st == nil || d.D.LastSyncAt == nil {
		return nil
	}
	since := *d.D.LastSyncAt
	var out []alert
	if st.ClockProblem != "" {
		out = append(out, alert{Kind: "alerts.clock", Device: d, Since: since})
	}
	if st.FreeDiskBytes >= 0 && st.FreeDiskBytes < lowDiskBytes {
		out = append(out, alert{Kind: "alerts.disk", Device: d, Since: since})
	}
	if st.DeadAir > 0 {
		out = append(out, alert{Kind: "alerts.silent", Device: d, Since: since, Count: st.DeadAir})
	}
	if st.CoveredUntil != nil && st.CoveredUntil.Before(now.Add(thinCoverage)) {
		out = append(out, alert{Kind: "alerts.coverage", Device: d, Since: since})
	}
	return out
}

type alertsData struct {
	Alerts    []alert
	Truncated bool
}

func (p *Panel) alerts(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	_, rows, err := p.fleetDevices(ctx, rq)
	if err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "alerts", alertsData{}, explain(rq.lang, err))
		return
	}
	var data alertsData
	byID := map[string]deviceRow{}
	for _, d := range rows {
		byID[d.D.ID] = d
		switch d.Status {
		case "offline":
			data.Alerts = append(data.Alerts, alert{Kind: "alerts.offline", Device: d, Since: *d.D.LastSyncAt})
		case "never":
			data.Alerts = append(data.Alerts, alert{Kind: "alerts.never", Device: d, Since: d.D.EnrolledAt})
		}
		data.Alerts = append(data.Alerts, statusAlerts(d, p.cfg.Now())...)
	}
	// Fallback plays in the last 24 hours, one alert per device and kind with its count.
	f := url.Values{"from": {p.cfg.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)}}
	if !rq.id.Director() {
		f.Set("store_id", rq.id.StoreID)
	}
	type key struct{ dev, kind string }
	agg := map[key]*alert{}
	var order []key
	cursor := ""
	for i := 0; ; i++ {
		if i == maxPlayPages {
			data.Truncated = true
			break
		}
		page, err := queryPlays(ctx, rq.api, f, cursor, 10000)
		if err != nil {
			p.render(w, r, rq, http.StatusBadGateway, "alerts", data, explain(rq.lang, err))
			return
		}
		for _, e := range page.Items {
			var kind string
			switch e.Fallback {
			case "builtin", "silence":
				kind = "alerts.deadair"
			case "emergency":
				kind = "alerts.emergency"
			default:
				continue
			}
			d, ok := byID[e.DeviceID]
			if !ok {
				continue
			}
			k := key{e.DeviceID, kind}
			a := agg[k]
			if a == nil {
				a = &alert{Kind: kind, Device: d, Since: e.StartedAt}
				agg[k] = a
				order = append(order, k)
			}
			a.Count++
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	for _, k := range order {
		data.Alerts = append(data.Alerts, *agg[k])
	}
	p.render(w, r, rq, http.StatusOK, "alerts", data, "")
}
