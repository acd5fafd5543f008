package api

import (
	"fmt"
	"net/http"
)

// ProblemContentType is the media type of every error body (RFC 7807).
const ProblemContentType = "application/problem+json"

// Problem types. Each is a URI reference under a fixed prefix so clients can branch on it without parsing Detail.
const (
	ProblemPrefix       = "https://lomuz.dev/problems/"
	ProblemBadRequest   = ProblemPrefix + "bad-request"   // malformed JSON, unknown field, bad value
	ProblemTooLarge     = ProblemPrefix + "too-large"     // body over the endpoint's bound
	ProblemUnauth       = ProblemPrefix + "unauthorized"  // missing or wrong credential
	ProblemNotFound     = ProblemPrefix + "not-found"     // unknown id, or an id of another tenant
	ProblemConflict     = ProblemPrefix + "conflict"      // replayed token, duplicate name
	ProblemGone         = ProblemPrefix + "gone"          // revoked device, used or expired token
	ProblemOverloaded   = ProblemPrefix + "overloaded"    // load shedding; Retry-After says when to come back
	ProblemHashMismatch = ProblemPrefix + "hash-mismatch" // uploaded bytes differ from the declared sha256
	ProblemUnsupported  = ProblemPrefix + "unsupported-media-type"
	ProblemInternal     = ProblemPrefix + "internal"
)

// Problem is an RFC 7807 error body. Field names follow the RFC; Field names the offending request field, if any.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
	// RetryAfter is the Retry-After header in seconds, copied here by the client (not sent in the body).
	RetryAfter int `json:"-"`
}

// Error formats the problem for logs and CLI output.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// NewProblem builds a problem with the standard title of status.
func NewProblem(status int, typ, format string, args ...any) *Problem {
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// BadField is a 400 naming the offending field.
func BadField(field, format string, args ...any) *Problem {
	p := NewProblem(http.StatusBadRequest, ProblemBadRequest, format, args...)
	p.Field = field
	return p
}
