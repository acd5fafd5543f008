package crdt_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/lomuz/lomuz/crdt"
)

// A node applies origin's answer, a peer catches up through a summary and a delta, and a broadcast is cut into
// gossip-sized parts.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(nil)
	verify := func(r crdt.Record) bool { return ed25519.Verify(pub, r.SigningBytes(), r.Sig) }
	verifyTime := func(t crdt.SignedTime) bool { return ed25519.Verify(pub, t.SigningBytes(), t.Sig) }
	sign := func(r crdt.Record) crdt.Record { r.Sig = ed25519.Sign(priv, r.SigningBytes()); return r }

	a, _ := crdt.NewState(crdt.DefaultConfig("node-a", "tenant-1"))
	b, _ := crdt.NewState(crdt.DefaultConfig("node-b", "tenant-1"))

	// Node a syncs with origin: every change in (0, 2].
	_, err := a.ApplyOrigin(crdt.OriginUpdate{From: 0, To: 2, Records: []crdt.Record{
		sign(crdt.Record{Key: "asset/a1", Tenant: "tenant-1", Rev: 1, Body: []byte(`{"title":"One"}`)}),
		sign(crdt.Record{Key: "playlist/p1", Tenant: "tenant-1", Rev: 2, Body: []byte(`{"assets":["a1"]}`)}),
	}}, verify)
	if err != nil {
		fmt.Println(err)
		return
	}
	sha := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	if _, err := a.SetBlobHeld(sha); err != nil {
		fmt.Println(err)
		return
	}

	// Anti-entropy: b sends its summary, a answers with what b lacks.
	sum, _ := crdt.EncodeSummary(b.Summary())
	got, _ := crdt.DecodeSummary(sum)
	wire, _ := crdt.EncodeDelta(a.DeltaFor(got))
	d, _ := crdt.DecodeDelta(wire)
	ch, _ := b.Merge(d, verify, verifyTime)
	fmt.Println("records entered:", len(ch.Records), "watermark:", b.Catalog().Watermark())
	fmt.Println("blob held by:", b.Inventory().Holders(must(crdt.ParseSHA256(sha))))

	// Gossip: what a gained since the last broadcast, in parts of at most 1,328 bytes.
	parts, rest, _ := crdt.Split(a.DeltaFor(crdt.Summary{}), 1328)
	fmt.Println("parts:", len(parts), "left for a stream:", !rest.Empty())
	// Output:
	// records entered: 2 watermark: 2
	// blob held by: [node-a]
	// parts: 1 left for a stream: false
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
