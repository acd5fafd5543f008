package node

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
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
// playback, restarts it on the same data directory each time, and then checks what the promises require, the
// three figures of RELIABILITY.md's crash campaign: after every kill the cache holds no blob that does not verify
// (the engine plays only from the cache: an unverified play needs one) and the database opens, passes its checksum
// check and every record in it decodes; at the end origin holds every play event the node ever persisted (a
// persisted event is one the node took responsibility for), numbered without a gap.
func TestNodeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (kill points are drawn from it)", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	// The kills take up to about 3 s each (kill point, restart, checks); the rest needs a few minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(killCount())*3*time.Second)
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
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("node log (all runs), tail:\n%s", tail(string(b), 6000))
		}
	})
	// The bandwidth cap makes each ~20 KB rendition take about a second, so early kills land mid-download; the
	// WAV output runs faster than real time, so later kills land mid-playback with events being written.
	args := []string{"node", "--data", data, "--origin", o.URL, "--token", sd.Token, "--status-listen", "",
		"--bandwidth", "16384"}
	kills := killCount()
	blobsChecked, eventsChecked := 0, 0
	var campaignLast uint64 // the last play event persisted before the final clean run
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
		blobsChecked += checkCacheVerifies(t, filepath.Join(data, "blobs"), i)
		n, last := checkDatabase(t, data, i)
		eventsChecked, campaignLast = eventsChecked+n, last
	}
	t.Logf("after %d kills: %d installed blobs re-hashed, 0 unverified; %d database checks, 0 corrupt, %d outbox "+
		"events decoded", kills, blobsChecked, kills, eventsChecked)

	// A last, clean run delivers everything and takes origin's acks. It plays on while it runs, so a play that
	// starts between its last delivery and its stop is delivered by the run after (as on a device); at most three.
	cfg := DefaultDeviceConfig()
	cfg.DataDir, cfg.Origins, cfg.Output, cfg.StatusListen = data, []string{o.URL}, "null", ""
	cfg.Core.SyncInterval, cfg.Core.SyncJitter = 300*time.Millisecond, 50*time.Millisecond
	var device string
	var last uint64
	for range 3 {
		r, stop := runDevice(t, ctx, cfg)
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
		last = lastPlaySeq(t, data)
		if uint64(len(originPlays(t, ctx, o, device))) >= last {
			break
		}
	}
	seqs, downloaded := map[uint64]bool{}, 0
	for _, p := range originPlays(t, ctx, o, device) {
		seqs[p.Seq] = true
		if p.AssetID != "" && p.Seq <= campaignLast {
			downloaded++
		}
		if p.AssetID != "" && !containsString(ids, p.AssetID) {
			t.Fatalf("play %d names asset %s, which is not in the catalog", p.Seq, p.AssetID)
		}
	}
	if campaignLast == 0 || downloaded == 0 {
		t.Fatalf("%d play events during the kills, %d of downloaded tracks: the kill points never reached "+
			"playback of downloads", campaignLast, downloaded)
	}
	for s := uint64(1); s <= last; s++ {
		if !seqs[s] {
			t.Fatalf("play event %d of %d was persisted by the node but never reached origin", s, last)
		}
	}
	if len(seqs) != int(last) {
		t.Fatalf("origin holds %d events for the device, the node numbered %d", len(seqs), last)
	}
	t.Logf("%d kills; %d play events persisted during them (%d of downloaded tracks, the rest the built-in "+
		"jingle), %d in all, all at origin (0 lost), numbered 1..%d without a gap", kills, campaignLast, downloaded,
		last, last)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkCacheVerifies re-hashes every installed blob (an installed blob is one the engine may play) and returns how
// many it checked.
func checkCacheVerifies(t *testing.T, dir string, round int) int {
	t.Helper()
	n := 0
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
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkDatabase opens the killed node's database as the next start would, verifies its table checksums and
// decodes every record the node keeps: enrollment, trusted time, snapshot, history and the play outbox, whose
// events must be numbered without a gap up to the last sequence number handed out. It returns the outbox size and
// that last sequence number.
func checkDatabase(t *testing.T, data string, round int) (int, uint64) {
	t.Helper()
	st, err := store.Open(store.DefaultConfig(filepath.Join(data, "db")))
	if err != nil {
		t.Fatalf("after kill %d: database does not open: %v", round, err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("after kill %d: %v", round, err)
	}
	if b, err := st.Enrollment(); err == nil && len(b) > 0 {
		var e Enrollment
		// Either a whole enrollment, or the key saved before origin was asked (a kill during enrollment).
		if err := json.Unmarshal(b, &e); err != nil || (e.DeviceID == "" && len(e.PeerKey) != ed25519.PrivateKeySize) {
			t.Fatalf("after kill %d: enrollment record does not decode: %v", round, err)
		}
	}
	r, warns, err := (&DiskPersist{Store: st, Dir: data}).Load()
	if err != nil || len(warns) > 0 {
		t.Fatalf("after kill %d: persisted state does not load: %v %v", round, err, warns)
	}
	if r.Snapshot != nil {
		if _, err := crdt.DecodeDelta(r.Snapshot); err != nil {
			t.Fatalf("after kill %d: snapshot does not decode: %v", round, err)
		}
	}
	last, err := st.LastPlaySeq()
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range r.Plays {
		if want := last - uint64(len(r.Plays)-1-i); ev.Seq != want {
			t.Fatalf("after kill %d: outbox entry %d holds event %d, want %d (last %d)", round, i, ev.Seq, want, last)
		}
	}
	return len(r.Plays), last
}
