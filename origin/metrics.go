package origin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lomuz/lomuz/origin/catalog"
)

// metrics are one server's Prometheus collectors, on a registry of its own (no globals: tests run many servers in
// one process). Requests are labelled by class rather than path, so the label set stays bounded whatever clients
// send.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lomuz_origin_requests_total",
			Help: "HTTP requests by class (sync, enroll, plays, blob, admin, panel, other) and status code."},
			[]string{"class", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lomuz_origin_request_seconds",
			Help:    "HTTP request latency by class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}},
			[]string{"class"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lomuz_origin_requests_in_flight",
			Help: "HTTP requests being served."}),
	}
	m.reg.MustRegister(m.requests, m.seconds, m.inflight,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// requestClass maps a path onto a small fixed set of labels.
func requestClass(p string) string {
	switch {
	case p == "/v1/device/sync":
		return "sync"
	case p == "/v1/device/enroll":
		return "enroll"
	case p == "/v1/device/plays":
		return "plays"
	case strings.HasPrefix(p, "/v1/blobs/"):
		return "blob"
	case strings.HasPrefix(p, "/v1/"):
		return "admin"
	case strings.HasPrefix(p, "/panel"):
		return "panel"
	}
	return "other"
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushing, sendfile).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class := requestClass(r.URL.Path)
		m.inflight.Inc()
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			m.inflight.Dec()
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(class, strconv.Itoa(code)).Inc()
			m.seconds.WithLabelValues(class).Observe(time.Since(t0).Seconds())
		}()
		h.ServeHTTP(rec, r)
	})
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// readyTimeout bounds the catalog check of /readyz.
const readyTimeout = 2 * time.Second

// readyz answers 200 when the catalog answers (a load balancer takes the replica out of rotation otherwise);
// /healthz only says the process serves HTTP.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	// A revision read of a tenant that cannot exist touches the catalog without touching any data.
	_, err := s.cat.Revision(ctx, "00000000-0000-0000-0000-000000000000")
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		http.Error(w, "catalog not reachable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}
