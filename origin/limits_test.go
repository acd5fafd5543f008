package origin

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReadTimeoutCutsTrickleButNotPacedUploads: a body still arriving at ReadTimeout is cut; a paced one (an
// upload) that keeps its pace is not.
func TestReadTimeoutCutsTrickleButNotPacedUploads(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	s := &Server{cfg: Config{ReadTimeout: readTimeout, MinUploadRate: 100}}
	got := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/plain", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}))
	mux.Handle("/paced", s.paced(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second, ReadTimeout: readTimeout}
	go hs.Serve(ln)
	defer hs.Close()
	// 20 bytes every 10 ms (2,000 B/s, 20 times the pace) for 3 x ReadTimeout.
	send := func(path string) error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const chunks = 90
		_, _ = io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1800\r\n\r\n")
		for range chunks {
			if _, err := c.Write([]byte(strings.Repeat("a", 20))); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond) // the client's pace, not a wait for a condition
		}
		return <-got
	}
	if err := send("/plain"); err == nil {
		t.Error("a body still arriving after ReadTimeout was read in full on a route without a pace")
	}
	if err := send("/paced"); err != nil {
		t.Errorf("a paced body arriving faster than the minimum rate was cut: %v", err)
	}
}
