package node

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

// originProc is a real `lomuz origin` process on the embedded defaults, serving 127.0.0.1.
type originProc struct {
	URL, Token string
	Admin      *api.Client
}

// startOrigin runs origin with extra flags (e.g. --transcode=false).
func startOrigin(t *testing.T, extra ...string) originProc {
	t.Helper()
	bin := testenv.Lomuz(t)
	data := t.TempDir()
	out, err := exec.Command(bin, "origin", "bootstrap", "--data", data, "--tenant", "Test chain").CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`token\s+(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no token:\n%s", out)
	}
	port := testenv.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, append([]string{"origin", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, extra...)...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "origin.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("origin log:\n%s", tail(string(b), 4000))
		}
	})
	waitFor(t, 20*time.Second, "origin to listen", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: []string{url}, Credential: string(m[1])})
	if err != nil {
		t.Fatal(err)
	}
	return originProc{URL: url, Token: string(m[1]), Admin: admin}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	testenv.WaitFor(t, d, what, ok)
}

// makeTrack renders a tone of the given length and loudness with ffmpeg, in the container the extension names.
func makeTrack(t *testing.T, dir, name string, freq int, seconds float64, volumeDB float64) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	p := filepath.Join(dir, name)
	src := fmt.Sprintf("sine=frequency=%d:duration=%g:sample_rate=44100", freq, seconds)
	cmd := exec.Command(ff, "-nostdin", "-v", "error", "-f", "lavfi", "-i", src,
		"-af", fmt.Sprintf("volume=%gdB,aformat=channel_layouts=stereo", volumeDB), "-y", p)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
	}
	return p
}

func uploadAsset(t *testing.T, ctx context.Context, admin *api.Client, path, title, artist string) api.Asset {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	if _, err := admin.Upload(ctx, sum, int64(len(b)), strings.NewReader(string(b))); err != nil {
		t.Fatalf("upload %s: %v", title, err)
	}
	a, err := admin.CreateAsset(ctx, api.AssetInput{MasterSHA256: sum, Kind: api.KindMusic, Title: title, Artist: artist})
	if err != nil {
		t.Fatalf("create asset %s: %v", title, err)
	}
	return a
}

// measureLoudness returns ffmpeg ebur128's integrated loudness of a file, in LUFS.
func measureLoudness(t *testing.T, path string) float64 {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out, err := exec.Command(ff, "-nostdin", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ebur128: %v\n%s", err, out)
	}
	var lufs float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	inSummary := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "Integrated loudness:") {
			inSummary = true
		}
		if inSummary && strings.HasPrefix(line, "I:") {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				lufs, found = v, true
			}
		}
	}
	if !found {
		t.Fatalf("no integrated loudness in ebur128 output:\n%s", out)
	}
	return lufs
}

// storeSeed is one store with a zone, a playlist of uploaded tracks scheduled all day, and an enrollment token.
type storeSeed struct {
	Store api.Store
	Zone  api.ZoneInfo
	IDs   []string
	Token string
}

// seedStore creates a store and zone, uploads the files as music (one artist each), waits until origin has made
// them ready (transcoded), schedules them all day for the store and issues an enrollment token for the zone.
func (o originProc) seedStore(t *testing.T, ctx context.Context, in api.StoreInput, files []string) storeSeed {
	t.Helper()
	var sd storeSeed
	var err error
	if sd.Store, err = o.Admin.CreateStore(ctx, in); err != nil {
		t.Fatal(err)
	}
	if sd.Zone, err = o.Admin.CreateZone(ctx, sd.Store.ID, api.ZoneInput{Name: "Salão"}); err != nil {
		t.Fatal(err)
	}
	for i, p := range files {
		sd.IDs = append(sd.IDs, uploadAsset(t, ctx, o.Admin, p, filepath.Base(p), fmt.Sprintf("artist %d", i)).ID)
	}
	waitFor(t, 2*time.Minute, "assets to be ready", func() bool {
		page, err := o.Admin.ListAssets(ctx, "", 1000)
		if err != nil {
			return false
		}
		ready := 0
		for _, a := range page.Items {
			if a.Status == api.AssetFailed {
				t.Fatalf("asset %s failed to ingest: %s", a.Title, a.Error)
			}
			if a.Status == api.AssetReady {
				ready++
			}
		}
		return ready == len(files)
	})
	pl, err := o.Admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "Dia", AssetIDs: sd.IDs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Admin.CreateSchedule(ctx, api.ScheduleInput{Scope: api.ScopeStore, StoreID: sd.Store.ID,
		PlaylistID: pl.ID, Start: "00:00", End: "00:00"}); err != nil {
		t.Fatal(err)
	}
	tok, err := o.Admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: sd.Store.ID, ZoneID: sd.Zone.ID})
	if err != nil {
		t.Fatal(err)
	}
	sd.Token = tok.Token
	return sd
}

// runDevice starts RunDevice(cfg) and returns its Runner once the node runs, and a stop function that ends it and
// returns RunDevice's error.
func runDevice(t *testing.T, ctx context.Context, cfg DeviceConfig) (*Runner, func() error) {
	t.Helper()
	runners := make(chan *Runner, 1)
	cfg.OnReady = func(r *Runner) { runners <- r }
	nctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunDevice(nctx, cfg) }()
	stop := func() error { cancel(); return <-done }
	select {
	case r := <-runners:
		return r, stop
	case err := <-done:
		cancel()
		t.Fatalf("node stopped before running: %v", err)
	}
	return nil, nil
}

// TestNodeEndToEnd enrolls a node with a real origin, syncs, downloads ffmpeg-made tracks (transcoded by origin),
// plays them into a WAV file, and checks the WAV: long enough, not silent, at the loudness target. Then a store
// manager mutes the zone through origin's API: the node learns it at its next sync and reports the mute, not dead
// air.
func TestNodeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := startOrigin(t)
	dir := t.TempDir()
	// Three tracks at levels 13 dB apart (ffmpeg's sine is -18 dBFS peak, about -21.7 LUFS before the volume
	// filter): normalisation must bring them all to the target, within the engine's +12 dB gain limit.
	var files []string
	for i, spec := range []struct {
		name string
		db   float64
	}{{"quiet.flac", -4}, {"loud.wav", 9}, {"mid.mp3", 2}} {
		files = append(files, makeTrack(t, dir, spec.name, 330+110*i, 6, spec.db))
	}
	sd := o.seedStore(t, ctx, api.StoreInput{Name: "Loja Centro", TimeZone: "America/Sao_Paulo", CrossfadeMS: 1000}, files)
	st, tok := sd.Store, sd.Token

	wav := filepath.Join(dir, "out.wav")
	cfg := DefaultDeviceConfig()
	cfg.DataDir, cfg.Origins, cfg.Token = filepath.Join(dir, "node"), []string{o.URL}, tok
	cfg.Output, cfg.StatusListen = "wav:"+wav, "127.0.0.1:0"
	cfg.Core.Settle = time.Millisecond
	// Frequent syncs, so the override below arrives within the test.
	cfg.Core.SyncInterval, cfg.Core.SyncJitter = 2*time.Second, 0
	r, stop := runDevice(t, ctx, cfg)
	// Wait for each scheduled track to have started at least once.
	waitFor(t, 90*time.Second, "three scheduled plays", func() bool {
		return r.Counters().Plays[schedule.LevelScheduled] >= 3
	})
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	status, err := r.Status(sctx)
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	if status.Cache.Present != 3 || status.LastSyncAt.IsZero() {
		t.Fatalf("status after playing: %+v", status)
	}
	// The store's manager mutes the zone for an hour, from a minute ago.
	var mgr api.AdminToken
	if err := o.Admin.Do(ctx, http.MethodPost, "/v1/admin-tokens",
		api.AdminTokenInput{Name: "gerente", Role: "manager", StoreID: st.ID}, &mgr); err != nil {
		t.Fatal(err)
	}
	manager, err := api.NewClient(api.ClientConfig{BaseURLs: []string{o.URL}, Credential: mgr.Token})
	if err != nil {
		t.Fatal(err)
	}
	vol, from, until := 100, time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	if _, err := manager.SetZoneOverride(ctx, sd.Zone.ID, api.ZoneOverrideInput{VolumePct: &vol, MuteFrom: &from,
		MuteUntil: &until}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the node to apply the mute", func() bool {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		status, err = r.Status(sctx)
		return err == nil && status.Override.MutedByOverride && status.NowPlaying == nil
	})
	if status.Override.Writer != "origin" || !status.Override.MuteUntil.Equal(until.UTC().Truncate(time.Millisecond)) ||
		status.NowPlaying != nil || status.Counters.DeadAir != 0 {
		t.Fatalf("status while muted: override %+v, now playing %+v, dead air %d", status.Override, status.NowPlaying,
			status.Counters.DeadAir)
	}
	if err := stop(); err != nil {
		t.Fatalf("node: %v", err)
	}

	fi, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	// 44.1 kHz, 16-bit stereo: at least the three 6 s tracks minus two 1 s crossfades.
	if secs := float64(fi.Size()-44) / (44100 * 4); secs < 16 {
		t.Fatalf("WAV holds %.1f s, want at least 16 s", secs)
	}
	got := measureLoudness(t, wav)
	target := -14.0 // the store's default target
	if got < target-1 || got > target+1 {
		t.Fatalf("output integrated loudness %.2f LUFS, want %.0f +- 1 LU", got, target)
	}
	// The device's self-report reached origin's fleet view with its sync.
	devs, err := o.Admin.ListDevices(ctx, st.ID)
	if err != nil || len(devs) != 1 || devs[0].Status == nil || devs[0].Status.FreeDiskBytes <= 0 ||
		devs[0].Status.CoveredUntil == nil {
		t.Fatalf("device status at origin: %+v, %v", devs, err)
	}
}
