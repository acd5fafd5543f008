package panel_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// artifacts is where screenshots go: $LOMUZ_ARTIFACTS/<test> when set (CI keeps it), else the test's temp dir.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if a := os.Getenv("LOMUZ_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newChromium starts Debian's headless Chromium with a fresh profile; chromedp talks to it over a pipe, so it
// opens no port.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Tool(t, "chromium")
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser on this context now: steps run on contexts derived from it with their own deadlines,
	// and the browser must not be bound to (and closed with) the first of them.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestBrowserFlow drives the panel in a real browser: sign in with the keyboard, upload a track (progress bar)
// and see it transcoded by ffmpeg, build a playlist, schedule it, preview the zone, then see a device enrolled
// and synced through origin's device API come online and its now-playing change. Screenshots of each screen
// are saved as artifacts.
func TestBrowserFlow(t *testing.T) {
	e := newEnv(t, envOpts{transcode: true})
	ctx := newChromium(t)
	shots := artifacts(t)
	track := makeTrack(t, t.TempDir(), "garota.wav", 440)
	base := e.url + "/panel"

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			shot("failed-" + strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// waitFor polls page `path` with fetch until its HTML contains want (the browser's own session is used).
	waitFor := func(what, path, want string, timeout time.Duration) {
		t.Helper()
		js := `fetch(` + jsString(base+path) + `).then(r => r.text()).then(t => t.includes(` + jsString(want) + `))`
		do(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(200*time.Millisecond),
			chromedp.WithPollingTimeout(timeout)))
	}

	// flash waits until the page shows the confirmation `want`. A submit leaves the old page up for a moment, so
	// waiting for any confirmation would race the navigation, and a poll running while the page is replaced
	// loses its JavaScript context: it is started again, within the step's deadline.
	flash := func(want string) chromedp.Action[chromedp.Void] {
		js := `(document.querySelector(".flash") || {textContent: ""}).textContent.includes(` + jsString(want) + `)`
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				_, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond),
					chromedp.WithPollingTimeout(5*time.Second))(ctx, tg)
				if err == nil || ctx.Err() != nil {
					return chromedp.Void{}, err
				}
			}
		}
	}

	// Sign in with the keyboard: type the token, press Enter.
	do("sign in", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), e.token+"\r"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	if s := text("#devices"); !strings.Contains(s, "Nothing here yet") {
		t.Fatalf("fleet before any device: %q", s)
	}
	shot("01-fleet-empty")

	// Keyboard: the first Tab reaches the skip link, Enter on it moves focus to the content.
	do("keyboard skip link", chromedp.KeyEvent("\t"))
	if cls, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); cls != "skip" {
		t.Errorf("first Tab focused %q, want the skip link", cls)
	}
	do("keyboard enter", chromedp.KeyEvent("\r"))
	if id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != "main" {
		t.Errorf("the skip link moved focus to %q, want main", id)
	}

	// Set up a store and its zone from the fleet screen.
	do("new store", chromedp.SendKeys(chromedp.CSS("#store_name"), "Loja Ipanema"),
		chromedp.Click(chromedp.CSS("#store-form button[type=submit]")), flash("Store created."),
		chromedp.SendKeys(chromedp.CSS("#zone_name"), "Salão"),
		chromedp.Click(chromedp.CSS("#zone-form button[type=submit]")), flash("Zone created."))
	stores, err := e.admin.ListStores(testCtx(t))
	if err != nil || len(stores) != 1 || len(stores[0].Zones) != 1 || stores[0].Zones[0].Name != "Salão" {
		t.Fatalf("store and zone made in the panel: %v %+v", err, stores)
	}
	st, zone := stores[0], stores[0].Zones[0]

	// Upload: fill the form, choose the file, send it with the script (progress bar), land on the library.
	do("open library", chromedp.Navigate(base+"/library"), chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	do("watch progress", chromedp.Evaluate[chromedp.Void](`new MutationObserver(() =>
		sessionStorage.setItem("pct", document.getElementById("upload-pct").textContent))
		.observe(document.getElementById("upload-pct"), {childList: true, characterData: true, subtree: true})`))
	do("upload", chromedp.SendKeys(chromedp.CSS("#title"), "Garota de Ipanema"),
		chromedp.SendKeys(chromedp.CSS("#artist"), "Tom Jobim"),
		chromedp.SendKeys(chromedp.CSS("#isrc"), "BRABC2600001"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{track}),
		chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		flash("Uploaded."))
	pct, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("pct") || ""`))
	if err != nil || pct != "100%" {
		t.Errorf("upload progress ended at %q (%v), want 100%%", pct, err)
	}
	shot("02-library-uploaded")
	waitFor("transcoded", "/library", `badge ready`, 2*time.Minute)
	do("reload library", chromedp.Navigate(base+"/library"), chromedp.WaitVisible(chromedp.CSS("#assets")))
	row := text("#assets tbody tr")
	for _, want := range []string{"Garota de Ipanema", "Tom Jobim", "ready", "vorbis", "LUFS", "BRABC2600001"} {
		if !strings.Contains(row, want) {
			t.Errorf("library row %q lacks %q", row, want)
		}
	}
	assetID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("tr[data-asset]").dataset.asset`))
	if err != nil {
		t.Fatal(err)
	}
	shot("03-library-transcoded")

	// Playlist.
	do("playlist", chromedp.Navigate(base+"/playlists"), chromedp.WaitVisible(chromedp.CSS("#playlist-form")),
		chromedp.SendKeys(chromedp.CSS("#pl-name"), "Manhã"),
		chromedp.Click(chromedp.CSS(`input[name=asset]`)),
		chromedp.Click(chromedp.CSS("#playlist-form button[type=submit]")),
		flash("Playlist saved."))
	if s := text("#playlists"); !strings.Contains(s, "Manhã") || !strings.Contains(s, "Garota de Ipanema") {
		t.Fatalf("playlists: %q", s)
	}
	shot("04-playlists")

	// Schedule it all day, every day, for the store; first a mistake, which keeps what was typed.
	do("schedule error", chromedp.Navigate(base+"/schedules"), chromedp.WaitVisible(chromedp.CSS("#schedule-form")),
		chromedp.SetValue(chromedp.CSS("#scope"), "store:"+st.ID),
		chromedp.SetValue(chromedp.CSS("#priority"), "ten"),
		chromedp.Click(chromedp.CSS("#schedule-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#priority"))); v != "ten" {
		t.Errorf("the typed priority was lost: %q", v)
	}
	shot("05-schedule-error")
	do("schedule", chromedp.SetValue(chromedp.CSS("#priority"), "10"),
		chromedp.Click(chromedp.CSS("#schedule-form button[type=submit]")),
		flash("Schedule saved."))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.week td.on").length`)); n != 7*24 {
		t.Errorf("week grid of an all-day schedule has %d cells on, want 168", n)
	}
	shot("06-schedules")

	// What will the zone play: the players' selection code on the catalog.
	do("preview", chromedp.Navigate(base+"/preview"), chromedp.WaitVisible(chromedp.CSS("#preview-form")),
		chromedp.SetValue(chromedp.CSS("#zone"), zone.ID),
		chromedp.Click(chromedp.CSS("#preview-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#plan")))
	if s := text("#plan tbody tr"); !strings.Contains(s, "Garota de Ipanema") || !strings.Contains(s, "scheduled") {
		t.Errorf("preview's first play: %q", s)
	}
	shot("07-preview")

	// Issue an enrollment token in the panel; a device enrolls with it (never synced), syncs (online, nothing
	// playing yet), then reports a play.
	do("enrollment token", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible(chromedp.CSS("#enroll-form")),
		chromedp.Click(chromedp.CSS("#enroll-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#enroll-token")))
	shot("08-enrollment-token")
	d := e.enrollWith(text("#enroll-token"), zone.ID)
	do("fleet enrolled", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	if s := text("#devices tbody"); !strings.Contains(s, "never synced") {
		t.Errorf("enrolled device: %q", s)
	}
	d.sync(t, "", time.Time{})
	do("fleet online", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	before := text("#devices tbody .playing")
	if s := text("#devices tbody"); !strings.Contains(s, "online") || !strings.Contains(s, "1.4.2") || before != "—" {
		t.Errorf("synced device: %q, playing %q", s, before)
	}
	shot("09-fleet-online")
	d.sync(t, assetID, time.Now().Add(-10*time.Second))
	do("fleet playing", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	if s := text("#devices tbody .playing"); !strings.Contains(s, "Garota de Ipanema — Tom Jobim") {
		t.Errorf("now playing after the play was reported: %q", s)
	}
	shot("10-fleet-playing")

	// Proof of play, and the same in Portuguese through the switch.
	do("plays", chromedp.Navigate(base+"/plays"), chromedp.WaitVisible(chromedp.CSS("#plays")))
	if s := text("#plays tbody"); !strings.Contains(s, "BRABC2600001") {
		t.Errorf("proof of play: %q", s)
	}
	shot("11-plays")
	do("português", chromedp.Click(chromedp.CSS(`a[lang="pt-BR"]`)), chromedp.WaitVisible(chromedp.CSS("#plays")))
	if s := text("h1"); s != "Comprovação de execução" {
		t.Errorf("title after switching to Portuguese: %q", s)
	}
	do("frota", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	shot("12-frota-pt-BR")

	// The store's manager (still in Portuguese) mutes their zone for an event, with the keyboard; another store,
	// muted down by the director, is neither shown nor touchable.
	c := testCtx(t)
	other, err := e.admin.CreateStore(c, api.StoreInput{Name: "Loja Leblon", TimeZone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	otherZone, err := e.admin.CreateZone(c, other.ID, api.ZoneInput{Name: "Caixa"})
	if err != nil {
		t.Fatal(err)
	}
	vol := 80
	if _, err := e.admin.SetZoneOverride(c, otherZone.ID, api.ZoneOverrideInput{VolumePct: &vol}); err != nil {
		t.Fatal(err)
	}
	do("sign out", chromedp.Click(chromedp.CSS(`form[action$="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), e.managerToken(st.ID)+"\r"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	do("zones", chromedp.Navigate(base+"/zones"), chromedp.WaitVisible(chromedp.CSS("form.override")))
	if s := text("main"); !strings.Contains(s, "Loja Ipanema") || strings.Contains(s, "Loja Leblon") {
		t.Fatalf("manager's zones page must show only Loja Ipanema: %q", s)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form.override").length`)); n != 1 {
		t.Fatalf("manager sees %d zone forms, want 1", n)
	}
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	now := time.Now().In(sp)
	from, until := now.Add(-time.Minute).Format("2006-01-02T15:04"), now.Add(90*time.Minute).Format("2006-01-02T15:04")
	vol0, from0, until0 := "#vol-"+zone.ID, "#from-"+zone.ID, "#until-"+zone.ID
	// First the ends swapped: explained in Portuguese, what was typed is kept.
	do("mute error", chromedp.SetValue(chromedp.CSS(vol0), "30"), chromedp.SetValue(chromedp.CSS(from0), until),
		chromedp.SetValue(chromedp.CSS(until0), from), chromedp.Focus(chromedp.CSS(vol0)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#form-error")))
	if s := text("#form-error"); !strings.Contains(s, "O mudo deve terminar depois de começar") {
		t.Errorf("mute error: %q", s)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(from0))); v != until {
		t.Errorf("the typed mute start was lost: %q, want %q", v, until)
	}
	shot("13-zones-error")
	do("mute", chromedp.SetValue(chromedp.CSS(from0), from), chromedp.SetValue(chromedp.CSS(until0), until),
		chromedp.Focus(chromedp.CSS(vol0)), chromedp.KeyEvent("\r"), flash("Ajuste da zona salvo."))
	if s := text("#st-" + zone.ID); !strings.Contains(s, "Muda agora") || !strings.Contains(s, "Volume 30%") {
		t.Errorf("zone state after the mute: %q", s)
	}
	got, err := e.admin.ZoneOverride(c, zone.ID)
	if err != nil || got.VolumePct != 30 || got.MuteUntil == nil || got.MuteUntil.In(sp).Format("2006-01-02T15:04") != until {
		t.Fatalf("origin holds %+v, %v", got, err)
	}
	shot("14-zones-muted")
	// A form forged in the page for the other store's zone is refused by origin, and nothing changes there.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+jsString(base+"/zones/"+otherZone.ID)+`, {method: "POST",
		body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value, action: "set", volume: "0"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("manager's POST to another store's zone: %d, %v; want 403", status, err)
	}
	if o, err := e.admin.ZoneOverride(c, otherZone.ID); err != nil || o.VolumePct != 80 {
		t.Errorf("the other store's override changed: %+v, %v", o, err)
	}
	t.Logf("screenshots in %s", shots)
}

// stepTimeout bounds one step of the browser flow (the transcode wait has its own, longer, polling timeout).
const stepTimeout = 150 * time.Second

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "<", `\u003c`)
	return `"` + r.Replace(s) + `"`
}
