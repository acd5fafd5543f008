package crdt

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const testTenant = "tenant-1"

// testKey is origin's signing key in tests, derived from a fixed seed so failures reproduce.
var testPriv = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func signRecord(r Record) Record {
	r.Sig = ed25519.Sign(testPriv, r.SigningBytes())
	return r
}

func verifyRecord(r Record) bool {
	return len(r.Sig) == ed25519.SignatureSize && ed25519.Verify(testPriv.Public().(ed25519.PublicKey), r.SigningBytes(), r.Sig)
}

func signTime(ms int64) SignedTime {
	st := SignedTime{UnixMilli: ms}
	st.Sig = ed25519.Sign(testPriv, st.SigningBytes())
	return st
}

func verifyTime(st SignedTime) bool {
	return len(st.Sig) == ed25519.SignatureSize && ed25519.Verify(testPriv.Public().(ed25519.PublicKey), st.SigningBytes(), st.Sig)
}

func shaOf(i int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("blob-%d", i)))
	return hex.EncodeToString(s[:])
}

func newTestState(t testing.TB, self string) *State {
	t.Helper()
	s, err := NewState(DefaultConfig(self, testTenant))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// observe renders everything a replica holds that replicas must agree on, as text, so differences read well.
// withTombstones includes catalog tombstones (replicas that pruned differently legitimately differ there).
func observe(s *State, withTombstones bool) string {
	var b strings.Builder
	for _, r := range s.Catalog().Records("") {
		if r.Deleted && !withTombstones {
			continue
		}
		fmt.Fprintf(&b, "rec %s@%d del=%v body=%q\n", r.Key, r.Rev, r.Deleted, r.Body)
	}
	for _, n := range s.Inventory().Nodes() {
		for _, it := range s.Inventory().Items(n) {
			fmt.Fprintf(&b, "inv %s %x c=%d %v %d %d\n", n, it.SHA[:4], it.Counter, it.State, it.Bytes, it.ProgressMS)
		}
	}
	for _, n := range s.PlayLog().Nodes() {
		ack := s.PlayLog().Acked(n)
		fmt.Fprintf(&b, "ack %s %d %x\n", n, ack.Seq, ack.Hash[:4])
		for _, ev := range s.PlayLog().Pending(n) {
			h := ev.Hash()
			fmt.Fprintf(&b, "play %s/%d %x\n", n, ev.Seq, h[:4])
		}
	}
	for _, n := range s.TimeFloors().Nodes() {
		st, _ := s.TimeFloors().Get(n)
		fmt.Fprintf(&b, "time %s %d\n", n, st.UnixMilli)
	}
	for _, z := range s.Overrides().Zones() {
		o, _ := s.Overrides().Get(z)
		fmt.Fprintf(&b, "ovr %s %+v\n", z, o)
	}
	return b.String()
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func mustMerge(t testing.TB, s *State, d Delta) Changes {
	t.Helper()
	ch, err := s.Merge(d, verifyRecord, verifyTime)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	return ch
}

// fataler is what testing.TB and rapid.T share.
type fataler interface {
	Fatalf(format string, args ...any)
}

// roundTrip encodes and decodes a delta, failing the test on error or on a non-canonical result.
func roundTrip(t fataler, d Delta) Delta {
	b, err := EncodeDelta(d)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	out, err := DecodeDelta(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	b2, err := EncodeDelta(out)
	if err != nil || string(b) != string(b2) {
		t.Fatalf("re-encode differs (err %v)", err)
	}
	return out
}
