package transfer

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// ExchangeProtocolID is the small-message protocol: one bounded message each way, between listed devices only.
const ExchangeProtocolID = "/lomuz/exchange/1"

// MaxExchangeMsg bounds one exchange message (bytes): small control data such as a signed mesh key, never blobs.
const MaxExchangeMsg = 4096

// ExchangeFunc answers an exchange from a listed peer (its peer id) with a message of at most MaxExchangeMsg
// bytes. It is called from libp2p's goroutines and must not block for long.
type ExchangeFunc func(peer string, msg []byte) (reply []byte)

// Exchange sends msg to peer id and returns its reply. Both sides' gaters admit only listed peers, so a reply comes
// from a device of the store's signed list and msg reaches no other. Errors wrap ErrNotAllowed, ErrBadPeer, or
// are network errors.
func (t *Host) Exchange(ctx context.Context, id string, msg []byte) ([]byte, error) {
	if len(msg) > MaxExchangeMsg {
		return nil, fmt.Errorf("transfer: exchange message of %d bytes over %d", len(msg), MaxExchangeMsg)
	}
	s, err := t.openStream(ctx, id, ExchangeProtocolID, nil)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	_ = s.SetDeadline(time.Now().Add(t.cfg.RequestTimeout))
	if err := writeMsg(s, msg); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("transfer: exchange with %s: %w", id, err)
	}
	_ = s.CloseWrite()
	reply, err := readMsg(s)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: exchange reply from %s: %v", ErrBadPeer, id, err)
	}
	_ = s.Close()
	return reply, nil
}

// handleExchange serves one inbound exchange stream.
func (t *Host) handleExchange(s network.Stream) {
	remote := s.Conn().RemotePeer()
	if t.cfg.Exchange == nil || !t.gater.ok(remote) {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(t.cfg.RequestTimeout))
	msg, err := readMsg(s)
	if err != nil {
		t.cfg.Log.Warn("exchange message unreadable", "peer", remote, "err", err)
		_ = s.Reset()
		return
	}
	reply := t.cfg.Exchange(remote.String(), msg)
	if len(reply) > MaxExchangeMsg {
		t.cfg.Log.Error("exchange reply over the bound; not sent", "bytes", len(reply))
		_ = s.Reset()
		return
	}
	if err := writeMsg(s, reply); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// An exchange message on the wire: length uint16 (big-endian, <= MaxExchangeMsg), then the bytes.
func writeMsg(w io.Writer, msg []byte) error {
	b := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(b, uint16(len(msg)))
	copy(b[2:], msg)
	_, err := w.Write(b)
	return err
}

func readMsg(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size > MaxExchangeMsg {
		return nil, fmt.Errorf("message of %d bytes over %d", size, MaxExchangeMsg)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}
