package origin

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog"
	"github.com/lomuz/lomuz/origin/panel"
)

// Server is one stateless origin replica. Everything durable lives in its catalog and blob stores; what a Server
// holds in memory (auth and state caches, the sync-log batch in flight) is bounded in time by Config and may be
// lost at any moment without losing an acknowledged write.
type Server struct {
	publisher
	cfg      Config
	cat      catalog.Store
	blobs    blob.Store
	key      ed25519.PrivateKey
	ingester Ingester
	now      func() time.Time

	handler  http.Handler
	metrics  *metrics
	patterns []string      // "METHOD /path" of every route, for the OpenAPI check
	inflight chan struct{} // device requests in progress; nil when shedding is off
	auth     *ttlCache[catalog.Hash, authEntry]
	states   *ttlCache[stateKey, catalog.SyncState]
	times    *timeSigner
	logs     *syncLogBatcher
}

// Option adjusts a Server at construction; options exist for tests and embedding, not for configuration.
type Option func(*Server)

// WithClock replaces the wall clock (tests). The clock is read for signed time, telemetry and token expiry.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithIngester replaces the ingest step run after an asset's file is uploaded (the transcode pipeline).
func WithIngester(in Ingester) Option { return func(s *Server) { s.ingester = in } }

// New builds a server over its stores and signing key. The stores stay owned by the caller, who closes them after
// Serve returns.
func New(cfg Config, cat catalog.Store, blobs blob.Store, key ed25519.PrivateKey, opts ...Option) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cat == nil || blobs == nil {
		return nil, errors.New("origin: a catalog and a blob store are required")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("origin: signing key must be an ed25519 private key")
	}
	s := &Server{publisher: publisher{key: key}, cfg: cfg, cat: cat, blobs: blobs, key: key, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.ingester == nil {
		s.ingester = &DirectIngester{Blobs: blobs, Finish: s.FinishIngest}
	}
	if cfg.MaxInFlight > 0 {
		s.inflight = make(chan struct{}, cfg.MaxInFlight)
	}
	s.auth = newTTLCache[catalog.Hash, authEntry](cfg.AuthCacheTTL, 100_000)
	s.states = newTTLCache[stateKey, catalog.SyncState](cfg.StateCacheTTL, 100_000)
	s.times = &timeSigner{key: key}
	s.logs = newSyncLogBatcher(cat, cfg.SyncLogBatch, cfg.SyncLogWindow, cfg.SyncLogFlushers)
	s.metrics = newMetrics()
	s.handler = s.routes()
	return s, nil
}

// PublicKey is the key devices pin.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Handler serves the API. Device syncs need the background work that Serve or Run starts.
func (s *Server) Handler() http.Handler { return s.handler }

// Run performs the server's background work (the sync-log batcher) until ctx ends. Serve calls it; an embedder
// that mounts Handler in its own http.Server calls it instead.
func (s *Server) Run(ctx context.Context) error { return s.logs.Serve(ctx) }

// Serve listens on Config.Listen and serves until ctx ends, then shuts down gracefully within 10 s.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("origin: listen: %w", err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened (tests bind 127.0.0.1:0). It closes ln.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	var connState func(net.Conn, http.ConnState)
	if s.cfg.MaxConns > 0 {
		ll := newLimitListener(ln, s.cfg.MaxConns)
		ln, connState = ll, ll.idle.track
	}
	hs := &http.Server{
		ConnState:         connState,
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan error, 1)
	go func() { bgDone <- s.Run(bgCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		<-srvDone
	case err = <-srvDone:
	}
	// The batcher stops after the HTTP server so every sync still running gets its log written.
	stopBg()
	<-bgDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := &recordingMux{ServeMux: http.NewServeMux(), patterns: &s.patterns}
	dev := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.shed(h)) }
	dev("POST /v1/device/enroll", s.handleEnroll)
	dev("POST /v1/device/sync", s.handleSync)
	dev("POST /v1/device/plays", s.device(s.handlePlays))
	mux.HandleFunc("GET /v1/blobs/{sha256}", s.handleBlob)
	mux.HandleFunc("HEAD /v1/blobs/{sha256}", s.handleBlob)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.adminRoutes(mux)
	// The director's web panel (origin/panel, its own package): it calls this API in-process with the signed-in
	// user's token, so every rule stays here. Its key derives from the signing key: sessions survive restarts and
	// work on every replica. Mounted on the inner mux so it is not listed among the API's routes.
	pc := panel.DefaultConfig()
	pc.API, pc.Secret, pc.MaxUploadBytes = mux, s.key.Seed(), s.cfg.MaxUploadBytes
	pc.Authenticate = s.panelIdentity
	if pn, err := panel.New(pc); err == nil {
		mux.ServeMux.Handle(pc.Prefix+"/", s.paced(pn)) // its library form streams masters
	} else {
		slog.Error("origin: panel disabled", "err", err)
	}
	// Operations endpoints, not part of the API (so not in its route list): readiness and Prometheus metrics.
	mux.ServeMux.HandleFunc("GET /readyz", s.readyz)
	mux.ServeMux.Handle("GET /metrics", s.metrics.handler())
	mux.ServeMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.NewProblem(http.StatusNotFound, api.ProblemNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return s.metrics.instrument(recoverer(mux))
}

// panelIdentity says whose an admin token is, for the panel, with the same lookup as the admin API's auth.
func (s *Server) panelIdentity(ctx context.Context, tok string) (panel.Identity, error) {
	if len(tok) > maxSecretLen || !strings.HasPrefix(tok, adminSecretPrefix) {
		return panel.Identity{}, panel.ErrBadToken
	}
	t, err := s.cat.AdminTokenByHash(ctx, hashSecret(tok))
	if errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrRevoked) {
		return panel.Identity{}, fmt.Errorf("%w: %w", panel.ErrBadToken, err)
	} else if err != nil {
		return panel.Identity{}, err
	}
	return panel.Identity{TenantID: t.TenantID, Role: string(t.Role), StoreID: t.StoreID, Name: t.Name}, nil
}

// recordingMux remembers the patterns it registers, so a test can hold them against openapi.yaml.
type recordingMux struct {
	*http.ServeMux
	patterns *[]string
}

func (m *recordingMux) Handle(pattern string, h http.Handler) {
	*m.patterns = append(*m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *recordingMux) HandleFunc(pattern string, h http.HandlerFunc) { m.Handle(pattern, h) }

// Routes lists "METHOD /path/{param}" for every route the server answers.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// deviceReadTimeout bounds reading a device request's body (at most MaxSyncBody, 1 MiB).
const deviceReadTimeout = 30 * time.Second

// shed admits at most MaxInFlight device requests at once and answers the rest 429 at once.
func (s *Server) shed(h http.Handler) http.Handler {
	if s.inflight == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
			// A slot is precious: a client that trickles its (small, bounded) body must not hold one for long.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(min(deviceReadTimeout, s.cfg.ReadTimeout)))
			h.ServeHTTP(w, r)
		default:
			p := api.NewProblem(http.StatusTooManyRequests, api.ProblemOverloaded,
				"origin is shedding load; retry later")
			p.RetryAfter = s.cfg.RetryAfter + rand.IntN(s.cfg.RetryAfter+1)
			writeProblem(w, p)
		}
	})
}

func recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.Error("origin: handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeProblem(w, api.NewProblem(http.StatusInternalServerError, api.ProblemInternal, "internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}
