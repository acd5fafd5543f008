package origin

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// What one client can hold of a replica. Headers must arrive within ReadHeaderTimeout and a whole request within
// ReadTimeout, so a client sending byte by byte (slowloris) or trickling a body holds a connection for seconds, not
// forever; an upload, which may rightly take longer, is paced instead (pacedBody). Open connections are bounded by
// MaxConns so that file descriptors and memory stay for the catalog's pool, blob files and the clients being served.
// At the bound, the connection idle the longest between keep-alive requests is closed to make room (devices
// reconnect for their next sync anyway); when none is idle, a new connection waits in the kernel's accept queue
// until a slot frees, at the latest when a slow client's header or read timeout runs out.

// limitListener accepts at most n connections at once.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	idle  idleConns
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}),
		idle: idleConns{since: map[net.Conn]time.Time{}, wake: make(chan struct{}, 1)}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for acquired := false; !acquired; {
		select {
		case l.slots <- struct{}{}:
			acquired = true
			continue
		default:
		}
		l.idle.closeOldest() // closing it gives its slot back at once
		select {
		case l.slots <- struct{}{}:
			acquired = true
		case <-l.idle.wake: // a connection went idle since: close it on the next turn
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// idleConns tracks the connections waiting for their next keep-alive request (http.Server.ConnState).
type idleConns struct {
	mu    sync.Mutex
	since map[net.Conn]time.Time
	wake  chan struct{} // signalled when a connection goes idle, for an Accept waiting at the bound
}

func (ic *idleConns) track(c net.Conn, st http.ConnState) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if st == http.StateIdle {
		ic.since[c] = time.Now()
		select {
		case ic.wake <- struct{}{}:
		default:
		}
	} else {
		delete(ic.since, c)
	}
}

// closeOldest closes the connection idle the longest, if any. A linear scan: it runs only at the bound.
func (ic *idleConns) closeOldest() {
	ic.mu.Lock()
	var oldest net.Conn
	var at time.Time
	for c, t := range ic.since {
		if oldest == nil || t.Before(at) {
			oldest, at = c, t
		}
	}
	delete(ic.since, oldest)
	ic.mu.Unlock()
	if oldest != nil {
		_ = oldest.Close()
	}
}

// pacedBody lets a request body take longer than ReadTimeout as long as it keeps arriving at MinUploadRate or
// faster: each read moves the connection's read deadline to start + ReadTimeout + bytes so far / MinUploadRate.
// A 1 GiB master over a slow uplink completes; a client that stops sending is cut ReadTimeout after its pace
// falls behind. (Once the body is read, net/http lifts the deadline itself before its background read, so a long
// answer is never cut by it.)
func (s *Server) pacedBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || s.cfg.ReadTimeout <= 0 {
		return
	}
	r.Body = &pacedReader{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(),
		grace: s.cfg.ReadTimeout, rate: s.cfg.MinUploadRate}
}

type pacedReader struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64 // bytes per second
	n     int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 {
		p.n += int64(n)
		// Not supported behind an in-process caller (the panel's API calls): there is no connection to pace.
		_ = p.rc.SetReadDeadline(p.start.Add(p.grace + time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second))))
	}
	return n, err
}

// paced wraps h so that its request bodies are paced (pacedBody): for routes that take uploads.
func (s *Server) paced(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.pacedBody(w, r)
		h.ServeHTTP(w, r)
	})
}
