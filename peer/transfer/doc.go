// Package transfer moves blobs named by sha256 between the devices of one store over go-libp2p.
//
// What it owns: a libp2p host restricted to TCP on explicit listen addresses (never libp2p's 0.0.0.0 defaults, no
// QUIC, relay, NAT or metrics), identified by the device's own ed25519 key; a connection gater that admits only the
// peer ids in an allow list the caller replaces (the origin-signed device list of the store), closing connections to
// peers that drop out of it (counting the connections it refuses); deliberate resource-manager limits; and the two
// protocols below, server and client.
//
// What it must not do: know what a blob contains or verify it. The server reads blobs through a callback
// (OpenFunc); the client writes to the caller's io.Writer and enforces only the size the server announced. The
// caller hashes what it received and drops a source that served bad bytes.
//
// Wire protocol "/lomuz/blob/1", one request per stream, all integers big-endian:
//
//	request  (40 bytes):  sha256 [32]byte | offset uint64 (<= 2^63-1)
//	response header:      status uint8 | size uint64 | msglen uint16 | msg [msglen]byte (msglen <= 512; only when status != 0)
//	body (status 0 only): bytes [offset, size) of the blob, then the server closes the stream
//
// status: 0 ok, 1 not found, 2 bad request (offset beyond size), 3 server error (busy, read failure). size is the
// whole blob's size (<= Config.MaxBlobSize on the client), so a resumed request knows where the end is. A client
// that reads more or fewer bytes than size-offset reports an error; a server that sees a malformed request answers
// status 2 and closes.
//
// Small-message protocol "/lomuz/exchange/1" (Host.Exchange, Config.Exchange): the client sends length uint16 |
// bytes, closes its side, and reads one reply framed the same way; both at most MaxExchangeMsg bytes, within
// Config.RequestTimeout. It carries control data between listed devices (the mesh key hand-over) with the same gate
// and encryption as blobs, and its own small resource-manager limits.
//
// Timeouts: the request must arrive within Config.RequestTimeout; either side aborts a stream on which no byte moved
// for Config.StallTimeout (the stall detector), and the caller's context bounds the whole fetch.
package transfer
