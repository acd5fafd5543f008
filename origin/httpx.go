package origin

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog"
)

// gzipMin is the smallest body worth compressing, in bytes: below it the gzip header and the CPU cost outweigh
// the saving (a no-change sync answer is ~300 B).
const gzipMin = 1400

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// writeJSON sends v as JSON with status, gzip-compressed when the client accepts it and the body is large.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeBody(w, r, status, "application/json", b)
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	if len(b) >= gzipMin && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		w.WriteHeader(status)
		gz := gzipPool.Get().(*gzip.Writer)
		gz.Reset(w)
		_, _ = gz.Write(b)
		_ = gz.Close()
		gzipPool.Put(gz)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// writeProblem sends an RFC 7807 body.
func writeProblem(w http.ResponseWriter, p *api.Problem) {
	b, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", api.ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}

// writeError maps an error to a problem. Domain sentinels become 4xx with their message; anything else is a 500
// whose detail is logged, not sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeProblem(w, problemOf(r, err))
}

func problemOf(r *http.Request, err error) *api.Problem {
	var p *api.Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, blob.ErrNotFound):
		return api.NewProblem(http.StatusNotFound, api.ProblemNotFound, "%s", trimPrefix(err))
	case errors.Is(err, catalog.ErrInvalid):
		return api.NewProblem(http.StatusBadRequest, api.ProblemBadRequest, "%s", trimPrefix(err))
	case errors.Is(err, catalog.ErrConflict):
		return api.NewProblem(http.StatusConflict, api.ProblemConflict, "%s", trimPrefix(err))
	case errors.Is(err, catalog.ErrTokenUsed), errors.Is(err, catalog.ErrExpired), errors.Is(err, catalog.ErrRevoked):
		return api.NewProblem(http.StatusGone, api.ProblemGone, "%s", trimPrefix(err))
	case errors.Is(err, blob.ErrDigestMismatch), errors.Is(err, blob.ErrSizeMismatch):
		return api.NewProblem(http.StatusUnprocessableEntity, api.ProblemHashMismatch, "%s", trimPrefix(err))
	case errors.Is(err, blob.ErrTooLarge):
		return api.NewProblem(http.StatusRequestEntityTooLarge, api.ProblemTooLarge, "%s", trimPrefix(err))
	case errors.Is(err, blob.ErrInvalidKey), errors.Is(err, blob.ErrInvalidRange):
		return api.NewProblem(http.StatusBadRequest, api.ProblemBadRequest, "%s", trimPrefix(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return api.NewProblem(http.StatusServiceUnavailable, api.ProblemOverloaded, "request cancelled or timed out")
	}
	slog.Error("origin: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	return api.NewProblem(http.StatusInternalServerError, api.ProblemInternal, "internal error")
}

// trimPrefix drops the package prefix of sentinel messages ("catalog: not found: asset x" -> "not found: asset x").
func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"catalog: ", "blob: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// decode reads a bounded, strict JSON body into v.
func decode(r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			return api.NewProblem(http.StatusUnsupportedMediaType, api.ProblemUnsupported,
				"Content-Type must be application/json, not %q", ct)
		}
	}
	return api.DecodeStrict(r.Body, limit, v)
}

// pathID parses the {name} path segment as a UUID.
func pathID(r *http.Request, name string) (string, error) {
	id, err := api.ParseID(name, r.PathValue(name))
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
