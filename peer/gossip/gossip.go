package gossip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Handler receives what the mesh delivers. It is implemented by the node (the caller). Its methods are called from
// memberlist's goroutines, possibly concurrently with each other, and must not block for long (they delay gossip
// and failure detection): hand the bytes to your own loop.
type Handler interface {
	// Message is a broadcast payload from a peer. b is the callee's to keep.
	Message(b []byte)
	// LocalState returns the node's full state for a push/pull exchange (join tells whether the remote is joining).
	// The returned slice is not modified afterwards by the callee; up to Config.MaxStateSize bytes (a larger one is
	// not sent, and logged).
	LocalState(join bool) []byte
	// MergeRemoteState receives a peer's full state from push/pull; b is the callee's to keep, at most
	// Config.MaxStateSize bytes (larger ones are dropped before this call).
	MergeRemoteState(b []byte, join bool)
	// MemberJoin and MemberLeave report membership changes (a leave is graceful or a failure).
	MemberJoin(m Member)
	MemberLeave(m Member)
}

// Member is a node of the mesh as gossip knows it.
type Member struct {
	Name string         // node id
	Addr netip.AddrPort // gossip address
	Meta []byte         // the node's Config.Meta (for example its libp2p peer id)
}

// Errors a caller tells apart with errors.Is.
var (
	ErrTooLarge = errors.New("gossip: message too large")
	ErrBacklog  = errors.New("gossip: broadcast backlog full")
	ErrKey      = errors.New("gossip: invalid mesh key")
)

// Gossip is one node's membership in the store mesh. Its methods are safe for concurrent use.
type Gossip struct {
	cfg   Config
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	ring  *memberlist.Keyring

	mu      sync.Mutex
	targets []netip.AddrPort  // where to re-join from (discovered and static peers)
	dropped int               // oversize states refused, in and out
	members map[string]Member // live members, self included, copied inside memberlist's event callbacks
	self    netip.AddrPort
	seen    seenIDs
	stats   counters
}

// Stats are counters since New, for status pages and metrics.
type Stats struct {
	Broadcast  uint64 // payloads accepted by Broadcast
	Refused    uint64 // payloads refused by Broadcast (too large, backlog)
	Delivered  uint64 // distinct payloads handed to Handler.Message
	Duplicates uint64 // copies of payloads already delivered (the epidemic's redundancy)
	StateDrop  uint64 // push/pull states over MaxStateSize, local or remote, not exchanged
	Direct     uint64 // direct (SendDirect) messages handed to a member's stream
}

type counters struct {
	broadcast, refused, delivered, duplicates, direct atomic.Uint64
}

// Stats returns the counters.
func (g *Gossip) Stats() Stats {
	g.mu.Lock()
	drop := uint64(g.dropped)
	g.mu.Unlock()
	return Stats{Broadcast: g.stats.broadcast.Load(), Refused: g.stats.refused.Load(),
		Delivered: g.stats.delivered.Load(), Duplicates: g.stats.duplicates.Load(), StateDrop: drop,
		Direct: g.stats.direct.Load()}
}

// New binds the gossip sockets (UDP and TCP on cfg.BindAddr:cfg.BindPort) and starts memberlist with no peers:
// call Join, then SetRejoinTargets as discovery finds peers, and Serve for the service's lifetime.
func New(cfg Config) (*Gossip, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ring, err := memberlist.NewKeyring(cfg.Keys, cfg.Keys[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	g := &Gossip{cfg: cfg, ring: ring, members: map[string]Member{}}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr.String()
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.BindAddr.String()
	mc.AdvertisePort = cfg.BindPort
	mc.Keyring = ring
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.UDPBufferSize = cfg.UDPBufferSize
	mc.ProbeInterval = cfg.ProbeInterval
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.TCPTimeout = cfg.TCPTimeout
	mc.Delegate = (*delegate)(g)
	mc.Events = (*events)(g)
	mc.Logger = log.New(levelWriter{cfg.Log}, "", 0)
	g.queue = &memberlist.TransmitLimitedQueue{RetransmitMult: cfg.RetransmitMult, NumNodes: g.numMembers}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: start memberlist on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	g.ml = ml
	n := ml.LocalNode() // no other goroutine changes the local node before New returns
	a, _ := netip.AddrFromSlice(n.Addr)
	g.self = netip.AddrPortFrom(a.Unmap(), n.Port)
	return g, nil
}

func (g *Gossip) numMembers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(len(g.members), 1)
}

// MaxBroadcast is the largest payload Broadcast accepts: what fits one UDP packet of Config.UDPBufferSize after
// memberlist's framing and encryption.
func (g *Gossip) MaxBroadcast() int { return g.cfg.UDPBufferSize - broadcastOverhead - idLen }

// broadcastOverhead covers, per packet: the compound header (2), the entry length (2), the user-message type (1),
// AES-GCM (version 1 + nonce 12 + tag 16 = 29), the CRC memberlist appends (5), and a margin for compression
// framing (25).
const broadcastOverhead = 2 + 2 + 1 + 29 + 5 + 25

// idLen is the message id in front of every broadcast: receivers forward each id once (memberlist sends a user
// broadcast only a few times from its origin, to random members, which may miss one) and deliver it once.
const idLen = 8

// Broadcast queues b for gossip to every member. It copies b. A payload over MaxBroadcast fails with ErrTooLarge,
// and ErrBacklog when Config.MaxQueued broadcasts are still being retransmitted: both change nothing, and the
// state still travels by push/pull.
func (g *Gossip) Broadcast(b []byte) (err error) {
	defer func() {
		if err != nil {
			g.stats.refused.Add(1)
		} else {
			g.stats.broadcast.Add(1)
		}
	}()
	if len(b) > g.MaxBroadcast() {
		return fmt.Errorf("%w: %d bytes, at most %d fit one gossip packet", ErrTooLarge, len(b), g.MaxBroadcast())
	}
	if len(b) == 0 {
		return errors.New("gossip: empty broadcast")
	}
	if g.queue.NumQueued() >= g.cfg.MaxQueued {
		return fmt.Errorf("%w: %d queued", ErrBacklog, g.queue.NumQueued())
	}
	msg := make([]byte, idLen+len(b))
	id := rand.Uint64()
	binary.BigEndian.PutUint64(msg, id)
	copy(msg[idLen:], b)
	g.seen.add(id)
	g.queue.QueueBroadcast(broadcast(msg))
	return nil
}

// SendDirect delivers b to every live member over memberlist's reliable stream (TCP, encrypted with the mesh key
// like gossip), for a payload too large for one gossip packet: a catalog record bigger than a packet would
// otherwise wait for push/pull, which reaches a large store only after several rounds. Receivers deliver it once
// through Handler.Message and do not forward it. It blocks for up to TCPTimeout per unreachable member, so call it
// off the caller's loop; it returns how many members got b, and the first error met.
func (g *Gossip) SendDirect(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errors.New("gossip: empty message")
	}
	if len(b) > g.cfg.MaxStateSize {
		return 0, fmt.Errorf("%w: %d bytes, at most %d go directly", ErrTooLarge, len(b), g.cfg.MaxStateSize)
	}
	msg := make([]byte, idLen+len(b))
	id := rand.Uint64()
	binary.BigEndian.PutUint64(msg, id)
	copy(msg[idLen:], b)
	g.seen.add(id)
	sent := 0
	var first error
	for _, n := range g.ml.Members() {
		if n.Name == g.cfg.NodeName {
			continue
		}
		if err := g.ml.SendReliable(n, msg); err != nil {
			if first == nil {
				first = fmt.Errorf("gossip: direct message to %s: %w", n.Name, err)
			}
			continue
		}
		sent++
	}
	g.stats.direct.Add(uint64(sent))
	return sent, first
}

// seenIDs remembers the last cap message ids (a ring), so a message is forwarded and delivered once.
type seenIDs struct {
	mu   sync.Mutex
	set  map[uint64]struct{}
	ring []uint64
	next int
}

// seenCap ids cover far more than one gossip round of a store mesh (tens of nodes, a few messages a second each).
const seenCap = 8192

// add records id and reports whether it is new.
func (s *seenIDs) add(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set, s.ring = make(map[uint64]struct{}, seenCap), make([]uint64, seenCap)
	}
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != 0 {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % seenCap
	s.set[id] = struct{}{}
	return true
}

// Join contacts the given gossip addresses and merges state with those that answer (TCP push/pull). It returns
// how many answered; an error only when none did.
func (g *Gossip) Join(addrs []netip.AddrPort) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return g.ml.Join(s)
}

// SetRejoinTargets replaces the addresses Serve re-joins from (discovered and static peers); the node's own
// address is ignored.
func (g *Gossip) SetRejoinTargets(addrs []netip.AddrPort) {
	self := g.LocalAddr()
	t := slices.DeleteFunc(slices.Clone(addrs), func(a netip.AddrPort) bool { return a == self })
	g.mu.Lock()
	g.targets = t
	g.mu.Unlock()
}

// Members returns the live members, this node included, sorted by name. It reads a copy kept from membership
// events: memberlist's own Members() hands out nodes that its goroutines keep mutating (a data race).
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LocalAddr is the gossip address (with the port the kernel chose when BindPort was 0).
func (g *Gossip) LocalAddr() netip.AddrPort { return g.self }

// SetKeys makes keys the keyring, keys[0] the primary (the one outgoing messages use). Rotate in three steps
// across the mesh, each applied by every node before the next: [old, new], then [new, old], then [new]. An invalid
// key fails the call before anything changes.
func (g *Gossip) SetKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no key (encryption is always on)", ErrKey)
	}
	for _, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("%w: %v", ErrKey, err)
		}
	}
	for _, k := range keys {
		if err := g.ring.AddKey(k); err != nil {
			return fmt.Errorf("%w: %v", ErrKey, err)
		}
	}
	if err := g.ring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("%w: %v", ErrKey, err)
	}
	for _, k := range g.ring.GetKeys() {
		if !slices.ContainsFunc(keys, func(w []byte) bool { return bytes.Equal(w, k) }) {
			if err := g.ring.RemoveKey(k); err != nil {
				return fmt.Errorf("%w: %v", ErrKey, err)
			}
		}
	}
	return nil
}

// Serve re-joins, every Config.RejoinInterval, the targets that are not live members (memberlist forgets a peer it
// declared dead and never contacts it again). When ctx ends it leaves the mesh gracefully (bounded by
// Config.LeaveTimeout) and shuts memberlist down.
func (g *Gossip) Serve(ctx context.Context) error {
	t := time.NewTicker(g.cfg.RejoinInterval)
	defer t.Stop()
	// A re-join runs beside the loop: memberlist's Join takes no context and may wait TCPTimeout on an unreachable
	// target; shutting memberlist down makes it return, so stopping is bounded by LeaveTimeout, not TCPTimeout.
	var wg sync.WaitGroup
	busy := false
	done := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			_ = g.ml.Leave(g.cfg.LeaveTimeout)
			err := g.ml.Shutdown()
			wg.Wait()
			return err
		case <-done:
			busy = false
		case <-t.C:
			if busy {
				continue
			}
			busy = true
			wg.Go(func() {
				g.rejoin()
				done <- struct{}{}
			})
		}
	}
}

// rejoin joins the targets whose address is not a live member's.
func (g *Gossip) rejoin() {
	g.mu.Lock()
	targets := slices.Clone(g.targets)
	g.mu.Unlock()
	live := map[netip.AddrPort]bool{}
	for _, m := range g.Members() {
		live[m.Addr] = true
	}
	var missing []netip.AddrPort
	for _, a := range targets {
		if !live[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return
	}
	if n, err := g.Join(missing); err != nil {
		g.cfg.Log.Debug("gossip re-join failed", "targets", len(missing), "err", err)
	} else {
		g.cfg.Log.Info("gossip re-joined", "contacted", n)
	}
}

// Shutdown stops memberlist at once without leaving (for a crash-like stop); Serve's end is the graceful path.
func (g *Gossip) Shutdown() error { return g.ml.Shutdown() }

func member(n *memberlist.Node) Member {
	a, _ := netip.AddrFromSlice(n.Addr)
	return Member{Name: n.Name, Addr: netip.AddrPortFrom(a.Unmap(), n.Port), Meta: bytes.Clone(n.Meta)}
}

// broadcast is one queued payload; payloads never invalidate each other (the node's deltas are idempotent).
type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}

// delegate adapts memberlist's Delegate to the Handler.
type delegate Gossip

func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.cfg.Meta) > limit {
		return nil // validate() keeps Meta under memberlist's limit
	}
	return d.cfg.Meta
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) <= idLen {
		return
	}
	if !d.seen.add(binary.BigEndian.Uint64(b)) {
		d.stats.duplicates.Add(1)
		return
	}
	d.stats.delivered.Add(1)
	msg := bytes.Clone(b) // memberlist reuses its buffer
	// A direct message (SendDirect) too large for a packet reached every member from its sender: not forwarded.
	if len(msg)-idLen <= (*Gossip)(d).MaxBroadcast() && d.queue.NumQueued() < d.cfg.MaxQueued {
		d.queue.QueueBroadcast(broadcast(msg)) // forward: epidemic, not just the origin's few sends
	}
	d.cfg.Handler.Message(msg[idLen:])
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte {
	s := d.cfg.Handler.LocalState(join)
	if len(s) > d.cfg.MaxStateSize {
		d.mu.Lock()
		d.dropped++
		d.mu.Unlock()
		d.cfg.Log.Error("gossip: local state over the limit, not sent", "bytes", len(s), "max", d.cfg.MaxStateSize)
		return nil
	}
	return s
}

func (d *delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) == 0 {
		return
	}
	if len(b) > d.cfg.MaxStateSize {
		d.mu.Lock()
		d.dropped++
		d.mu.Unlock()
		d.cfg.Log.Warn("gossip: remote state over the limit, dropped", "bytes", len(b), "max", d.cfg.MaxStateSize)
		return
	}
	d.cfg.Handler.MergeRemoteState(bytes.Clone(b), join)
}

// events adapts memberlist's EventDelegate to the Handler.
type events Gossip

// memberlist calls these with its node lock held, so copying n here is safe.
func (e *events) NotifyJoin(n *memberlist.Node) {
	m := member(n)
	e.mu.Lock()
	e.members[m.Name] = m
	e.mu.Unlock()
	if m.Name != e.cfg.NodeName {
		e.cfg.Handler.MemberJoin(m)
	}
}

func (e *events) NotifyLeave(n *memberlist.Node) {
	m := member(n)
	e.mu.Lock()
	delete(e.members, m.Name)
	e.mu.Unlock()
	if m.Name != e.cfg.NodeName {
		e.cfg.Handler.MemberLeave(m)
	}
}

func (e *events) NotifyUpdate(n *memberlist.Node) {
	m := member(n)
	e.mu.Lock()
	if _, ok := e.members[m.Name]; ok {
		e.members[m.Name] = m
	}
	e.mu.Unlock()
}

// levelWriter turns memberlist's log lines ("[WARN] memberlist: ...") into slog records of the matching level.
type levelWriter struct{ l *slog.Logger }

func (w levelWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	for prefix, l := range map[string]slog.Level{"[ERR]": slog.LevelError, "[WARN]": slog.LevelWarn,
		"[INFO]": slog.LevelInfo} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			level, line = l, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(strings.TrimPrefix(line, "[DEBUG]"), " ")
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}
