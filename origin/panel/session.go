package panel

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Cookie names and bounds.
const (
	sessionCookie = "lomuz_session"
	preCookie     = "lomuz_pre"  // random value binding the sign-in form's CSRF token before a session exists
	langCookie    = "lomuz_lang" // the language chosen with the switch
	// maxCookieLen bounds a cookie value the panel decodes; a session is ~250 bytes.
	maxCookieLen = 2048
	// maxTokenLen bounds a pasted token (origin's own bound is 128).
	maxTokenLen = 256
)

// keys are the panel's secrets, derived from Config.Secret with HMAC-SHA256 under distinct labels.
type keys struct {
	aead cipher.AEAD // seals session cookies (AES-256-GCM)
	csrf []byte      // MACs CSRF tokens
}

func deriveKeys(secret []byte) keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("lomuz-panel-session-v1"))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return keys{aead: aead, csrf: derive("lomuz-panel-csrf-v1")}
}

// session is the sealed content of the session cookie. The admin token is inside because the panel calls origin
// with it: nothing about the session is kept on the server, so any replica, before or after a restart, serves it.
// The cookie is encrypted and authenticated (AES-GCM): the browser cannot read the token nor forge a session.
type session struct {
	Token   string `json:"t"`
	Expires int64  `json:"e"` // unix seconds
	Nonce   string `json:"n"` // random per sign-in; CSRF tokens are bound to it
}

func (k keys) seal(s session) string {
	pt, _ := json.Marshal(s)
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := k.aead.Seal(nonce, nonce, pt, []byte(sessionCookie))
	return base64.RawURLEncoding.EncodeToString(ct)
}

func (k keys) open(v string, now time.Time) (session, bool) {
	var s session
	if len(v) > maxCookieLen {
		return s, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(v) // strict: one encoding per cookie
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return s, false
	}
	ns := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, raw[:ns], raw[ns:], []byte(sessionCookie))
	if err != nil || json.Unmarshal(pt, &s) != nil || s.Token == "" || s.Nonce == "" {
		return session{}, false
	}
	if now.Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

func (k keys) openSession(r *http.Request, now time.Time) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return k.open(c.Value, now)
}

// secure reports whether the browser reached us over TLS (directly or through a proxy that says so), so cookies
// get the Secure flag there and still work over plain http on a laptop.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (k keys) setSession(w http.ResponseWriter, r *http.Request, prefix string, s session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: k.seal(s), Path: prefix + "/",
		Expires: time.Unix(s.Expires, 0), HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func (k keys) clearSession(w http.ResponseWriter, r *http.Request, prefix string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: prefix + "/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func (k keys) mac(parts ...string) string {
	m := hmac.New(sha256.New, k.csrf)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfFor is the CSRF token of a session: a MAC of its nonce, so it is the same on every replica and cannot be
// made without the key. Forms carry it in the field "csrf", scripts in the header X-CSRF-Token.
func (k keys) csrfFor(nonce string) string { return k.mac("session", nonce) }

// csrfOK checks the token of a state-changing request: the header (scripts), the query parameter (the multipart
// upload form's action, whose body is streamed, not parsed first) or the field of an urlencoded form.
func (k keys) csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.URL.Query().Get("csrf")
	}
	if got == "" && r.PostForm != nil {
		got = r.PostForm.Get("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// maxFormBytes bounds a urlencoded form body (a playlist of a few thousand ids fits).
const maxFormBytes = 1 << 20

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginData is the sign-in page's model.
type loginData struct {
	CSRF string
}

func (p *Panel) loginPage(w http.ResponseWriter, r *http.Request) {
	p.renderLogin(w, r, http.StatusOK, "")
}

func (p *Panel) renderLogin(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	pre := randomString(16)
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: pre, Path: p.cfg.Prefix + "/", MaxAge: 3600,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	p.render(w, r, nil, status, "login", loginData{CSRF: p.keys.mac("login", pre)}, errMsg)
}

func (p *Panel) login(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(r)
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.renderLogin(w, r, http.StatusBadRequest, msg(lang, "err.form"))
		return
	}
	c, err := r.Cookie(preCookie)
	if err != nil || len(c.Value) > 64 ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(p.keys.mac("login", c.Value))) != 1 {
		p.renderLogin(w, r, http.StatusForbidden, msg(lang, "err.csrf"))
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if tok == "" || len(tok) > maxTokenLen {
		p.renderLogin(w, r, http.StatusUnauthorized, msg(lang, "err.token"))
		return
	}
	if _, err := p.cfg.Authenticate(r.Context(), tok); errors.Is(err, ErrBadToken) {
		p.renderLogin(w, r, http.StatusUnauthorized, msg(lang, "err.token"))
		return
	} else if err != nil {
		slog.Warn("panel: cannot check a token at sign-in", "err", err)
		p.renderLogin(w, r, http.StatusServiceUnavailable, msg(lang, "err.busy"))
		return
	}
	s := session{Token: tok, Expires: p.cfg.Now().Add(p.cfg.SessionTTL).Unix(), Nonce: randomString(16)}
	p.keys.setSession(w, r, p.cfg.Prefix, s)
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: "", Path: p.cfg.Prefix + "/", MaxAge: -1})
	http.Redirect(w, r, p.cfg.Prefix+"/fleet", http.StatusSeeOther)
}

func (p *Panel) logout(w http.ResponseWriter, r *http.Request, _ *request) {
	p.keys.clearSession(w, r, p.cfg.Prefix)
	http.Redirect(w, r, p.cfg.Prefix+"/login", http.StatusSeeOther)
}

// inProcess is an http.RoundTripper that serves a request with an http.Handler in this process: the panel's
// calls to origin go through origin's real routing, auth and validation without a network hop.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{Status: http.StatusText(rec.status), StatusCode: rec.status, Header: rec.header,
		Body: readCloser{bytes.NewReader(rec.body.Bytes())}, ContentLength: int64(rec.body.Len()),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req}, nil
}

// recorder buffers one in-process answer. Origin's admin answers are bounded (a page is at most 10,000 items).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
