package panel

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Identity is who a token belongs to, as origin's own auth sees it.
type Identity struct {
	TenantID string
	Role     string // "director" (everything in the tenant) or "manager" (read-only, one store)
	StoreID  string // the manager's store; empty for a director
	Name     string
}

// Director reports whether the identity may change things.
func (id Identity) Director() bool { return id.Role == "director" }

// Authenticator checks an admin token with origin's rules (unknown, revoked) and says whose it is. Origin supplies
// it; the panel keeps no copy of those rules. A token that is not (or no longer) valid gives an error wrapping
// ErrBadToken; any other error is taken as transient (the catalog is unreachable) and does not end a session.
// Safe for concurrent use; may block on the catalog.
type Authenticator func(ctx context.Context, token string) (Identity, error)

// ErrBadToken is what an Authenticator wraps for an unknown, revoked or malformed token.
var ErrBadToken = errors.New("panel: token not accepted")

// Config configures the panel. Start from DefaultConfig; New calls validate.
type Config struct {
	// API is origin's HTTP API. The panel calls it in-process with the signed-in user's token for every read and
	// write, so validation, roles and tenant isolation are origin's, applied exactly as for any API client.
	API http.Handler
	// Authenticate identifies a token at sign-in and on every request (so a revoked token stops working at once).
	Authenticate Authenticator
	// Secret keys the session cookie and CSRF tokens (at least 32 bytes). Origin passes its signing key's seed,
	// so every replica of a deployment accepts the same sessions and a restart keeps them; the panel derives
	// separate keys from it with HMAC, so nothing it emits can stand for an origin signature.
	Secret []byte
	// Prefix is the path the panel is mounted at, without a trailing slash.
	Prefix string
	// SessionTTL is how long a sign-in lasts, at most 7 days.
	SessionTTL time.Duration
	// MaxUploadBytes bounds one uploaded master file, in bytes (origin applies its own bound as well).
	MaxUploadBytes int64
	// OnlineWindow: a device whose last sync is older is shown offline. Devices sync every 10 min with jitter, so
	// 25 min tolerates one missed sync.
	OnlineWindow time.Duration
	// PageSize is the rows per page of every list, within [10, 500].
	PageSize int
	// SearchScan bounds how many emergency-eligible assets the preview reads from origin when its plan falls
	// back (in pages of 10,000; searches use origin's own). 100,000 covers the 50,000-asset target with margin.
	SearchScan int
	// MaxCSVRows bounds one proof-of-play export.
	MaxCSVRows int
	// TempDir holds an upload while its sha256 is computed (origin's uploads are content-addressed). "" = os default.
	TempDir string
	// Now is the clock (tests replace it).
	Now func() time.Time
}

// DefaultConfig returns the panel's defaults; the caller sets API, Authenticate and Secret.
func DefaultConfig() Config {
	return Config{
		Prefix:         "/panel",
		SessionTTL:     12 * time.Hour,
		MaxUploadBytes: 1 << 30,
		OnlineWindow:   25 * time.Minute,
		PageSize:       50,
		SearchScan:     100_000,
		MaxCSVRows:     1_000_000,
		Now:            time.Now,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.API == nil || c.Authenticate == nil {
		return errors.New("panel: API and Authenticate are required")
	}
	if len(c.Secret) < 32 {
		return errors.New("panel: Secret must be at least 32 bytes")
	}
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("panel: Prefix %q must start and not end with /", c.Prefix)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 7*24*time.Hour {
		return errors.New("panel: SessionTTL within [1m, 7d]")
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = d.MaxUploadBytes
	}
	if c.OnlineWindow == 0 {
		c.OnlineWindow = d.OnlineWindow
	}
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.PageSize < 10 || c.PageSize > 500 {
		return fmt.Errorf("panel: PageSize %d outside [10, 500]", c.PageSize)
	}
	if c.SearchScan == 0 {
		c.SearchScan = d.SearchScan
	}
	if c.MaxCSVRows == 0 {
		c.MaxCSVRows = d.MaxCSVRows
	}
	if c.MaxUploadBytes < 0 || c.OnlineWindow < 0 || c.SearchScan < 1 || c.MaxCSVRows < 1 {
		return errors.New("panel: MaxUploadBytes, OnlineWindow, SearchScan and MaxCSVRows must be positive")
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return nil
}

// Panel serves the director's web panel. It holds no state between requests: a session lives in its sealed
// cookie, and everything else is read from origin on each request.
type Panel struct {
	cfg   Config
	keys  keys
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the panel.
func New(cfg Config) (*Panel, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Panel{cfg: cfg, keys: deriveKeys(cfg.Secret), pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("panel: template %s: %w", n, err)
		}
		p.pages[page] = t
	}
	p.routes()
	return p, nil
}

// ServeHTTP serves requests under Config.Prefix.
func (p *Panel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The panel's own scripts and styles only; no framing (clickjacking), no referrer leaking ids.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	p.mux.ServeHTTP(w, r)
}

func (p *Panel) routes() {
	m := http.NewServeMux()
	pre := p.cfg.Prefix
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET "+pre+"/static/", http.StripPrefix(pre+"/static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET "+pre+"/login", p.loginPage)
	m.HandleFunc("POST "+pre+"/login", p.login)
	m.HandleFunc("GET "+pre+"/lang", p.setLang)
	m.HandleFunc("POST "+pre+"/logout", p.authed(p.logout))
	m.HandleFunc("GET "+pre+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, pre+"/fleet", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+pre+"/fleet", p.authed(p.fleet))
	m.HandleFunc("POST "+pre+"/fleet", p.authed(p.fleetForms))
	m.HandleFunc("GET "+pre+"/alerts", p.authed(p.alerts))
	m.HandleFunc("GET "+pre+"/library", p.authed(p.library))
	m.HandleFunc("POST "+pre+"/library", p.authed(p.createAsset))
	m.HandleFunc("GET "+pre+"/library/{id}", p.authed(p.asset))
	m.HandleFunc("POST "+pre+"/library/{id}", p.authed(p.updateAsset))
	m.HandleFunc("GET "+pre+"/playlists", p.authed(p.playlists))
	m.HandleFunc("POST "+pre+"/playlists", p.authed(p.createPlaylist))
	m.HandleFunc("POST "+pre+"/playlists/{id}/delete", p.authed(p.deleteContent("playlists")))
	m.HandleFunc("GET "+pre+"/playlists/{id}", p.authed(p.playlist))
	m.HandleFunc("POST "+pre+"/playlists/{id}", p.authed(p.updatePlaylist))
	m.HandleFunc("GET "+pre+"/schedules", p.authed(p.schedules))
	m.HandleFunc("POST "+pre+"/schedules/{id}/delete", p.authed(p.deleteContent("schedules")))
	m.HandleFunc("POST "+pre+"/schedules", p.authed(p.createSchedule))
	m.HandleFunc("GET "+pre+"/preview", p.authed(p.preview))
	m.HandleFunc("GET "+pre+"/plays", p.authed(p.plays))
	m.HandleFunc("GET "+pre+"/plays.csv", p.authed(p.playsCSV))
	m.HandleFunc("GET "+pre+"/zones", p.authed(p.zones))
	m.HandleFunc("POST "+pre+"/zones/{id}", p.authed(p.zoneForm))
	m.HandleFunc(pre+"/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	p.mux = m
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// request is one signed-in request: who, in which language, and an origin client carrying their token.
type request struct {
	id    Identity
	lang  string
	csrf  string
	api   *api.Client
	token string
}

// authed checks the session cookie, the token behind it (with origin) and, for a POST, the CSRF token.
func (p *Panel) authed(h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang := p.lang(r)
		s, ok := p.keys.openSession(r, p.cfg.Now())
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, p.cfg.Prefix+"/login", http.StatusSeeOther)
				return
			}
			p.plainError(w, lang, http.StatusUnauthorized, "err.session")
			return
		}
		id, err := p.cfg.Authenticate(r.Context(), s.Token)
		if err != nil && !errors.Is(err, ErrBadToken) {
			slog.Warn("panel: cannot check a session's token", "err", err)
			p.plainError(w, lang, http.StatusServiceUnavailable, "err.busy")
			return
		}
		if err != nil {
			p.keys.clearSession(w, r, p.cfg.Prefix)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, p.cfg.Prefix+"/login", http.StatusSeeOther)
				return
			}
			p.plainError(w, lang, http.StatusUnauthorized, "err.session")
			return
		}
		csrf := p.keys.csrfFor(s.Nonce)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				p.plainError(w, lang, http.StatusBadRequest, "err.form")
				return
			}
		}
		if r.Method != http.MethodGet && !p.keys.csrfOK(r, csrf) {
			p.plainError(w, lang, http.StatusForbidden, "err.csrf")
			return
		}
		c, err := p.client(s.Token)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h(w, r, &request{id: id, lang: lang, csrf: csrf, api: c, token: s.Token})
	}
}

// client returns an origin API client that calls Config.API in-process with token.
func (p *Panel) client(token string) (*api.Client, error) {
	return api.NewClient(api.ClientConfig{BaseURLs: []string{"http://origin.in-process"}, Credential: token,
		HTTPClient: &http.Client{Transport: inProcess{p.cfg.API}}})
}

// view is what every page template receives.
type view struct {
	L      string
	Prefix string
	Page   string
	ID     Identity
	CSRF   string
	Err    string // a plain-words error shown above the page's form
	Flash  string
	Data   any
	Path   string // current path and query, for the language switch
}

func (p *Panel) render(w http.ResponseWriter, r *http.Request, rq *request, status int, page string, data any, errMsg string) {
	v := view{Prefix: p.cfg.Prefix, Page: page, Data: data, Err: errMsg, Path: r.URL.RequestURI()}
	if rq != nil {
		v.L, v.ID, v.CSRF = rq.lang, rq.id, rq.csrf
	} else {
		v.L = p.lang(r)
	}
	v.Flash = r.URL.Query().Get("ok")
	if v.Flash != "" {
		v.Flash = msg(v.L, "ok."+v.Flash)
	}
	t, ok := p.pages[page]
	if !ok {
		http.Error(w, "no page "+page, http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		slog.Error("panel: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (p *Panel) plainError(w http.ResponseWriter, lang string, status int, key string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg(lang, key)+"\n")
}

// explain turns an error from origin into plain words for the user: origin's problem detail says what was wrong
// with which field; anything else is reported as a generic failure (and logged).
func explain(lang string, err error) string {
	var pr *api.Problem
	if errors.As(err, &pr) {
		switch pr.Status {
		case http.StatusForbidden:
			return msg(lang, "err.forbidden")
		case http.StatusTooManyRequests:
			return msg(lang, "err.busy")
		}
		if pr.Detail != "" {
			return msg(lang, "err.rejected") + " " + pr.Detail
		}
		return msg(lang, "err.rejected") + " " + pr.Title
	}
	slog.Warn("panel: origin call failed", "err", err)
	return msg(lang, "err.internal")
}
