package crdt

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Bounds on identifiers and fields, in bytes. Decoders enforce them; so do the methods that take them from callers.
const (
	// MaxIDLen bounds node ids, zone ids, tenant ids and the id part of a key (a UUID is 36).
	MaxIDLen = 64
	// MaxKeyLen bounds a record key: the longest kind ("playlist", "schedule") plus "/" plus an id.
	MaxKeyLen = 9 + 1 + MaxIDLen
	// MaxBodyLen bounds a record body (canonical JSON; a playlist of 10,000 assets is about 400 KiB).
	MaxBodyLen = 1 << 20
	// MaxSigLen bounds a signature (ed25519 signatures are 64 bytes).
	MaxSigLen = 128
)

// Kinds of record keys, the part before the "/".
var recordKinds = []string{"asset", "playlist", "schedule", "store", "devices", "override"}

// validID accepts 1..MaxIDLen bytes of [A-Za-z0-9._-]: UUIDs and the short names used in tests, nothing that could
// be confused with a separator or a control character.
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func checkID(what, s string) error {
	if !validID(s) {
		return fmt.Errorf("crdt: invalid %s %q: want 1-%d bytes of [A-Za-z0-9._-]", what, clip(s), MaxIDLen)
	}
	return nil
}

// ValidateKey checks that key is "<kind>/<id>" with a known kind and a valid id.
func ValidateKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("crdt: key of %d bytes over limit %d", len(key), MaxKeyLen)
	}
	kind, id, ok := strings.Cut(key, "/")
	if !ok {
		return fmt.Errorf("crdt: key %q: want <kind>/<id>", clip(key))
	}
	known := false
	for _, k := range recordKinds {
		if kind == k {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("crdt: key %q: unknown kind %q (want one of %v)", clip(key), clip(kind), recordKinds)
	}
	return checkID("key id", id)
}

// KeyKind returns the kind part of a key ("asset" for "asset/<uuid>").
func KeyKind(key string) string {
	kind, _, _ := strings.Cut(key, "/")
	return kind
}

// ParseSHA256 parses a lowercase hex sha256 (64 characters).
func ParseSHA256(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("crdt: sha256 %q: want 64 hex characters", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return h, fmt.Errorf("crdt: sha256 %q: want lowercase hex", clip(s))
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

// clip shortens untrusted text quoted in error messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
