package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// handle serves one inbound blob stream.
func (t *Host) handle(s network.Stream) {
	if t.serve(s) {
		t.stats.served.Add(1)
	} else {
		t.stats.serveFailed.Add(1)
	}
}

// serve answers one request and reports whether the whole blob range was sent.
func (t *Host) serve(s network.Stream) bool {
	remote := s.Conn().RemotePeer()
	if !t.gater.ok(remote) { // revoked between the handshake and this stream
		_ = s.Reset()
		return false
	}
	_ = s.SetReadDeadline(time.Now().Add(t.cfg.RequestTimeout))
	buf := make([]byte, requestLen)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.cfg.Log.Warn("blob request unreadable", "peer", remote, "err", err)
		_ = s.Reset()
		return false
	}
	req, err := decodeRequest(buf)
	if err != nil {
		t.reply(s, header{Status: StatusBadRequest, Msg: err.Error()})
		return false
	}
	if t.cfg.Open == nil {
		t.reply(s, header{Status: StatusNotFound, Msg: "this peer serves no blobs"})
		return false
	}
	r, size, err := t.cfg.Open(req.SHA)
	if err != nil {
		// The peer learns the status, not the local error (paths, disk state); the log keeps the detail.
		if errors.Is(err, ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			t.reply(s, header{Status: StatusNotFound, Msg: "blob not held"})
			return false
		}
		t.cfg.Log.Warn("blob open failed", "sha256", fmt.Sprintf("%x", req.SHA), "err", err)
		t.reply(s, header{Status: StatusError, Msg: "blob unreadable"})
		return false
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	if size < 0 {
		t.cfg.Log.Error("blob source reported a negative size", "sha256", fmt.Sprintf("%x", req.SHA), "size", size)
		t.reply(s, header{Status: StatusError, Msg: "blob unreadable"})
		return false
	}
	if req.Offset > size {
		t.reply(s, header{Status: StatusBadRequest, Msg: fmt.Sprintf("offset %d beyond size %d", req.Offset, size)})
		return false
	}
	if _, err := r.Seek(req.Offset, io.SeekStart); err != nil {
		t.cfg.Log.Warn("blob seek failed", "sha256", fmt.Sprintf("%x", req.SHA), "err", err)
		t.reply(s, header{Status: StatusError, Msg: "blob unreadable"})
		return false
	}
	w := &stallWriter{s: s, stall: t.cfg.StallTimeout}
	if _, err := w.Write(header{Status: StatusOK, Size: size}.encode()); err != nil {
		_ = s.Reset()
		return false
	}
	n, err := io.CopyBuffer(w, io.LimitReader(r, size-req.Offset), make([]byte, t.cfg.CopyBuffer))
	t.stats.bytesServed.Add(uint64(n))
	if t.cfg.Served != nil && n > 0 {
		t.cfg.Served(remote.String(), req.SHA, n)
	}
	if err == nil && n != size-req.Offset {
		err = fmt.Errorf("blob shorter than its size: %d of %d bytes", n, size-req.Offset)
	}
	if err != nil {
		t.cfg.Log.Warn("blob stream failed", "peer", remote, "sha256", fmt.Sprintf("%x", req.SHA), "err", err)
		_ = s.Reset() // the client must see a failure, not a clean end
		return false
	}
	_ = s.Close()
	return true
}

func (t *Host) reply(s network.Stream, h header) {
	_ = s.SetWriteDeadline(time.Now().Add(t.cfg.StallTimeout))
	if _, err := s.Write(h.encode()); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// stallWriter refreshes the write deadline before every write: a peer that stops reading for StallTimeout fails
// the write.
type stallWriter struct {
	s     network.Stream
	stall time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	_ = w.s.SetWriteDeadline(time.Now().Add(w.stall))
	return w.s.Write(p)
}

// Fetch asks peer id for the blob sha from offset and writes the bytes [offset, size) to w, in order, calling
// progress (if not nil) with the number of bytes written so far after each write. It returns the blob's whole size
// as the peer announced it. It verifies nothing about the content: the caller hashes it. On error, the bytes
// already written are valid up to the count progress last reported (resume from offset+that). Errors wrap
// ErrNotFound, ErrNotAllowed, ErrStalled, ErrBadPeer, or are network errors. w and progress are used only during
// the call, from the calling goroutine.
func (t *Host) Fetch(ctx context.Context, id string, sha [32]byte, offset int64, w io.Writer,
	progress func(written int64)) (size int64, err error) {
	defer func() {
		if err != nil {
			t.stats.fetchFailed.Add(1)
		} else {
			t.stats.fetched.Add(1)
		}
	}()
	if offset < 0 {
		return 0, fmt.Errorf("transfer: negative offset %d", offset)
	}
	s, err := t.openStream(ctx, id, ProtocolID, t.fetchSem)
	if err != nil {
		return 0, err
	}
	defer func() { <-t.fetchSem }()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	size, err = t.fetch(s, sha, offset, w, progress)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return size, ctx.Err()
		}
		return size, err
	}
	_ = s.Close()
	return size, nil
}

// openStream opens a stream of protocol proto to listed peer id, within DialTimeout. With sem set it first takes
// a slot of it (waiting while ctx lasts) and holds it on success: the caller releases it; on error it is released.
func (t *Host) openStream(ctx context.Context, id, proto string, sem chan struct{}) (network.Stream, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return nil, fmt.Errorf("transfer: peer id %q: %w", id, err)
	}
	if !t.gater.ok(pid) {
		return nil, fmt.Errorf("%w: %s", ErrNotAllowed, id)
	}
	if sem != nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	dctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	s, err := t.h.NewStream(dctx, pid, protocol.ID(proto))
	cancel()
	if err != nil {
		if sem != nil {
			<-sem
		}
		if !t.gater.ok(pid) {
			return nil, fmt.Errorf("%w: %s", ErrNotAllowed, id)
		}
		return nil, fmt.Errorf("transfer: open %s stream to %s: %w", proto, id, err)
	}
	return s, nil
}

func (t *Host) fetch(s network.Stream, sha [32]byte, offset int64, w io.Writer, progress func(int64)) (int64, error) {
	_ = s.SetWriteDeadline(time.Now().Add(t.cfg.StallTimeout))
	if _, err := s.Write(request{SHA: sha, Offset: offset}.encode()); err != nil {
		return 0, fmt.Errorf("transfer: send request: %w", stallErr(err))
	}
	_ = s.CloseWrite()
	r := &stallReader{s: s, stall: t.cfg.StallTimeout}
	h, err := readHeader(r, t.cfg.MaxBlobSize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrStalled) ||
			errors.Is(err, network.ErrReset) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %v", ErrBadPeer, err)
	}
	switch h.Status {
	case StatusOK:
	case StatusNotFound:
		return 0, fmt.Errorf("%w: %s", ErrNotFound, h.Msg)
	default:
		return 0, fmt.Errorf("transfer: peer answered %v: %s", h.Status, h.Msg)
	}
	if offset > h.Size {
		return h.Size, fmt.Errorf("%w: offset %d beyond announced size %d", ErrBadPeer, offset, h.Size)
	}
	want := h.Size - offset
	buf := make([]byte, t.cfg.CopyBuffer)
	var got int64
	for got < want {
		n, err := r.Read(buf[:min(int64(len(buf)), want-got)])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return h.Size, fmt.Errorf("transfer: write: %w", werr)
			}
			got += int64(n)
			t.stats.bytesFetched.Add(uint64(n))
			if progress != nil {
				progress(got)
			}
		}
		if err == io.EOF && got < want {
			return h.Size, fmt.Errorf("%w: stream ended after %d of %d bytes", ErrBadPeer, got, want)
		}
		if err != nil && err != io.EOF {
			return h.Size, fmt.Errorf("transfer: read after %d of %d bytes: %w", got, want, err)
		}
	}
	// The announced size is a promise: one byte more is a broken peer.
	var one [1]byte
	if n, err := r.Read(one[:]); n > 0 {
		return h.Size, fmt.Errorf("%w: more bytes than the announced size %d", ErrBadPeer, h.Size)
	} else if err != io.EOF {
		return h.Size, fmt.Errorf("transfer: end of stream: %w", err)
	}
	return h.Size, nil
}

// stallReader refreshes the read deadline before every read and turns a deadline into ErrStalled.
type stallReader struct {
	s     network.Stream
	stall time.Duration
}

func (r *stallReader) Read(p []byte) (int, error) {
	_ = r.s.SetReadDeadline(time.Now().Add(r.stall))
	n, err := r.s.Read(p)
	return n, stallErr(err)
}

func stallErr(err error) error {
	var ne net.Error // yamux's deadline error is its own type, a net.Error with Timeout() true
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %v", ErrStalled, err)
	}
	return err
}
