package origin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Secret prefixes say what a bearer secret is, so a device credential pasted as an admin token fails clearly.
const (
	adminSecretPrefix  = "lmza_"
	deviceSecretPrefix = "lmzd_"
	enrollSecretPrefix = "lmze_"
	maxSecretLen       = 128
)

// newSecret returns prefix + 32 random bytes in base64url: 256 bits, so its sha256 alone may be stored.
func newSecret(prefix string) (string, catalog.Hash) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(b)
	return s, hashSecret(s)
}

func hashSecret(s string) catalog.Hash { return sha256.Sum256([]byte(s)) }

// authEntry is a cached credential check: a device (for device credentials) or an admin token.
type authEntry struct {
	device catalog.Device
	admin  catalog.AdminToken
}

type ctxKey int

const (
	ctxDevice ctxKey = iota
	ctxAdmin
)

func bearer(r *http.Request, prefix string) (string, *api.Problem) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return "", api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "missing Authorization: Bearer credential")
	}
	if len(tok) > maxSecretLen || !strings.HasPrefix(tok, prefix) {
		return "", api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "credential is not a %s credential",
			map[string]string{adminSecretPrefix: "admin", deviceSecretPrefix: "device"}[prefix])
	}
	return tok, nil
}

// device authenticates a device credential and puts the device in the request context.
func (s *Server) device(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, p := bearer(r, deviceSecretPrefix)
		if p != nil {
			writeProblem(w, p)
			return
		}
		hash := hashSecret(tok)
		e, ok := s.auth.get(hash, s.now())
		if !ok {
			d, err := s.cat.DeviceByCredential(r.Context(), hash)
			if err != nil {
				writeError(w, r, deviceAuthError(d, err))
				return
			}
			e = authEntry{device: d}
			s.auth.put(hash, e, s.now())
		}
		if e.device.ID == "" {
			writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "not a device credential"))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxDevice, e.device)))
	}
}

// deviceAuthError maps a failed credential lookup to its answer: revoked 403, unknown 401.
func deviceAuthError(d catalog.Device, err error) error {
	switch {
	case errors.Is(err, catalog.ErrRevoked):
		return api.NewProblem(http.StatusForbidden, api.ProblemGone, "device %s is revoked", d.ID)
	case errors.Is(err, catalog.ErrNotFound):
		return api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "unknown device credential")
	}
	return err
}

// admin authenticates an admin token and puts it in the request context. Only a director's token may write.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc { return s.adminAuth(h, false) }

// adminManagerWrites is admin for the routes a store manager may also write to: the handler checks the store
// (overrides.go mine).
func (s *Server) adminManagerWrites(h http.HandlerFunc) http.HandlerFunc { return s.adminAuth(h, true) }

func (s *Server) adminAuth(h http.HandlerFunc, managerWrites bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, p := bearer(r, adminSecretPrefix)
		if p != nil {
			writeProblem(w, p)
			return
		}
		hash := hashSecret(tok)
		e, ok := s.auth.get(hash, s.now())
		if !ok {
			t, err := s.cat.AdminTokenByHash(r.Context(), hash)
			switch {
			case errors.Is(err, catalog.ErrRevoked):
				writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "admin token is revoked"))
				return
			case errors.Is(err, catalog.ErrNotFound):
				writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "unknown admin token"))
				return
			case err != nil:
				writeError(w, r, err)
				return
			}
			e = authEntry{admin: t}
			s.auth.put(hash, e, s.now())
		}
		if e.admin.ID == "" {
			writeProblem(w, api.NewProblem(http.StatusUnauthorized, api.ProblemUnauth, "not an admin token"))
			return
		}
		if e.admin.Role != catalog.RoleDirector && r.Method != http.MethodGet && !managerWrites {
			writeProblem(w, api.NewProblem(http.StatusForbidden, api.ProblemUnauth,
				"a %s token may only read; changes need a director token", e.admin.Role))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxAdmin, e.admin)))
	}
}

func deviceOf(r *http.Request) catalog.Device { return r.Context().Value(ctxDevice).(catalog.Device) }
func adminOf(r *http.Request) catalog.AdminToken {
	return r.Context().Value(ctxAdmin).(catalog.AdminToken)
}
func tenantOf(r *http.Request) string { return adminOf(r).TenantID }
