package panel_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/wire"
)

// TestPreviewMatchesWholeLibrary holds the preview, which reads only the assets the zone's programme can reach,
// to the plan the selection code makes over the whole library: a library of many unrelated assets (some
// emergency-eligible, some not ready), a store schedule with spot rules, another store's schedule and gaps that
// fall back to emergency assets. The rows the page shows must be those of that plan.
func TestPreviewMatchesWholeLibrary(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := testCtx(t)
	st, z := e.shop("Loja Centro", "Salão")
	other, oz := e.shop("Loja Norte", "Salão")
	ids := seedLibrary(t, e, 3000)
	pick := func(from, n int) []string { return ids[from : from+n] }
	playlist := func(name string, assets []string) string {
		pl, err := e.admin.CreatePlaylist(c, api.PlaylistInput{Name: name, AssetIDs: assets})
		if err != nil {
			t.Fatal(err)
		}
		return pl.ID
	}
	day, spots, north := playlist("Dia", pick(100, 40)), playlist("Spots", pick(1500, 3)), playlist("Norte", pick(2000, 30))
	for _, in := range []api.ScheduleInput{
		{Scope: "store", StoreID: st.ID, PlaylistID: day, Start: "08:00", End: "12:00",
			SpotRules: []api.SpotRule{{PlaylistID: spots, EveryNTracks: 4, At: []string{"10:30"}}}},
		{Scope: "zone", StoreID: st.ID, ZoneID: z.ID, PlaylistID: day, Priority: 1, Start: "14:00", End: "15:00"},
		{Scope: "zone", StoreID: other.ID, ZoneID: oz.ID, PlaylistID: north, Priority: 5, Start: "00:00", End: "00:00"},
	} {
		if _, err := e.admin.CreateSchedule(c, in); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t, e.url)
	b.login(e.token)
	const from, hours = "2026-12-01T06:00", 12
	status, page := b.get("/panel/preview?" + url.Values{"zone": {z.ID}, "from": {from}, "hours": {strconv.Itoa(hours)}}.Encode())
	if status != http.StatusOK {
		t.Fatalf("preview: %d\n%s", status, page)
	}
	got := previewRows(page)
	want := wholeLibraryRows(t, e, st, z.ID, from, hours)
	for _, lvl := range []string{"scheduled", "spot", "emergency"} {
		if !slices.ContainsFunc(want, func(r string) bool { return regexp.MustCompile(`^` + lvl + `\|`).MatchString(r) }) {
			t.Errorf("the plan over the whole library has no %s play: the case does not test what it should", lvl)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("preview differs from the plan over the whole library:\n got %q\nwant %q", got, want)
	}
}

// seedLibrary writes n assets straight into the catalog and returns their ids in id order: every 7th is a spot,
// every 97th is emergency-eligible, every 11th is not ready (no rendition yet).
func seedLibrary(t *testing.T, e *env, n int) []string {
	t.Helper()
	tenant, err := e.admin.Tenant(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var ids []string
	for lo := 0; lo < n; lo += 500 {
		if err := e.cat.Update(testCtx(t), tenant.ID, func(tx catalog.Tx) error {
			return putLibrary(tx, tenant.ID, lo, min(lo+500, n), n, now, &ids)
		}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	return ids
}

// putLibrary writes the assets [lo, hi) of seedLibrary's library of n.
func putLibrary(tx catalog.Tx, tenant string, lo, hi, n int, now time.Time, ids *[]string) error {
	for i := lo; i < hi; i++ {
		sha := fmt.Sprintf("%064x", i+1)
		a := catalog.Asset{ID: uuid.NewString(), TenantID: tenant, Kind: catalog.KindMusic,
			Title: fmt.Sprintf("Track %05d", i), Artist: fmt.Sprintf("Artist %02d", i%9), SHA256: sha,
			Size: 1 << 20, DurationMS: int64(120_000 + i%7*15_000), Codec: "vorbis", State: catalog.AssetReady,
			MasterKey: "sha256/" + sha, RenditionSHA256: fmt.Sprintf("%064x", n+i+1), RenditionSize: 1 << 19,
			EmergencyEligible: i%97 == 0, CreatedAt: now, UpdatedAt: now}
		if i%7 == 0 {
			a.Kind, a.DurationMS = catalog.KindSpot, 20_000
		}
		if i%11 == 0 {
			a.State, a.RenditionSHA256, a.RenditionSize = catalog.AssetPending, "", 0
		}
		*ids = append(*ids, a.ID)
		if err := tx.PutAsset(a); err != nil {
			return err
		}
	}
	return nil
}

// wholeLibraryRows runs the selection as the preview did before it read only what the zone reaches: every asset of
// the tenant, in origin's order, with the preview's settings, and returns the page's rows (see previewRows).
func wholeLibraryRows(t *testing.T, e *env, st api.Store, zoneID, from string, hours int) []string {
	t.Helper()
	c := testCtx(t)
	cfg := schedule.DefaultConfig()
	cfg.Store = schedule.StoreSettings{StoreID: st.ID, TimeZone: st.TimeZone}
	cfg.Zone, cfg.Rand, cfg.MaxPlanEntries = zoneID, rand.NewPCG(1, 2), 5000
	sel, err := schedule.NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for cursor := ""; ; {
		pg, err := e.admin.ListAssets(c, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range pg.Items {
			a, err := wire.Asset(w)
			if err != nil || sel.UpsertAsset(a) != nil {
				continue
			}
			titles[w.ID] = w.Title
			if w.Status == "ready" && w.SHA256 != "" {
				sel.SetPresent(w.SHA256, true)
			}
		}
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	var pls api.Page[api.Playlist]
	var scs api.Page[api.Schedule]
	if err := e.admin.Do(c, http.MethodGet, "/v1/playlists", nil, &pls); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(c, http.MethodGet, "/v1/schedules", nil, &scs); err != nil {
		t.Fatal(err)
	}
	for _, pl := range pls.Items {
		_ = sel.UpsertPlaylist(wire.Playlist(pl))
	}
	for _, s := range scs.Items {
		if sc, err := wire.Schedule(s); err == nil {
			_ = sel.UpsertSchedule(sc)
		}
	}
	start, err := time.ParseInLocation("2006-01-02T15:04", from, sel.Location())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sel.Plan(start, start.Add(time.Duration(hours)*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	var last string
	count := 0
	flush := func() {
		if count > 0 {
			rows = append(rows, last+"|"+strconv.Itoa(count))
		}
	}
	for _, p := range plan {
		title := titles[p.Choice.Asset.ID]
		if p.Choice.Asset.ID == "" {
			title = "—"
		}
		key := p.Choice.Level.String() + "|" + title + "|" + p.Choice.Reason.String()
		if key == last {
			count++
			continue
		}
		flush()
		last, count = key, 1
	}
	flush()
	// The page shows the reason translated; compare level, title and count.
	for i, r := range rows {
		rows[i] = regexp.MustCompile(`\|[^|]*\|(\d+)$`).ReplaceAllString(r, "|$1")
	}
	return rows
}

var previewRow = regexp.MustCompile(`<tr class="lvl-([a-z]+)"><td>[^<]*</td><td>[^<]*</td><td>([^<]*?)(?: <small>\(× (\d+)\)</small>)?</td>`)

// previewRows reads the plan table of a preview page as "level|title|count" rows.
func previewRows(page string) []string {
	var out []string
	for _, m := range previewRow.FindAllStringSubmatch(page, -1) {
		n := m[3]
		if n == "" {
			n = "1"
		}
		out = append(out, m[1]+"|"+m[2]+"|"+n)
	}
	return out
}
