package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Body bounds per endpoint, in bytes. A body over its bound is rejected with 413 before it is parsed.
const (
	MaxEnrollBody     = 4 << 10   // a token and a public key
	MaxSyncBody       = 1 << 20   // up to MaxPlayEvents events of ~250 B plus the inventory
	MaxAdminBody      = 512 << 10 // one admin object; a playlist of MaxPlaylistAssets ids is ~400 KiB
	MaxProblemBody    = 16 << 10  // an error body read by the client
	MaxPlayEvents     = 2000      // per sync request; the device sends the rest next time
	MaxMissing        = 1024      // sha256 values a device may report missing in one sync
	MaxPlaylistAssets = 10000     // as origin/catalog.MaxPlaylistLen
	MaxNameLen        = 200       // bytes of names, titles, artists
	MaxSpotRules      = 16
	MaxSpotTimes      = 48
	MaxPublicKeyLen   = 256 // bytes of a marshalled libp2p public key
)

// DecodeStrict reads at most limit bytes of r into v, rejecting unknown fields, trailing data and oversized input.
// Errors are *Problem values ready to send.
func DecodeStrict(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "reading body: %v", err)
	}
	if int64(len(data)) > limit {
		return NewProblem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "body exceeds %d bytes", limit)
	}
	return UnmarshalStrict(data, v)
}

// UnmarshalStrict decodes one JSON value from data into v, rejecting unknown fields and trailing data.
func UnmarshalStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "empty body: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "trailing data after the JSON object")
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

func jsonProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		return BadField(typ.Field, "field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, ProblemBadRequest, "malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return BadField(f, "unknown field %q", f)
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return NewProblem(http.StatusBadRequest, ProblemBadRequest, "malformed JSON: %v", err)
}

// ValidSHA256 reports whether s is a lowercase hex sha256.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseID parses a canonical UUID (36 chars, hyphenated), naming field in the error.
func ParseID(field, s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, BadField(field, "%s: %q is not a UUID", field, s)
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, BadField(field, "%s: %q is not a UUID", field, s)
	}
	return id, nil
}

// checkLen returns a problem when s is longer than max bytes or, if required, empty.
func checkLen(field, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return BadField(field, "%s is required", field)
	}
	if len(s) > max {
		return BadField(field, "%s is longer than %d bytes", field, max)
	}
	return nil
}

func checkID(field, s string, required bool) error {
	if s == "" && !required {
		return nil
	}
	_, err := ParseID(field, s)
	return err
}

func fieldErr(field string, err error) error {
	return BadField(field, "%s: %v", field, err)
}
