package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// FuzzDecodeMeta feeds decodeMeta what memberlist carries as a member's metadata, set by the remote node: it must
// not panic, and what it accepts is a valid libp2p peer id and a non-zero port that encode back to the same.
func FuzzDecodeMeta(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		id, port, ok := decodeMeta(b)
		if !ok {
			return
		}
		if _, err := peer.Decode(id); err != nil || port == 0 {
			t.Fatalf("accepted id %q port %d from %q", id, port, b)
		}
		if id2, port2, ok2 := decodeMeta(encodeMeta(id, port)); !ok2 || id2 != id || port2 != port {
			t.Fatalf("re-encoded meta decodes to %q %d %v, want %q %d", id2, port2, ok2, id, port)
		}
	})
}
