package blob

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ContentPrefix is the key prefix of content-addressed blobs.
const ContentPrefix = "sha256/"

// ContentKey is the key of the blob whose bytes hash to sha256Hex (lower-case hex, 64 characters).
func ContentKey(sha256Hex string) string { return ContentPrefix + sha256Hex }

// CheckSHA256 reports whether s is a lower-case hex sha256 digest.
func CheckSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%w: sha256 must be 64 hex characters, got %d", ErrInvalidKey, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil || strings.ToLower(s) != s {
		return fmt.Errorf("%w: sha256 %q is not lower-case hex", ErrInvalidKey, s)
	}
	return nil
}

// CheckKey validates a key against the grammar in the package doc.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if err := CheckPrefix(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q ends with a slash", ErrInvalidKey, key)
	}
	return nil
}

// CheckPrefix validates a List prefix: empty, or a key, or a key followed by a slash, or a partial last segment.
func CheckPrefix(prefix string) error {
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(prefix), MaxKeyLen)
	}
	if prefix == "" {
		return nil
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if seg == "" && !last {
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, prefix)
		}
		if seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, prefix, seg)
		}
		for _, c := range []byte(seg) {
			if !keyByte(c) {
				return fmt.Errorf("%w: %q has byte %q (allowed: A-Z a-z 0-9 . _ - /)", ErrInvalidKey, prefix, c)
			}
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}
