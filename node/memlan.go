package node

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/download"
)

// MemLAN is a store LAN inside one process: the in-memory twin of the peer layer, for `lomuz demo` (several zones
// in one process, no multicast on the user's network) and for tests. Gossip is delivered to every other member
// (dropped when a member's inbox is full, as UDP gossip may be: anti-entropy repairs it), membership changes are
// announced to all, anti-entropy exchanges whole states between random pairs every AntiEntropy, and blobs are
// fetched straight from the peer's cache. There is no transport to encrypt or gate, so SetKey and SetAllowed only
// record what they are given. Safe for concurrent use.
type MemLAN struct {
	// AntiEntropy is the push/pull period (memberlist's PushPullInterval is 30 s by default).
	AntiEntropy time.Duration

	mu    sync.Mutex
	nodes map[string]*MemPeer
	rnd   *rand.Rand
}

// NewMemLAN returns an empty LAN.
func NewMemLAN(seed uint64) *MemLAN {
	return &MemLAN{AntiEntropy: 10 * time.Second, nodes: map[string]*MemPeer{}, rnd: rand.New(rand.NewPCG(seed, seed))}
}

// BlobOpener opens a verified blob by sha256; safe for concurrent use.
type BlobOpener interface {
	Open(sha string) (cacheFile, error)
}

// MemPeer is one node's attachment to a MemLAN; it implements Mesh.
type MemPeer struct {
	lan     *MemLAN
	id      string
	blobs   BlobOpener
	recv    chan GossipReceived
	members chan []string

	mu      sync.Mutex
	state   []byte
	allowed [][]byte
	key     *api.Mesh
}

// memInbox bounds a member's undelivered gossip.
const memInbox = 4096

// Join attaches node id, serving blobs from blobs.
func (l *MemLAN) Join(id string, blobs BlobOpener) *MemPeer {
	p := &MemPeer{lan: l, id: id, blobs: blobs, recv: make(chan GossipReceived, memInbox), members: make(chan []string, 1)}
	l.mu.Lock()
	l.nodes[id] = p
	l.announceLocked()
	l.mu.Unlock()
	return p
}

// Leave detaches node id (a crash or shutdown).
func (l *MemLAN) Leave(id string) {
	l.mu.Lock()
	delete(l.nodes, id)
	l.announceLocked()
	l.mu.Unlock()
}

func (l *MemLAN) announceLocked() {
	for id, p := range l.nodes {
		var live []string
		for o := range l.nodes {
			if o != id {
				live = append(live, o)
			}
		}
		slices.Sort(live)
		// Latest value wins: replace an unread announcement.
		select {
		case <-p.members:
		default:
		}
		p.members <- live
	}
}

// Serve runs anti-entropy until ctx is done.
func (l *MemLAN) Serve(ctx context.Context) error {
	t := time.NewTicker(l.AntiEntropy)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.exchange()
		}
	}
}

// exchange makes one random pair swap their latest states.
func (l *MemLAN) exchange() {
	l.mu.Lock()
	ids := make([]string, 0, len(l.nodes))
	for id := range l.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) < 2 {
		l.mu.Unlock()
		return
	}
	i := l.rnd.IntN(len(ids))
	j := (i + 1 + l.rnd.IntN(len(ids)-1)) % len(ids)
	a, b := l.nodes[ids[i]], l.nodes[ids[j]]
	l.mu.Unlock()
	a.deliver(b.id, b.localState())
	b.deliver(a.id, a.localState())
}

func (p *MemPeer) localState() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *MemPeer) deliver(from string, b []byte) {
	if len(b) == 0 {
		return
	}
	select {
	case p.recv <- GossipReceived{From: from, Payload: b}:
	default: // inbox full: lost like a dropped packet
	}
}

// Broadcast implements Mesh.
func (p *MemPeer) Broadcast(b []byte) error {
	c := slices.Clone(b)
	p.lan.mu.Lock()
	peers := make([]*MemPeer, 0, len(p.lan.nodes))
	for id, o := range p.lan.nodes {
		if id != p.id {
			peers = append(peers, o)
		}
	}
	p.lan.mu.Unlock()
	for _, o := range peers {
		o.deliver(p.id, c)
	}
	return nil
}

// SendDirect implements Mesh: in one process it is a broadcast.
func (p *MemPeer) SendDirect(b []byte) { _ = p.Broadcast(b) }

func (p *MemPeer) Received() <-chan GossipReceived { return p.recv }
func (p *MemPeer) Members() <-chan []string        { return p.members }

// SetLocalState implements Mesh.
func (p *MemPeer) SetLocalState(b []byte) {
	p.mu.Lock()
	p.state = slices.Clone(b)
	p.mu.Unlock()
}

// SetAllowed implements Mesh; recorded only (no transport to gate in one process).
func (p *MemPeer) SetAllowed(keys [][]byte) {
	p.mu.Lock()
	p.allowed = keys
	p.mu.Unlock()
}

// SetKey implements Mesh; recorded only.
func (p *MemPeer) SetKey(m api.Mesh) error {
	p.mu.Lock()
	p.key = &m
	p.mu.Unlock()
	return nil
}

// Source implements Mesh: it reads the peer's cache directly.
func (p *MemPeer) Source(peer string) download.Source { return memSource{lan: p.lan, peer: peer} }

type memSource struct {
	lan  *MemLAN
	peer string
}

func (s memSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	s.lan.mu.Lock()
	p := s.lan.nodes[s.peer]
	s.lan.mu.Unlock()
	if p == nil {
		return 0, fmt.Errorf("node: peer %s left the LAN", s.peer)
	}
	f, err := p.blobs.Open(sha)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, ctxReader{ctx: ctx, r: f})
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
