package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
)

// tinyWAV is a valid mono 8 kHz 16-bit WAV of n samples whose first samples encode seed, so every blob differs.
func tinyWAV(seed, n int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	data := n * 2
	b.WriteString("RIFF")
	b.Write(le.AppendUint32(nil, uint32(36+data)))
	b.WriteString("WAVEfmt ")
	b.Write(le.AppendUint32(nil, 16))   // fmt chunk size
	b.Write(le.AppendUint16(nil, 1))    // PCM
	b.Write(le.AppendUint16(nil, 1))    // mono
	b.Write(le.AppendUint32(nil, 8000)) // sample rate
	b.Write(le.AppendUint32(nil, 16000))
	b.Write(le.AppendUint16(nil, 2))
	b.Write(le.AppendUint16(nil, 16))
	b.WriteString("data")
	b.Write(le.AppendUint32(nil, uint32(data)))
	for i := range n {
		v := int16((i*7)%2000 - 1000)
		if i < 4 {
			v = int16(seed >> (8 * i) & 0xff)
		}
		b.Write(le.AppendUint16(nil, uint16(v)))
	}
	return b.Bytes()
}

// rssOf reads a process's resident set size in bytes from /proc.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// TestBenchNodeRSS measures the steady-state RSS of a `lomuz node` process playing to the null sink with 10,000
// cached assets, next to the same node with an empty catalog, both in this run. It prints a line the bench script
// parses; it runs only under LOMUZ_BENCH_RSS=1 (it uploads 10,000 assets).
func TestBenchNodeRSS(t *testing.T) {
	if os.Getenv("LOMUZ_BENCH_RSS") != "1" {
		t.Skip("benchmark: set LOMUZ_BENCH_RSS=1 (scripts/bench.d/32-node-rss.sh)")
	}
	const assets = 10000
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	// Untranscoded: the benchmark is about the node, and 10,000 ffmpeg runs would take most of an hour here.
	o := startOrigin(t, "--transcode=false")
	st, err := o.Admin.CreateStore(ctx, api.StoreInput{Name: "Loja", TimeZone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	var zones [2]api.ZoneInfo
	for i := range zones {
		if zones[i], err = o.Admin.CreateZone(ctx, st.ID, api.ZoneInput{Name: fmt.Sprintf("z%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Baseline first: a node with an empty catalog.
	base := measureNodeRSS(t, ctx, o, st.ID, zones[0].ID, 0)

	ids := make([]string, assets)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < assets; i += 8 {
				b := tinyWAV(i, 1600) // 0.2 s
				h := sha256.Sum256(b)
				sum := hex.EncodeToString(h[:])
				if _, err := o.Admin.Upload(ctx, sum, int64(len(b)), bytes.NewReader(b)); err != nil {
					errs <- err
					return
				}
				a, err := o.Admin.CreateAsset(ctx, api.AssetInput{MasterSHA256: sum, Kind: api.KindMusic,
					Title: fmt.Sprintf("track %05d", i), Artist: fmt.Sprintf("artist %d", i%300)})
				if err != nil {
					errs <- err
					return
				}
				ids[i] = a.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	pl, err := o.Admin.CreatePlaylist(ctx, api.PlaylistInput{Name: "all", AssetIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Admin.CreateSchedule(ctx, api.ScheduleInput{Scope: api.ScopeStore, StoreID: st.ID,
		PlaylistID: pl.ID, Start: "00:00", End: "00:00"}); err != nil {
		t.Fatal(err)
	}
	full := measureNodeRSS(t, ctx, o, st.ID, zones[1].ID, assets)
	fmt.Printf("RSS_RESULT baseline_mb=%.1f full_mb=%.1f assets=%d\n", float64(base)/(1<<20), float64(full)/(1<<20), assets)
}

// measureNodeRSS runs a node until its cache holds want blobs, lets it play for a while, and returns the largest
// RSS sampled over the steady-state window.
func measureNodeRSS(t *testing.T, ctx context.Context, o originProc, store, zone string, want int) int64 {
	t.Helper()
	tok, err := o.Admin.CreateEnrollmentToken(ctx, api.EnrollmentTokenInput{StoreID: store, ZoneID: zone})
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	data := t.TempDir()
	cmd := exec.Command(testenv.Lomuz(t), "node", "--data", data, "--origin", o.URL, "--token", tok.Token,
		"--output", "null", "--status-listen", fmt.Sprintf("127.0.0.1:%d", port))
	logf, err := os.Create(filepath.Join(t.TempDir(), "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	blobsDir := filepath.Join(data, "blobs", "blobs")
	waitFor(t, 30*time.Minute, fmt.Sprintf("%d cached blobs", want), func() bool {
		n := 0
		_ = filepath.WalkDir(blobsDir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n >= want
	})
	time.Sleep(10 * time.Second) // settle: GC, compactions, the first plays
	var peak int64
	for range 20 {
		r, err := rssOf(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, r)
		time.Sleep(time.Second)
	}
	return peak
}
