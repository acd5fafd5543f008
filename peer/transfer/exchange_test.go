package transfer

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Listed peers exchange one message each way; a stranger gets nothing and is counted as refused; a reply over the
// bound is not sent.
func TestExchange(t *testing.T) {
	var asked []string
	echo := func(peer string, msg []byte) []byte {
		asked = append(asked, peer)
		if bytes.Equal(msg, []byte("big")) {
			return make([]byte, MaxExchangeMsg+1)
		}
		return append([]byte("re:"), msg...)
	}
	srv := loopbackHostWith(t, 1, func(c *Config) { c.Exchange = echo })
	cli := loopbackHost(t, 2, nil)
	introduce(t, srv, cli)
	ctx := ctxT(t)

	got, err := cli.Exchange(ctx, srv.ID(), []byte("hello"))
	if err != nil || string(got) != "re:hello" {
		t.Fatalf("exchange: %q, %v", got, err)
	}
	if len(asked) != 1 || asked[0] != cli.ID() {
		t.Fatalf("the server saw %v, want the client's id %s", asked, cli.ID())
	}
	if _, err := cli.Exchange(ctx, srv.ID(), []byte("big")); !errors.Is(err, ErrBadPeer) {
		t.Fatalf("an oversize reply: %v", err)
	}
	if _, err := cli.Exchange(ctx, srv.ID(), make([]byte, MaxExchangeMsg+1)); err == nil {
		t.Fatal("an oversize message was sent")
	}
	// A peer without an exchange handler resets the stream.
	if _, err := srv.Exchange(ctx, cli.ID(), []byte("x")); err == nil {
		t.Fatal("a host without an exchange handler answered")
	}

	stranger := loopbackHost(t, 3, nil)
	_ = stranger.SetAllowed([]string{srv.ID()}) // it wants srv; srv does not want it
	_ = stranger.AddAddrs(srv.ID(), srv.Addrs(), time.Hour)
	before := srv.Stats().Refused
	if got, err := stranger.Exchange(ctx, srv.ID(), []byte("let me in")); err == nil {
		t.Fatalf("an unlisted peer got an answer: %q", got)
	}
	if srv.Stats().Refused <= before {
		t.Fatal("the server did not count the unlisted peer's connection as refused")
	}
	if len(asked) != 2 {
		t.Fatalf("the handler ran %d times, want 2 (the stranger must never reach it)", len(asked))
	}
	if _, err := cli.Exchange(ctx, stranger.ID(), nil); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("exchange with an unlisted peer: %v", err)
	}
}

func FuzzReadMsg(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := readMsg(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(msg) > MaxExchangeMsg {
			t.Fatalf("message of %d bytes passed the bound", len(msg))
		}
		var w bytes.Buffer
		if err := writeMsg(&w, msg); err != nil || !bytes.Equal(w.Bytes(), b[:2+len(msg)]) {
			t.Fatalf("round trip: %x vs %x (%v)", w.Bytes(), b, err)
		}
	})
}
