package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Domain-separation prefixes of the signed and hashed byte strings. A signature or hash made for one purpose can
// never be replayed as another; the "v1" changes if the layout ever does.
const (
	recordDomain = "lomuz/record/v1"
	timeDomain   = "lomuz/time/v1"
	stateDomain  = "lomuz/state/v1"
	playDomain   = "lomuz/play/v1"
)

// Record is one catalog entry written and signed by origin. Key names it ("asset/<uuid>", ...), Tenant is the chain
// it belongs to, Rev the per-tenant revision that wrote it (higher wins), Deleted marks a tombstone (Body empty),
// Body is the canonical JSON of the kind's origin/api type, and Sig is origin's ed25519 signature of SigningBytes.
//
// A Record's byte slices are owned by whoever holds the Record: the crdt package never modifies them, and copies
// what it decodes, so records it hands out share memory with its state only read-only.
type Record struct {
	Key     string
	Tenant  string
	Rev     uint64
	Deleted bool
	Body    []byte
	Sig     []byte
}

// SigningBytes is the canonical byte string origin signs: each field length-prefixed (4-byte big-endian length)
// in this order: the prefix "lomuz/record/v1", Tenant, Key, Rev (8 bytes big-endian), Deleted (1 byte), Body.
// Sig is not part of it.
func (r Record) SigningBytes() []byte {
	b := make([]byte, 0, 4*4+len(recordDomain)+len(r.Tenant)+len(r.Key)+8+1+len(r.Body))
	b = appendLP(b, []byte(recordDomain))
	b = appendLP(b, []byte(r.Tenant))
	b = appendLP(b, []byte(r.Key))
	b = binary.BigEndian.AppendUint64(b, r.Rev)
	if r.Deleted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return appendLP(b, r.Body)
}

func appendLP(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// Validate checks the record's shape (not its signature): a valid key and tenant, a non-zero revision, bounded body
// and signature, and an empty body on a tombstone.
func (r Record) Validate() error {
	if err := ValidateKey(r.Key); err != nil {
		return err
	}
	if err := checkID("tenant", r.Tenant); err != nil {
		return err
	}
	if r.Rev == 0 {
		return fmt.Errorf("crdt: record %s: revision 0 (revisions start at 1)", r.Key)
	}
	if r.Deleted && len(r.Body) != 0 {
		return fmt.Errorf("crdt: record %s: tombstone with a body", r.Key)
	}
	if len(r.Body) > MaxBodyLen {
		return fmt.Errorf("crdt: record %s: body of %d bytes over limit %d", r.Key, len(r.Body), MaxBodyLen)
	}
	if len(r.Sig) > MaxSigLen {
		return fmt.Errorf("crdt: record %s: signature of %d bytes over limit %d", r.Key, len(r.Sig), MaxSigLen)
	}
	return nil
}

// recordWins reports whether a beats b for the same key: the higher revision; at equal revision the tombstone; then
// the greater body, then the greater signature. Only a misbehaving signer makes the last two matter, but the order
// must be total so every replica keeps the same record.
func recordWins(a, b Record) bool {
	if a.Rev != b.Rev {
		return a.Rev > b.Rev
	}
	if a.Deleted != b.Deleted {
		return a.Deleted
	}
	if c := bytes.Compare(a.Body, b.Body); c != 0 {
		return c > 0
	}
	return bytes.Compare(a.Sig, b.Sig) > 0
}

// Verifier reports whether a record's signature is origin's. It is called for every record that would enter the
// state; a record it rejects is dropped and counted. It must be a pure function of its argument (safe to call from
// the caller's goroutine only; crdt never calls it concurrently) and must not keep the record's slices.
type Verifier func(Record) bool

// SignedTime is origin's wall-clock time (unix milliseconds) signed with its ed25519 key: a floor under trusted time.
type SignedTime struct {
	UnixMilli int64
	Sig       []byte
}

// SigningBytes is the canonical byte string origin signs: the prefix "lomuz/time/v1" length-prefixed (4-byte
// big-endian length), then UnixMilli as 8 bytes big-endian two's complement.
func (t SignedTime) SigningBytes() []byte {
	b := appendLP(make([]byte, 0, 4+len(timeDomain)+8), []byte(timeDomain))
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMilli))
}

// timeWins reports whether a is a better floor than b: later, then the greater signature (a total order).
func timeWins(a, b SignedTime) bool {
	if a.UnixMilli != b.UnixMilli {
		return a.UnixMilli > b.UnixMilli
	}
	return bytes.Compare(a.Sig, b.Sig) > 0
}

// TimeVerifier reports whether a SignedTime carries origin's signature. Same contract as Verifier.
type TimeVerifier func(SignedTime) bool
