package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/store"
)

// killCount is how many times TestNodeSurvivesKill9 kills the node: 50 in `make test`, 1,000 under LOMUZ_SOAK=1.
func killCount() int {
	if os.Getenv("LOMUZ_SOAK") == "1" {
		return 1000
	}
	return 50
}

// TestNodeSurvivesKill9 kills a real `lomuz node` process with SIGKILL at random points of its downloads and its
// playback, restarts it on the same data directory each time, and then checks what the promises require: the
// cache never holds a blob that does not verify (the engine plays only from the cache), and origin ends up with
// every play event the node ever persisted, numbered without a gap.
func TestNodeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (kill points are drawn from it)", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	o := startOrigin(t)
	dir := t.TempDir()
	var files []string
	for i := range 4 {
		files = append(files, makeTrack(t, dir, fmt.Sprintf("t%d.wav", i), 300+50*i, 2, 0))
	}
	sd := o.seedStore(t, ctx, api.StoreInput{Name: "Loja", TimeZone: "America/Sao_Paulo", CrossfadeMS: 500}, files)
	ids := sd.IDs

	bin := testenv.Lomuz(t)
	data := filepath.Join(dir, "node")
	logPath := filepath.Join(dir, "node.log")
	// The bandwidth cap makes each ~20 KB rendition take about a second, so early kills land mid-download; the
	// WAV output runs faster than real time, so later kills land mid-playback with events being written.
	args := []string{"node", "--data", data, "--origin", o.URL, "--token", sd.Token, "--status-listen", "",
		"--bandwidth", "16384"}
	kills := killCount()
	for i := range kills {
		wav := filepath.Join(dir, fmt.Sprintf("out-%d.wav", i%2))
		cmd := exec.Command(bin, append(args, "--output", "wav:"+wav)...)
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rnd.IntN(1900)) * time.Millisecond) // the kill point, drawn from the seed
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		lf.Close()
		checkCacheVerifies(t, filepath.Join(data, "blobs"), i)
	}

	// A last, clean run delivers everything and takes origin's acks.
	cfg := DefaultDeviceConfig()
	cfg.DataDir, cfg.Origins, cfg.Output, cfg.StatusListen = data, []string{o.URL}, "null", ""
	cfg.Core.SyncInterval, cfg.Core.SyncJitter = 300*time.Millisecond, 50*time.Millisecond
	r, stop := runDevice(t, ctx, cfg)
	var device string
	waitFor(t, time.Minute, "origin to hold every persisted play event", func() bool {
		sctx, c := context.WithTimeout(ctx, 5*time.Second)
		s, err := r.Status(sctx)
		c()
		if err != nil {
			return false
		}
		device = s.Device
		return r.Brief().PendingPlays == 0 && r.Counters().Syncs > 2
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.DefaultConfig(filepath.Join(data, "db")))
	if err != nil {
		t.Fatal(err)
	}
	last, err := db.LastPlaySeq()
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]bool{}
	for cursor := ""; ; {
		var page api.Page[api.Play]
		q := "/v1/plays?device_id=" + device + "&limit=1000"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := o.Admin.Do(ctx, "GET", q, nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			seqs[p.Seq] = true
			if p.AssetID != "" && !containsString(ids, p.AssetID) {
				t.Fatalf("play %d names asset %s, which is not in the catalog", p.Seq, p.AssetID)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if last == 0 {
		t.Fatal("the node never persisted a play event: the kill points never reached playback")
	}
	for s := uint64(1); s <= last; s++ {
		if !seqs[s] {
			t.Fatalf("play event %d of %d was persisted by the node but never reached origin", s, last)
		}
	}
	if len(seqs) != int(last) {
		t.Fatalf("origin holds %d events for the device, the node numbered %d", len(seqs), last)
	}
	t.Logf("%d kills; %d play events, all at origin, numbered 1..%d without a gap", kills, last, last)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkCacheVerifies re-hashes every installed blob: an installed blob is one the engine may play.
func checkCacheVerifies(t *testing.T, dir string, round int) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".tmp") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != filepath.Base(p) {
			return fmt.Errorf("after kill %d: installed blob %s hashes to %s", round, filepath.Base(p), got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
