package origin_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowConn opens a connection, writes head, then one byte of tail every gap until the server closes the
// connection, and returns how long the server kept it open (negative: still open at giveUp).
func slowConn(addr, head string, gap, giveUp time.Duration) time.Duration {
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		return -time.Since(t0)
	}
	defer c.Close()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c) // returns when the server closes (EOF or reset)
		closed <- time.Since(t0)
	}()
	if _, err := io.WriteString(c, head); err != nil {
		return time.Since(t0)
	}
	tick := time.NewTicker(gap)
	defer tick.Stop()
	end := time.After(giveUp)
	for {
		select {
		case d := <-closed:
			return d
		case <-end:
			return -time.Since(t0)
		case <-tick.C:
			_, _ = c.Write([]byte{'a'}) // an error here means closed: the reader sees it too
		}
	}
}

// socketFDs counts the sockets a process holds open.
func socketFDs(t *testing.T, p *originProc) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// TestOriginCutsSlowClients sends headers byte by byte (slowloris), trickles bodies to a device route and to an
// admin route that refuses at once (the server then drains the body), and checks that origin closes every such
// connection and keeps answering /healthz meanwhile.
func TestOriginCutsSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("holds hundreds of slow connections to a real origin process")
	}
	p, _, _ := exhaustOrigin(t, "--read-header-timeout", "2s", "--read-timeout", "4s")
	addr := strings.TrimPrefix(p.URL, "http://")
	kinds := []struct {
		name, head string
		n          int
	}{
		{"headers byte by byte", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 500},
		{"device body byte by byte", "POST /v1/device/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Content-Length: 4000\r\n\r\n{", 100},
		{"body drained after a 401", "POST /v1/stores HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Content-Length: 200000\r\n\r\n{", 100},
	}
	rss0, _ := memKB(t, p)
	stop := make(chan struct{})
	probes := probe(p.URL, stop)
	held := make([][]time.Duration, len(kinds))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k, kind := range kinds {
		for range kind.n {
			wg.Go(func() {
				d := slowConn(addr, kind.head, 500*time.Millisecond, time.Minute)
				mu.Lock()
				held[k] = append(held[k], d)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	close(stop)
	rss1, peak := memKB(t, p)
	t.Logf("/healthz while slow clients held connections: %s", summarize(t, "probe", <-probes))
	for k, kind := range kinds {
		ds := held[k]
		slices.Sort(ds)
		if ds[0] < 0 {
			t.Errorf("%s: origin still held a connection after %v", kind.name, -ds[0])
			continue
		}
		t.Logf("%s: %d connections, closed by origin after p50 %v, max %v", kind.name, len(ds),
			ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	t.Logf("RSS before %d MiB, after %d MiB, peak %d MiB", rss0>>10, rss1>>10, peak>>10)
}

// TestOriginBoundsConnections opens many more connections than --max-conns. Keep-alive clients that asked once
// and went idle must all be answered (origin closes the longest-idle ones to make room); silent connections hold
// their slots until the header timeout, and a well-behaved client is answered after them. Origin never holds more
// than the bound.
func TestOriginBoundsConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("real origin process")
	}
	const limit, many = 64, 300
	p, _, _ := exhaustOrigin(t, "--max-conns", fmt.Sprint(limit), "--read-header-timeout", "2s", "--read-timeout", "4s")
	addr := strings.TrimPrefix(p.URL, "http://")
	base := socketFDs(t, p)
	most := 0
	watch := func() { most = max(most, socketFDs(t, p)-base) }

	// Keep-alive clients: each asks /healthz once, then keeps its connection idle until the end.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	answered := make(chan error, many)
	for range many {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		go func() {
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			buf := make([]byte, 512)
			_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			n := 0
			if err == nil {
				n, err = io.ReadAtLeast(c, buf, 12)
			}
			if err == nil && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
				err = fmt.Errorf("answer %q", buf[:n])
			}
			answered <- err
		}()
	}
	t0 := time.Now()
	for range many {
		watch()
		if err := <-answered; err != nil {
			t.Errorf("keep-alive client: %v", err)
		}
	}
	keepAlive := time.Since(t0)

	// Silent clients: connect, send nothing.
	for range many {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	stop := make(chan struct{})
	probes := probe(p.URL, stop)
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		watch()
	}
	close(stop)
	t.Logf("--max-conns %d: %d keep-alive clients all answered in %v; then %d silent connections; origin held at "+
		"most %d more sockets; /healthz meanwhile: %s", limit, many, keepAlive.Round(time.Millisecond), many, most,
		summarize(t, "probe", <-probes))
	if most > limit {
		t.Errorf("origin held %d connections at once, over --max-conns %d", most, limit)
	}
}

// TestOriginConnectionBurst opens 2,000 connections at once, each asking /healthz and then staying open, while a
// well-behaved client keeps asking too.
func TestOriginConnectionBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("real origin process")
	}
	const burst = 2000
	p, _, _ := exhaustOrigin(t)
	addr := strings.TrimPrefix(p.URL, "http://")
	rss0, _ := memKB(t, p)
	stop := make(chan struct{})
	probes := probe(p.URL, stop)
	var ready, release sync.WaitGroup
	ready.Add(burst)
	release.Add(1)
	var mu sync.Mutex
	fails := map[string]int{}
	var done sync.WaitGroup
	for range burst {
		done.Go(func() {
			ok := false
			defer func() {
				if !ok {
					ready.Done()
				}
			}()
			c, err := net.DialTimeout("tcp", addr, time.Minute)
			if err != nil {
				mu.Lock()
				fails["dial"]++
				mu.Unlock()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
			buf := make([]byte, 512)
			_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			n := 0
			if err == nil {
				n, err = io.ReadAtLeast(c, buf, 12)
			}
			if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
				mu.Lock()
				fails[fmt.Sprint("answer ", err)]++
				mu.Unlock()
				return
			}
			ok = true
			ready.Done()
			release.Wait() // hold the connection open, idle, until every one has been answered
		})
	}
	ready.Wait()
	time.Sleep(2 * time.Second) // a window for the probe while all are open, not a wait for a condition
	rss1, _ := memKB(t, p)
	fds := socketFDs(t, p)
	release.Done()
	done.Wait()
	close(stop)
	_, peak := memKB(t, p)
	t.Logf("%d connections at once: RSS before %d MiB, with all open %d MiB (%d sockets), peak %d MiB; /healthz: %s",
		burst, rss0>>10, rss1>>10, fds, peak>>10, summarize(t, "probe", <-probes))
	if len(fails) > 0 {
		t.Errorf("connections of the burst not answered 200: %v", fails)
	}
	if grow := peak - rss0; grow > 256<<10 {
		t.Errorf("peak RSS grew by %d MiB for %d connections", grow>>10, burst)
	}
}
