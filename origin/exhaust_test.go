package origin_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/lomuz/lomuz/origin/api"
)

// Resource exhaustion against a real `lomuz origin` process (embedded catalog): oversized bodies, clients that
// send slowly, more connections than it serves at once, and a burst of connections. The process's memory comes
// from /proc; figures are logged for RELIABILITY.md. What is asserted is behaviour: the answers (413 problems,
// /healthz keeps answering), the process alive, connections cut, and memory far below what buffering would take.

// exhaustOrigin starts an origin on a fresh embedded catalog with extra flags and returns it with a director token.
func exhaustOrigin(t *testing.T, extra ...string) (p *originProc, token, data string) {
	data = t.TempDir()
	token = bootstrapOrigin(t, "--data", data)
	p = newOriginProc(t, "origin", append([]string{"--data", data}, extra...)...)
	p.start()
	return p, token, data
}

// rawExchange writes head, then streams body zero bytes (chunked when chunked) while it reads the answer, and
// returns the answer's status and Content-Type. The server may answer and close before the body is all sent.
func rawExchange(addr, head string, body int64, chunked bool) (int, string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(c, head); err != nil {
		return 0, "", err
	}
	go func() {
		buf := make([]byte, 64<<10)
		for sent := int64(0); sent < body; sent += int64(len(buf)) {
			chunk := buf[:min(int64(len(buf)), body-sent)]
			if chunked {
				if _, err := fmt.Fprintf(c, "%x\r\n", len(chunk)); err != nil {
					return
				}
			}
			if _, err := c.Write(chunk); err != nil {
				return
			}
			if chunked {
				if _, err := io.WriteString(c, "\r\n"); err != nil {
					return
				}
			}
		}
		if chunked {
			_, _ = io.WriteString(c, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Content-Type"), nil
}

// memKB reads VmRSS and VmHWM (peak RSS) of a process, in KiB.
func memKB(t *testing.T, p *originProc) (rss, peak int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "VmRSS: %d kB", &n); err == nil {
			rss = n
		}
		if _, err := fmt.Sscanf(l, "VmHWM: %d kB", &n); err == nil {
			peak = n
		}
	}
	return rss, peak
}

func TestOriginRefusesOversizedBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("sends gigabytes to a real origin process")
	}
	const maxUpload = 8 << 20
	p, token, data := exhaustOrigin(t, "--max-upload", fmt.Sprint(maxUpload))
	addr := strings.TrimPrefix(p.URL, "http://")
	admin, err := api.NewClient(api.ClientConfig{BaseURLs: []string{p.URL}, Credential: token})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := admin.CreateStore(c, api.StoreInput{Name: "Loja", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	z, err := admin.CreateZone(c, st.ID, api.ZoneInput{Name: "Z"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: st.ID, ZoneID: z.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, pub, _ := crypto.GenerateEd25519Key(rand.Reader)
	pk, _ := crypto.MarshalPublicKey(pub)
	en, err := admin.WithCredential("", nil).Enroll(c, api.EnrollRequest{Token: tok.Token, PeerPublicKey: pk})
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 32)
	endpoints := []struct{ method, path, auth, ctype string }{
		{"PUT", "/v1/uploads/" + sha, token, "application/octet-stream"},
		{"POST", "/v1/device/sync", en.Credential, "application/json"},
		{"POST", "/v1/device/plays", en.Credential, "application/json"},
		{"POST", "/v1/device/enroll", "", "application/json"},
		{"POST", "/v1/stores", token, "application/json"},
		{"PUT", "/v1/assets/" + st.ID, token, "application/json"},
	}
	const bodies, body, parallel = 50, 100 << 20, 10
	rss0, _ := memKB(t, p)
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	var failures atomic.Int32
	for i := range bodies {
		e, chunked := endpoints[i%len(endpoints)], i/len(endpoints)%2 == 1
		head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n", e.method, e.path, addr, e.ctype)
		if e.auth != "" {
			head += "Authorization: Bearer " + e.auth + "\r\n"
		}
		if chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		} else {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n", body)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, ctype, err := rawExchange(addr, head, body, chunked)
			if err != nil || status != http.StatusRequestEntityTooLarge || ctype != api.ProblemContentType {
				failures.Add(1)
				t.Errorf("%s %s (chunked %v): %d %q %v; want 413 %s", e.method, e.path, chunked, status, ctype, err,
					api.ProblemContentType)
			}
		})
	}
	wg.Wait()
	rss1, peak := memKB(t, p)
	t.Logf("%d bodies of %d MiB, %d at a time, to %d endpoints (declared and chunked): RSS before %d MiB, after %d MiB, "+
		"peak %d MiB", bodies, body>>20, parallel, len(endpoints), rss0>>10, rss1>>10, peak>>10)
	// Buffering the bodies in flight whole would take parallel x 100 MiB more.
	if grow := peak - rss0; grow > 192<<10 {
		t.Errorf("peak RSS grew by %d MiB while refusing oversized bodies: something buffers them", grow>>10)
	}
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("origin no longer answers: %v", err)
	}
	resp.Body.Close()
	// Nothing was accepted: no blob and no partial file may remain.
	_ = filepath.WalkDir(filepath.Join(data, "blobs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			t.Errorf("a refused upload left %s", path)
		}
		return nil
	})
}

// probe asks /healthz on a new connection every 100 ms until stop closes, and returns the answer times; an
// error or a non-200 answer is recorded as a negative duration.
func probe(url string, stop <-chan struct{}) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		var ds []time.Duration
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		for {
			select {
			case <-stop:
				out <- ds
				return
			case <-time.After(100 * time.Millisecond):
			}
			t0 := time.Now()
			resp, err := hc.Get(url + "/healthz")
			d := time.Since(t0)
			if err != nil || resp.StatusCode != http.StatusOK {
				d = -d
			}
			if err == nil {
				resp.Body.Close()
			}
			ds = append(ds, d)
		}
	}()
	return out
}

// summarize checks every probe answered and gives p50 / max.
func summarize(t *testing.T, what string, ds []time.Duration) string {
	t.Helper()
	if len(ds) == 0 {
		t.Fatalf("%s: no probe ran", what)
	}
	for _, d := range ds {
		if d < 0 {
			t.Errorf("%s: /healthz failed after %v", what, -d)
		}
	}
	slices.Sort(ds)
	return fmt.Sprintf("%d probes, p50 %v, max %v", len(ds), ds[len(ds)/2].Round(time.Microsecond),
		ds[len(ds)-1].Round(time.Microsecond))
}
