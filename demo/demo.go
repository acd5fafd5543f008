package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lomuz/lomuz/node"
	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
)

// Ingest builds the ingest step for the demo's origin (the transcoding pipeline when ffmpeg is installed); it
// returns the ingester, a service to run beside origin, and a release function. Nil ingests uploads as they are.
type Ingest func(ctx context.Context, d *origin.Deployment, dc origin.DeployConfig) (origin.Ingester,
	func(context.Context) error, func(), error)

// Config configures a demo run.
type Config struct {
	// DataDir holds everything the demo writes; a fresh temporary directory when empty.
	DataDir string
	// Listen is origin's address (loopback).
	Listen string
	// Zones is the number of sound zones (nodes) in the demo store.
	Zones int
	// Output is "null" (real-time, silent), "wav" (one WAV file per zone in DataDir) or "speaker" (zone 1 on the
	// sound card, the others silent; needs a binary built with -tags speaker).
	Output string
	// Ingest, when set, makes origin transcode uploads.
	Ingest Ingest
	// Out receives the banner and the live line; Logger the components' logs.
	Out    io.Writer
	Logger *slog.Logger
	// Ready, when set, receives the runners of the zones once they all run (tests).
	Ready func(origin string, zones []*node.Runner)
}

// DefaultConfig is three zones playing silently in real time, origin on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", Zones: 3, Output: "null", Out: os.Stdout}
}

// Run starts everything and blocks until ctx is done, then stops it all.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Zones < 1 || cfg.Zones > 16 {
		return fmt.Errorf("demo: zones %d outside 1..16", cfg.Zones)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "lomuz-demo-")
		if err != nil {
			return err
		}
		cfg.DataDir = dir
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Zones+4)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	defer wg.Wait()

	// Origin on the embedded defaults.
	dc := origin.DeployConfig{DataDir: filepath.Join(cfg.DataDir, "origin")}
	d, err := origin.Open(ctx, dc)
	if err != nil {
		return err
	}
	defer d.Close()
	var opts []origin.Option
	if cfg.Ingest != nil {
		in, serve, release, err := cfg.Ingest(ctx, d, dc)
		switch {
		case err == nil:
			defer release()
			opts = append(opts, origin.WithIngester(in))
			run("transcoding", serve)
		default:
			log.Warn("demo: uploads are served as they are, not transcoded", "err", err)
		}
	}
	ocfg := origin.DefaultConfig()
	ocfg.Listen = cfg.Listen
	srv, err := origin.New(ocfg, d.Catalog, d.Blobs, d.Key, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("demo: origin cannot listen on %s (another origin running? pass --listen): %w", cfg.Listen, err)
	}
	base := "http://" + ln.Addr().String()
	run("origin", func(ctx context.Context) error { return srv.ServeListener(ctx, ln) })

	tenant, token, err := origin.Bootstrap(ctx, d.Catalog, "Lomuz Demo", "demo")
	if err != nil {
		return err
	}
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: []string{base}, Credential: token})
	if err != nil {
		return err
	}
	store, tokens, err := seed(ctx, admin, cfg)
	if err != nil {
		return fmt.Errorf("demo: creating demo content: %w", err)
	}
	if err := waitReady(ctx, admin, cfg.Out); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "Lomuz demo\n  origin   %s  (tenant %s)\n  admin    LOMUZ_URL=%s LOMUZ_TOKEN=%s lomuz admin devices\n  store    %s, %d zones, data in %s\n\n",
		base, tenant, base, token, store.Name, cfg.Zones, cfg.DataDir)

	// The store: one node per zone on an in-memory LAN.
	lan := node.NewMemLAN(uint64(time.Now().UnixNano()))
	run("lan", lan.Serve)
	runners := make([]*node.Runner, cfg.Zones)
	ready := make(chan struct{}, cfg.Zones)
	for i := range cfg.Zones {
		dcfg := node.DefaultDeviceConfig()
		dcfg.DataDir = filepath.Join(cfg.DataDir, fmt.Sprintf("zone-%d", i+1))
		dcfg.Origins, dcfg.Token, dcfg.Name = []string{base}, tokens[i], fmt.Sprintf("demo zone %d", i+1)
		dcfg.StatusListen, dcfg.Logger = "127.0.0.1:0", log.With("zone", i+1)
		dcfg.Core.AppVersion = "demo"
		// Syncs every 30 s instead of 10 min, so that changes made in the panel show within the demo.
		dcfg.Core.SyncInterval, dcfg.Core.SyncJitter = 30*time.Second, 5*time.Second
		switch {
		case cfg.Output == "wav":
			dcfg.Output = "wav:" + filepath.Join(cfg.DataDir, fmt.Sprintf("zone-%d.wav", i+1))
		case cfg.Output == "speaker" && i == 0:
			dcfg.Output = "speaker"
		default:
			dcfg.Output = "null"
		}
		dcfg.Mesh = func(en node.Enrollment, env node.MeshEnv) (node.Mesh, error) {
			return lan.Join(en.DeviceID, env.Blobs), nil
		}
		dcfg.OnReady = func(r *node.Runner) { runners[i] = r; ready <- struct{}{} }
		run(fmt.Sprintf("zone %d", i+1), func(ctx context.Context) error { return node.RunDevice(ctx, dcfg) })
	}
	for range cfg.Zones {
		select {
		case <-ready:
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(base, runners)
	}
	live(ctx, cfg.Out, runners)
	cancel()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// waitReady waits for origin to finish ingesting (transcoding) every uploaded asset, so the zones find the whole
// catalog at their first sync.
func waitReady(ctx context.Context, admin *api.Client, out io.Writer) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		page, err := admin.ListAssets(ctx, "", 1000)
		if err != nil {
			return err
		}
		pending := 0
		for _, a := range page.Items {
			switch a.Status {
			case api.AssetReady:
			case api.AssetFailed:
				return fmt.Errorf("demo: asset %q failed to ingest: %s", a.Title, a.Error)
			default:
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d assets still ingesting after 3 minutes", pending)
		}
		fmt.Fprintf(out, "transcoding demo content: %d of %d to go\n", pending, len(page.Items))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// live prints what each zone plays, once a second, until ctx is done.
func live(ctx context.Context, out io.Writer, runners []*node.Runner) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return
		case <-t.C:
		}
		var parts []string
		for i, r := range runners {
			st := r.Brief()
			switch {
			case st.NowPlaying == nil:
				parts = append(parts, fmt.Sprintf("zone %d: -", i+1))
			default:
				np := st.NowPlaying
				title := np.Title
				if title == "" {
					title = "built-in jingle"
				}
				parts = append(parts, fmt.Sprintf("zone %d: %s [%s] %d/%d cached", i+1, title, np.Level,
					st.Cache.Present, st.Cache.Needed))
			}
		}
		line := strings.Join(parts, " | ")
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
	}
}

// seed creates the demo store, its zones and content, and one enrollment token per zone.
func seed(ctx context.Context, admin *api.Client, cfg Config) (api.Store, []string, error) {
	st, err := admin.CreateStore(ctx, api.StoreInput{Name: "Loja Demo", TimeZone: "America/Sao_Paulo", CrossfadeMS: 2000})
	if err != nil {
		return st, nil, err
	}
	dir := filepath.Join(cfg.DataDir, "content")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, nil, err
	}
	upload := func(t tune, kind string, mutate func(*api.AssetInput)) (api.Asset, error) {
		p := filepath.Join(dir, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(t.title)+".wav")
		if err := writeWAV(p, t.render()); err != nil {
			return api.Asset{}, err
		}
		b, r, err := readAll(p)
		if err != nil {
			return api.Asset{}, err
		}
		h := sha256.Sum256(b)
		sum := hex.EncodeToString(h[:])
		if _, err := admin.Upload(ctx, sum, int64(len(b)), r); err != nil {
			return api.Asset{}, err
		}
		in := api.AssetInput{MasterSHA256: sum, Kind: kind, Title: t.title, Artist: t.artist}
		if mutate != nil {
			mutate(&in)
		}
		return admin.CreateAsset(ctx, in)
	}
	var music []string
	for _, t := range demoTunes {
		a, err := upload(t, api.KindMusic, nil)
		if err != nil {
			return st, nil, err
		}
		music = append(music, a.ID)
	}
	// The spot is valid for the next 30 minutes only: after that no zone may play it.
	from, until := time.Now().Add(-time.Minute).UTC(), time.Now().Add(30*time.Minute).UTC()
	spot, err := upload(demoSpot, api.KindSpot, func(in *api.AssetInput) { in.ValidFrom, in.ValidUntil = &from, &until })
	if err != nil {
		return st, nil, err
	}
	if _, err := upload(demoEmergency, api.KindMusic, func(in *api.AssetInput) { in.EmergencyEligible = true }); err != nil {
		return st, nil, err
	}
	pl, err := admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "Dia inteiro", AssetIDs: music})
	if err != nil {
		return st, nil, err
	}
	spots, err := admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "Spots", AssetIDs: []string{spot.ID}})
	if err != nil {
		return st, nil, err
	}
	if _, err := admin.CreateSchedule(ctx, api.ScheduleInput{Scope: api.ScopeStore, StoreID: st.ID, PlaylistID: pl.ID,
		Start: "00:00", End: "00:00",
		SpotRules: []api.SpotRule{{PlaylistID: spots.ID, EveryNTracks: 2}}}); err != nil {
		return st, nil, err
	}
	var tokens []string
	for i := range cfg.Zones {
		z, err := admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: fmt.Sprintf("Zona %d", i+1)})
		if err != nil {
			return st, nil, err
		}
		tok, err := admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: st.ID, ZoneID: z.ID})
		if err != nil {
			return st, nil, err
		}
		tokens = append(tokens, tok.Token)
	}
	return st, tokens, nil
}
