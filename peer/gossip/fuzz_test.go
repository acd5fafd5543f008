package gossip

import (
	"bytes"
	"context"
	"testing"
)

// FuzzNotifyMsg feeds the delegate what memberlist hands it from the network (a gossip or direct message, after
// decryption): whatever the bytes, it must not panic, must hand the handler the payload after the message id and
// nothing else, and must hand the same message over once.
func FuzzNotifyMsg(f *testing.F) {
	r := &recorder{}
	cfg := fastConfig("fuzz", keyA)
	cfg.Handler = r
	g, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	d := (*delegate)(g)
	f.Fuzz(func(t *testing.T, b []byte) {
		r.mu.Lock()
		r.msgs = nil
		r.mu.Unlock()
		d.NotifyMsg(bytes.Clone(b))
		d.NotifyMsg(bytes.Clone(b)) // a copy of the same message, as the epidemic brings
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(b) <= idLen {
			if len(r.msgs) != 0 {
				t.Fatalf("a message of %d bytes (no payload) was delivered", len(b))
			}
			return
		}
		if len(r.msgs) > 1 {
			t.Fatalf("one message delivered %d times", len(r.msgs))
		}
		if len(r.msgs) == 1 && !bytes.Equal(r.msgs[0], b[idLen:]) {
			t.Fatalf("delivered %x, sent %x", r.msgs[0], b)
		}
	})
}
