package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv names the database directory when the test binary runs as the play-writing child.
const helperEnv = "LOMUZ_STORE_KILL_HELPER_DIR"

// TestPlayOutboxSurvivesKill9 re-executes the test binary as a child that appends play events as fast as it can and
// prints each sequence number after AppendPlay returned; the parent SIGKILLs it at a random point, reopens the
// database, and checks that every event the child reported is there, byte for byte, and that sequence numbers are
// never reused across kills. The child also prunes now and then, as after an ack from origin.
func TestPlayOutboxSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	kills := 50
	if os.Getenv("LOMUZ_SOAK") == "1" {
		kills = 1000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	dir := t.TempDir()

	persisted := map[uint64]string{}
	var ackedThrough, lastSeq uint64
	for k := 0; k < kills; k++ {
		killAfter := 1 + rng.IntN(80)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPlayWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir, fmt.Sprintf("LOMUZ_STORE_KILL_SEED=%d", rng.Uint64()))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		seen, killed := 0, false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue // a line of the test framework
			}
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("bad helper line %q", sc.Text())
			}
			switch f[0] {
			case "ack": // the child is about to prune through n: those may vanish from now on
				ackedThrough = max(ackedThrough, n)
			default:
				if n <= lastSeq {
					t.Fatalf("kill %d: sequence %d reused (last was %d)", k, n, lastSeq)
				}
				lastSeq = n
				persisted[n] = f[0]
				seen++
			}
			if seen >= killAfter && !killed {
				// The child keeps writing while the signal is delivered, so the kill lands at an arbitrary point of
				// an append: between the commit, the sync and the print.
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("kill %d: child ended by itself: %v", k, err)
		}

		s := openT(t, dir)
		pending, err := s.PendingPlays(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		have := map[uint64]string{}
		for _, p := range pending {
			have[p.Seq] = string(p.Data)
		}
		for seq, data := range persisted {
			if seq <= ackedThrough {
				delete(persisted, seq)
				continue
			}
			if got, ok := have[seq]; !ok || got != data {
				t.Fatalf("kill %d: event %d reported persisted is %q after reopen, want %q", k, seq, got, data)
			}
		}
		s.Close()
	}
	t.Logf("%d kills, last sequence %d, %d events pending", kills, lastSeq, len(persisted))
}

// TestHelperPlayWriter is the child of TestPlayOutboxSurvivesKill9; it does nothing in a normal run.
func TestHelperPlayWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	seed, _ := strconv.ParseUint(os.Getenv("LOMUZ_STORE_KILL_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	s, err := Open(DefaultConfig(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		data := fmt.Sprintf("ev-%x", rng.Uint64())
		seq, err := s.AppendPlay([]byte(data))
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "%s %d\n", data, seq)
		w.Flush()
		if i%17 == 16 && seq > 10 {
			fmt.Fprintf(w, "ack %d\n", seq-10)
			w.Flush()
			if err := s.AckPlays(seq - 10); err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				os.Exit(2)
			}
		}
	}
}
