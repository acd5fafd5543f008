package panel_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Scale of the benchmark tenant: the panel's usability target.
const (
	benchAssets  = 50_000
	benchDevices = 1_000
	benchStores  = 100 // 10 devices each, one zone
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seedAssets writes benchAssets ready assets straight into the catalog (1,000 per transaction; transcoding 50,000
// files is not what is measured) and returns the first one's id.
func seedAssets(b *testing.B, e *env) (first string) {
	ctx := context.Background()
	tenant, err := e.admin.Tenant(ctx)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := 0; i < benchAssets; i += 1000 {
		err := e.cat.Update(ctx, tenant.ID, func(tx catalog.Tx) error {
			for j := i; j < min(i+1000, benchAssets); j++ {
				sha := randomHex(32)
				a := catalog.Asset{ID: uuid.NewString(), TenantID: tenant.ID, Kind: catalog.AssetKind("music"),
					Title: fmt.Sprintf("Track %05d", j), Artist: fmt.Sprintf("Artist %03d", j%500),
					ISRC: fmt.Sprintf("BRABC26%05d", j), SHA256: sha, Size: 3 << 20, DurationMS: 180_000,
					Codec: "vorbis", LoudnessLUFS: -14, State: catalog.AssetReady, MasterKey: "sha256/" + sha,
					RenditionSHA256: randomHex(32), RenditionSize: 1 << 20, CreatedAt: now, UpdatedAt: now}
				if first == "" {
					first = a.ID
				}
				if err := tx.PutAsset(a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return first
}

// seedScale seeds benchAssets assets (seedAssets), then creates stores and enrolls benchDevices devices through
// the API, each syncing once with one play, and returns a zone id.
func seedScale(b *testing.B, e *env) (zoneID string) {
	ctx := context.Background()
	first, now := seedAssets(b, e), time.Now().UTC()
	pl, err := e.admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "Day", AssetIDs: []string{first}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.admin.CreateSchedule(ctx, api.ScheduleInput{Scope: "tenant", PlaylistID: pl.ID, Start: "00:00", End: "00:00"}); err != nil {
		b.Fatal(err)
	}
	for s := 0; s < benchStores; s++ {
		st, z := e.shop(fmt.Sprintf("Loja %03d", s), "Salão")
		zoneID = z.ID
		for d := 0; d < benchDevices/benchStores; d++ {
			dev := e.enroll(st.ID, z.ID)
			dev.sync(b, first, now.Add(-time.Minute))
		}
	}
	return zoneID
}

// BenchmarkPanel measures the panel's pages over a tenant of 50,000 assets and 1,000 devices, each next to the
// raw API call that lists one page of 50 assets (the baseline, same server, same run).
func BenchmarkPanel(b *testing.B) {
	e := newEnv(b, envOpts{})
	start := time.Now()
	zone := seedScale(b, e)
	b.Logf("seeded %d assets and %d devices in %s", benchAssets, benchDevices, time.Since(start).Round(time.Millisecond))
	br := newBrowser(b, e.url)
	if st, _ := br.login(e.token); st != http.StatusOK {
		b.Fatalf("login: %d", st)
	}
	benchBaseline(b, e)
	pages := append(libraryPages[:len(libraryPages):len(libraryPages)], []benchPage{
		{"FleetPage", "/panel/fleet", "1000 devices, 1000 online"},
		{"FleetSearch", "/panel/fleet?q=" + url.QueryEscape("Loja 042"), "10 devices"},
		{"Alerts", "/panel/alerts", "Alerts"},
		{"Preview3h", "/panel/preview?" + url.Values{"zone": {zone}, "hours": {"3"}}.Encode(), `class="lvl-scheduled"`},
	}...)
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				br.mustGet(b, p.path, p.want)
			}
		})
	}
}

// benchBaseline measures the raw admin API call listing one page of 50 assets, the figure pages are compared to.
func benchBaseline(b *testing.B, e *env) {
	b.Run("Baseline_APIAssetsPage", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.admin.ListAssets(context.Background(), "", 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchPage is a panel page measured, with a text it must contain.
type benchPage struct{ name, path, want string }

// libraryPages are the library's pages measured on both catalogs.
var libraryPages = []benchPage{
	{"LibraryPage", "/panel/library", "Track "},
	{"LibrarySearchHit", "/panel/library?q=" + url.QueryEscape("track 49999"), "Track 49999"},
	{"LibrarySearchMiss", "/panel/library?q=nothing-matches", "Nothing here yet"},
}

// mustGet fetches a page with the browser's session and fails unless it is 200 and contains want.
func (br *browser) mustGet(b *testing.B, path string, want string) {
	res, err := br.c.Get(br.base + path)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		b.Fatalf("GET %s: %d, no %q", path, res.StatusCode, want)
	}
}

// BenchmarkLibrarySearchPostgres measures the library search on PostgreSQL's catalog (trigram index), over the
// same 50,000 assets, next to the same baseline.
func BenchmarkLibrarySearchPostgres(b *testing.B) {
	e := newEnv(b, envOpts{postgres: true})
	seedAssets(b, e)
	br := newBrowser(b, e.url)
	if st, _ := br.login(e.token); st != http.StatusOK {
		b.Fatalf("login: %d", st)
	}
	benchBaseline(b, e)
	b.Run("APISearch", func(b *testing.B) {
		for b.Loop() {
			if p, err := e.admin.SearchAssets(context.Background(), "track 49999", "", 50); err != nil || len(p.Items) != 1 {
				b.Fatalf("search: %d, %v", len(p.Items), err)
			}
		}
	})
	for _, p := range libraryPages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				br.mustGet(b, p.path, p.want)
			}
		})
	}
}
