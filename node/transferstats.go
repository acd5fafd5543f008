package node

import (
	"context"
	"io"
	"maps"
	"sync"

	"github.com/lomuz/lomuz/player/download"
)

// TransferStatus says where this node's blob bytes came from and where they went, for the status page and metrics.
// Received bytes are what sources wrote into the cache (HTTP bodies and libp2p payloads, counted as they arrive,
// failed attempts included); headers, TLS and TCP/IP overhead are not counted. Counted since the process started.
type TransferStatus struct {
	FromCloudBytes int64
	FromPeersBytes int64
	// FromPeer maps a peer's device id to the bytes received from it.
	FromPeer map[string]int64
	// ServedBytes and ServedTo are blob bytes sent to peers, in total and per device id (a peer id that no
	// membership or discovery record names yet is listed as "p2p:<libp2p id>").
	ServedBytes int64
	ServedTo    map[string]int64
	// BadSources are peers dropped as sources of a blob because they served bytes of it that did not verify.
	BadSources []string
	// RefusedConns counts libp2p connections the gate closed because the peer is not in the store's signed device
	// list (another store's device, a revoked one).
	RefusedConns uint64
	// MeshKeyEpoch is the epoch of the mesh key gossip is encrypted with; MeshKeyFromPeer says a peer handed it
	// over (origin has not confirmed it to this node yet).
	MeshKeyEpoch    uint32
	MeshKeyFromPeer bool
}

// meshKeyReporter is what a Mesh with a transfer gate and a rotating key may also implement.
type meshKeyReporter interface {
	KeyStatus() (epoch uint32, fromPeer bool)
	Refused() uint64
}

// servedCounter is what a Mesh that serves blobs may also implement: bytes served per peer device.
type servedCounter interface {
	ServedTo() map[string]int64
}

// received counts blob bytes received per source; safe for concurrent use (download goroutines add, the loop and
// the metrics handler read).
type received struct {
	mu       sync.Mutex
	cloud    int64
	fromPeer map[string]int64
}

func (r *received) add(peer string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if peer == "" {
		r.cloud += n
		return
	}
	if r.fromPeer == nil {
		r.fromPeer = map[string]int64{}
	}
	r.fromPeer[peer] += n
}

// fill sets the received part of st.
func (r *received) fill(st *TransferStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.FromCloudBytes, st.FromPeer = r.cloud, maps.Clone(r.fromPeer)
	st.FromPeersBytes = 0
	for _, n := range r.fromPeer {
		st.FromPeersBytes += n
	}
}

// counted wraps src so that every byte it writes is counted against peer ("" is the cloud).
func (r *received) counted(peer string, src download.Source) download.Source {
	return countedSource{src: src, add: func(n int64) { r.add(peer, n) }}
}

type countedSource struct {
	src download.Source
	add func(int64)
}

func (c countedSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	return c.src.Fetch(ctx, sha, offset, &countWriter{w: w, add: c.add})
}

// countWriter counts the bytes written through it, in n and, when add is set, through add as they pass.
type countWriter struct {
	w   io.Writer
	n   int64
	add func(int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.add != nil && n > 0 {
		c.add(int64(n))
	}
	return n, err
}

// Transfer returns the byte counts; safe from any goroutine. BadSources is left empty (the core knows them; Status
// fills them in).
func (r *Runner) Transfer() TransferStatus {
	var st TransferStatus
	r.recv.fill(&st)
	if sc, ok := r.p.Mesh.(servedCounter); ok {
		st.ServedTo = sc.ServedTo()
		for _, n := range st.ServedTo {
			st.ServedBytes += n
		}
	}
	if kr, ok := r.p.Mesh.(meshKeyReporter); ok {
		st.MeshKeyEpoch, st.MeshKeyFromPeer = kr.KeyStatus()
		st.RefusedConns = kr.Refused()
	}
	return st
}
