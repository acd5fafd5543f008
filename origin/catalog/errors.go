package catalog

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every backend returns them wrapped with context; callers compare with errors.Is.
var (
	// ErrNotFound: the row does not exist in this tenant (a row of another tenant is reported the same way, so
	// ids of other tenants cannot be probed).
	ErrNotFound = errors.New("catalog: not found")
	// ErrConflict: the write collides with existing data: an id or unique key already taken, or a delete of a
	// row that others still reference (a playlist used by a schedule, an asset in a playlist, a store with
	// zones or devices).
	ErrConflict = errors.New("catalog: conflict")
	// ErrInvalid: a value breaks a domain rule (see the Validate methods in types.go); nothing was written.
	ErrInvalid = errors.New("catalog: invalid")
	// ErrRevoked: the credential or token exists but was revoked. Lookups that return it also return the row,
	// so the caller can log who tried.
	ErrRevoked = errors.New("catalog: revoked")
	// ErrTokenUsed: a one-time enrollment token was already redeemed.
	ErrTokenUsed = errors.New("catalog: token already used")
	// ErrExpired: a one-time enrollment token is past its expiry.
	ErrExpired = errors.New("catalog: token expired")
	// ErrRevisionMismatch: a record handed to Tx.PutRecord does not carry the transaction's revision or tenant.
	ErrRevisionMismatch = errors.New("catalog: record revision or tenant does not match the transaction")
	// ErrOutcomeUnknown: the connection to the database failed while a commit was in flight, so the write may or
	// may not have happened. It is never retried by the store; read back before writing again.
	ErrOutcomeUnknown = errors.New("catalog: commit outcome unknown")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("catalog: store closed")
)

// invalidf returns an error that wraps ErrInvalid with a message for humans.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
