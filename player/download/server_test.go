package download

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fault is what the test server does to one request.
type fault int

const (
	serveOK      fault = iota
	truncateHalf       // sends half of what was asked, then closes
	corruptByte        // flips one byte of the answer
	stallHalf          // sends half, then hangs until the client gives up
	ignoreRange        // answers 200 with the whole blob
	unavailable        // 503 with Retry-After
	appendJunk         // sends the right bytes and then 1,000 more
	corruptJunk        // corruptByte and appendJunk
)

// junk is how many bytes appendJunk adds.
const junk = 1000

// blobServer is a real net/http server on 127.0.0.1 serving /blobs/<sha256> with Range, and faults on demand.
type blobServer struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	blobs   map[string][]byte
	plan    func(sha string, n int) fault // n counts this blob's requests from 0
	reqs    map[string]int
	ranges  []string // "sha[:8] Range" of every request, in arrival order
	sent    int64
	onReq   func(sha string)  // called at the start of every request
	onBytes func(total int64) // called after each piece written, with the total sent so far
	now     func() time.Time  // stamps requests (a virtual clock in some tests)
	stamps  map[string][]time.Time
	gate    chan struct{} // when not nil, requests wait for it to be closed
	closing chan struct{}
}

func newBlobServer(t *testing.T) *blobServer {
	s := &blobServer{t: t, blobs: map[string][]byte{}, reqs: map[string]int{}, stamps: map[string][]time.Time{},
		closing: make(chan struct{}), now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle)) // binds 127.0.0.1:0
	t.Cleanup(func() { close(s.closing); s.srv.Close() })
	return s
}

func (s *blobServer) add(rng *rand.Rand, n int) (sha string, data []byte) {
	data = make([]byte, n)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	sum := sha256.Sum256(data)
	sha = hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.blobs[sha] = data
	s.mu.Unlock()
	return sha, data
}

func (s *blobServer) source() *HTTPSource { return NewHTTPSource(s.srv.Client(), s.srv.URL+"/blobs/") }

func (s *blobServer) handle(w http.ResponseWriter, r *http.Request) {
	sha := strings.TrimPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	data, ok := s.blobs[sha]
	n := s.reqs[sha]
	s.reqs[sha]++
	s.ranges = append(s.ranges, fmt.Sprintf("%.8s %s", sha, r.Header.Get("Range")))
	s.stamps[sha] = append(s.stamps[sha], s.now())
	f := serveOK
	if s.plan != nil {
		f = s.plan(sha, n)
	}
	gate, onReq := s.gate, s.onReq
	s.mu.Unlock()
	if onReq != nil {
		onReq(sha)
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if f == unavailable {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	extra := 0
	if f == appendJunk || f == corruptJunk {
		extra = junk
	}
	start := int64(0)
	if v, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes="); ok && f != ignoreRange {
		start, _ = strconv.ParseInt(strings.TrimSuffix(v, "-"), 10, 64)
		if start >= int64(len(data)) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-int(start)+extra))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)+extra))
		w.WriteHeader(http.StatusOK)
	}
	body := data[start:]
	if f == corruptByte || f == corruptJunk {
		body = append([]byte(nil), body...)
		body[len(body)/2] ^= 0x01
	}
	if f == appendJunk || f == corruptJunk {
		body = append(append([]byte(nil), body...), make([]byte, junk)...)
	}
	limit := len(body)
	if f == truncateHalf || f == stallHalf {
		limit = len(body) / 2
	}
	for off := 0; off < limit; {
		end := min(off+16<<10, limit)
		m, err := w.Write(body[off:end])
		s.mu.Lock()
		s.sent += int64(m)
		total, cb := s.sent, s.onBytes
		s.mu.Unlock()
		if err != nil {
			return
		}
		w.(http.Flusher).Flush()
		if cb != nil {
			cb(total)
		}
		off = end
	}
	if f == stallHalf {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	}
}

func (s *blobServer) totalSent() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func (s *blobServer) rangeLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}
