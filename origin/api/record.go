package api

import (
	"crypto/ed25519"

	"github.com/lomuz/lomuz/crdt"
)

// RecordToWire converts a crdt.Record to its wire form (slices shared, not copied).
func RecordToWire(r crdt.Record) Record {
	return Record{Key: r.Key, Tenant: r.Tenant, Rev: r.Rev, Deleted: r.Deleted, Body: r.Body, Sig: r.Sig}
}

// CRDT converts a wire record to crdt.Record (slices shared, not copied).
func (r Record) CRDT() crdt.Record {
	return crdt.Record{Key: r.Key, Tenant: r.Tenant, Rev: r.Rev, Deleted: r.Deleted, Body: r.Body, Sig: r.Sig}
}

// Verify reports whether the record is well formed and signed by pub.
func (r Record) Verify(pub ed25519.PublicKey) bool {
	c := r.CRDT()
	return c.Validate() == nil && len(r.Sig) == ed25519.SignatureSize && ed25519.Verify(pub, c.SigningBytes(), r.Sig)
}

// CRDT converts a wire signed time to crdt.SignedTime.
func (t SignedTime) CRDT() crdt.SignedTime { return crdt.SignedTime{UnixMilli: t.UnixMS, Sig: t.Sig} }

// Verify reports whether the time is signed by pub.
func (t SignedTime) Verify(pub ed25519.PublicKey) bool {
	return len(t.Sig) == ed25519.SignatureSize && ed25519.Verify(pub, t.CRDT().SigningBytes(), t.Sig)
}
