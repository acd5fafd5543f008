package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/store"
)

// mountSmallDisk mounts a tmpfs of size bytes on a fresh directory and unmounts it when the test ends. It needs
// root: skipped otherwise, failed under LOMUZ_REQUIRE_NETNS=1 or CI.
func mountSmallDisk(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root to mount a small file system")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "lomuz-test-disk", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "mount tmpfs: %v: %s", err, out)
	}
	// Registered after t.TempDir, so it runs first: the directory is removed only once unmounted.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a file into dir until the file system refuses more (ENOSPC), and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for i := range buf {
			buf[i] = byte(i) // not zeros: no file system may keep it sparse
		}
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v", dir, err)
				}
				break
			}
		}
	}
	return p
}

// TestNodeDiskFull runs a real `lomuz node` with its data directory on a 64 MiB tmpfs, lets it fill its cache,
// then fills the file system. The node must play on from what it holds, report the full disk (free bytes in its
// /status and in the status origin receives), come back and play when restarted on the full disk (a reboot, or a
// supervisor restart), keep its database readable, and deliver every play event it persisted once space is freed.
func TestNodeDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	mnt := mountSmallDisk(t, 64<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	o := startOrigin(t)
	dir := t.TempDir()
	var files []string
	for i := range 4 {
		files = append(files, makeTrack(t, dir, fmt.Sprintf("t%d.wav", i), 300+70*i, 2, 0))
	}
	sd := o.seedStore(t, ctx, api.StoreInput{Name: "Loja", TimeZone: "America/Sao_Paulo", CrossfadeMS: 200}, files)
	data := filepath.Join(mnt, "node")
	logPath := func(run string) string { return filepath.Join(dir, "node-"+run+".log") }
	base := nodeArgs(data, o.URL)

	n := startNodeProc(t, logPath("first"), append(base, "--token", sd.Token)...)
	device := waitContent(t, n, 4)
	filler := fillDisk(t, mnt)

	// playsOn waits for more scheduled plays on a full disk, from a node that stays up, and returns its status.
	playsOn := func(n *nodeProc, run string, more int) Status {
		t.Helper()
		var st, from Status
		waitFor(t, 2*time.Minute, run+": plays on a full disk, reported", func() bool {
			if n.Exited() {
				t.Fatalf("%s: the node exited on a full disk", run)
			}
			var err error
			if st, err = n.Status(); err != nil {
				return false
			}
			if from.Device == "" {
				from = st // counters are per boot: what happened before the disk was full is not counted
			}
			if st.Counters.Plays[schedule.LevelScheduled] < from.Counters.Plays[schedule.LevelScheduled]+more ||
				st.FreeDiskBytes >= 64<<10 {
				return false
			}
			d, err := originDevice(ctx, o, sd.Store.ID, device)
			return err == nil && d.Status != nil && d.Status.FreeDiskBytes < 64<<10
		})
		fell := func(s Status) int {
			p := s.Counters.Plays
			return p[schedule.LevelEmergency] + p[schedule.LevelBuiltin] + p[schedule.LevelSilence] + s.Counters.DeadAir
		}
		if fell(st) != fell(from) {
			t.Fatalf("%s: fell back on a full disk: plays by level %v then %v, dead air %d then %d", run,
				from.Counters.Plays, st.Counters.Plays, from.Counters.DeadAir, st.Counters.DeadAir)
		}
		t.Logf("%s: %d scheduled plays, %d bytes free reported", run,
			st.Counters.Plays[schedule.LevelScheduled]-from.Counters.Plays[schedule.LevelScheduled], st.FreeDiskBytes)
		return st
	}
	playsOn(n, "full disk", 4)

	// A hard restart on the full disk (power cut, supervisor restart) must come back and play.
	_ = n.cmd.Process.Kill()
	<-n.done
	n.done <- nil
	n = startNodeProc(t, logPath("restart-full"), base...)
	playsOn(n, "restarted on a full disk", 3)
	if err := n.Stop(t); err != nil {
		t.Fatalf("stopping on a full disk: %v", err)
	}

	// Space freed: the database opens, passes its check and every outbox entry decodes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.DefaultConfig(filepath.Join(data, "db")))
	if err != nil {
		t.Fatalf("database after the full disk: %v", err)
	}
	if err := st.Check(); err != nil {
		t.Fatalf("database check after the full disk: %v", err)
	}
	if _, _, err := (&DiskPersist{Store: st, Dir: data}).Load(); err != nil {
		t.Fatalf("outbox after the full disk: %v", err)
	}
	last, err := st.LastPlaySeq()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	n = startNodeProc(t, logPath("freed"), base...)
	waitFor(t, time.Minute, "origin to hold every persisted play event", func() bool {
		return len(originPlays(t, ctx, o, device)) >= int(last)
	})
	if err := n.Stop(t); err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]bool{}
	for _, p := range originPlays(t, ctx, o, device) {
		seqs[p.Seq] = true
	}
	for s := uint64(1); s <= last; s++ {
		if !seqs[s] {
			t.Fatalf("play event %d of %d was persisted but never reached origin", s, last)
		}
	}
	t.Logf("%d play events persisted across the full disk, all at origin", last)
}
