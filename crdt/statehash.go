package crdt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// StateHash is an order-independent, incremental digest of a set of (key, revision) pairs: the sum modulo 2^256 of
// sha256("lomuz/state/v1" || len(key) as 4 bytes big-endian || key || rev as 8 bytes big-endian), the 32 bytes read
// as a big-endian integer. Adding and removing pairs in any order gives the same value; the zero value is the empty
// set. Origin computes it over the records it sent a device, the device over its live records.
type StateHash [32]byte

func statePairHash(key string, rev uint64) [32]byte {
	b := make([]byte, 0, len(stateDomain)+4+len(key)+8)
	b = append(b, stateDomain...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, rev)
	return sha256.Sum256(b)
}

// Add puts (key, rev) into the set.
func (h *StateHash) Add(key string, rev uint64) { h.addLimbs(statePairHash(key, rev), false) }

// Remove takes (key, rev) out of the set; removing a pair that was never added leaves a value no real set has.
func (h *StateHash) Remove(key string, rev uint64) { h.addLimbs(statePairHash(key, rev), true) }

// addLimbs adds (or subtracts) x to h as 256-bit big-endian integers, wrapping.
func (h *StateHash) addLimbs(x [32]byte, sub bool) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		a := binary.BigEndian.Uint64(h[i*8:])
		b := binary.BigEndian.Uint64(x[i*8:])
		var r uint64
		if sub {
			r, carry = bits.Sub64(a, b, carry)
		} else {
			r, carry = bits.Add64(a, b, carry)
		}
		binary.BigEndian.PutUint64(h[i*8:], r)
	}
}

// Hex is the lowercase hex form sent in sync requests.
func (h StateHash) Hex() string { return hex.EncodeToString(h[:]) }
