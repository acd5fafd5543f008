package transfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ProtocolID names the blob protocol on libp2p streams.
const ProtocolID = "/lomuz/blob/1"

const (
	requestLen   = 32 + 8
	headerLen    = 1 + 8 + 2
	maxStatusMsg = 512 // bytes of a status message; longer ones are cut by the server and refused by the client
)

// Status is the first byte of a response.
type Status uint8

// Response statuses.
const (
	StatusOK         Status = 0
	StatusNotFound   Status = 1
	StatusBadRequest Status = 2
	StatusError      Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNotFound:
		return "not found"
	case StatusBadRequest:
		return "bad request"
	case StatusError:
		return "server error"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// request is what a client asks for: a blob by content hash, from a byte offset.
type request struct {
	SHA    [32]byte
	Offset int64
}

var errBadRequest = errors.New("transfer: malformed request")

func (r request) encode() []byte {
	b := make([]byte, requestLen)
	copy(b, r.SHA[:])
	binary.BigEndian.PutUint64(b[32:], uint64(r.Offset))
	return b
}

// decodeRequest validates a request of exactly requestLen bytes.
func decodeRequest(b []byte) (request, error) {
	if len(b) != requestLen {
		return request{}, fmt.Errorf("%w: %d bytes, want %d", errBadRequest, len(b), requestLen)
	}
	var r request
	copy(r.SHA[:], b)
	off := binary.BigEndian.Uint64(b[32:])
	if off > math.MaxInt64 {
		return request{}, fmt.Errorf("%w: offset %d out of range", errBadRequest, off)
	}
	r.Offset = int64(off)
	return r, nil
}

// header opens every response.
type header struct {
	Status Status
	Size   int64  // whole blob size; 0 unless Status is StatusOK
	Msg    string // reason, for a status other than OK
}

func (h header) encode() []byte {
	msg := h.Msg
	if len(msg) > maxStatusMsg {
		msg = msg[:maxStatusMsg]
	}
	if h.Status == StatusOK {
		msg = ""
	}
	b := make([]byte, headerLen+len(msg))
	b[0] = byte(h.Status)
	binary.BigEndian.PutUint64(b[1:], uint64(h.Size))
	binary.BigEndian.PutUint16(b[9:], uint16(len(msg)))
	copy(b[headerLen:], msg)
	return b
}

// readHeader reads and validates a response header; maxSize bounds the size a server may announce.
func readHeader(r io.Reader, maxSize int64) (header, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return header{}, fmt.Errorf("transfer: read response header: %w", err)
	}
	h := header{Status: Status(b[0])}
	if h.Status > StatusError {
		return header{}, fmt.Errorf("transfer: unknown response status %d", b[0])
	}
	size := binary.BigEndian.Uint64(b[1:])
	if size > uint64(maxSize) {
		return header{}, fmt.Errorf("transfer: announced size %d exceeds the limit %d", size, maxSize)
	}
	h.Size = int64(size)
	n := binary.BigEndian.Uint16(b[9:])
	if n > maxStatusMsg {
		return header{}, fmt.Errorf("transfer: status message of %d bytes exceeds %d", n, maxStatusMsg)
	}
	if h.Status == StatusOK && n != 0 {
		return header{}, errors.New("transfer: status ok with a message")
	}
	if n > 0 {
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return header{}, fmt.Errorf("transfer: read status message: %w", err)
		}
		h.Msg = string(msg)
	}
	return h, nil
}
