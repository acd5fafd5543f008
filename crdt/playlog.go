package crdt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// Fallback levels recorded on every play (ARCHITECTURE.md "Schedules and selection").
const (
	FallbackScheduled = "scheduled"
	FallbackSpot      = "spot"
	FallbackEmergency = "emergency"
	FallbackBuiltin   = "builtin"
	FallbackSilence   = "silence"
)

// PlayEvent is one proof-of-play event. The node fills every field; State.AppendPlay sets Node, Seq and PrevHash.
type PlayEvent struct {
	Node string
	// Seq numbers the node's events from 1, without gaps.
	Seq uint64
	HLC HLC
	// AssetID is the asset's uuid; empty for builtin and silence.
	AssetID string
	// SHA256 is the blob played, lowercase hex; empty for builtin and silence.
	SHA256 string
	// StartedAt is when playback started, unix milliseconds of trusted time.
	StartedAt int64
	// DurationMS is how long it played, in milliseconds (>= 0).
	DurationMS int64
	// Fallback is the fallback level: one of the Fallback* constants.
	Fallback string
	Zone     string
	// PrevHash is the Hash of the node's event Seq-1 (zero for Seq 1): the chain that makes a gap or a forged
	// event visible.
	PrevHash [32]byte
}

// Validate checks the event's fields (not its chain).
func (e PlayEvent) Validate() error {
	if err := checkID("play node", e.Node); err != nil {
		return err
	}
	if e.Seq == 0 {
		return fmt.Errorf("crdt: play event of %s: seq 0 (sequences start at 1)", e.Node)
	}
	switch e.Fallback {
	case FallbackScheduled, FallbackSpot, FallbackEmergency:
		if err := checkID("play asset id", e.AssetID); err != nil {
			return err
		}
		if _, err := ParseSHA256(e.SHA256); err != nil {
			return err
		}
	case FallbackBuiltin, FallbackSilence:
		if e.AssetID != "" && !validID(e.AssetID) {
			return checkID("play asset id", e.AssetID)
		}
		if e.SHA256 != "" {
			if _, err := ParseSHA256(e.SHA256); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("crdt: play event %s/%d: unknown fallback %q", e.Node, e.Seq, clip(e.Fallback))
	}
	if e.DurationMS < 0 {
		return fmt.Errorf("crdt: play event %s/%d: negative duration", e.Node, e.Seq)
	}
	return checkID("play zone", e.Zone)
}

// Hash is sha256 of the event's canonical bytes: the prefix "lomuz/play/v1" then every field, strings
// length-prefixed (4-byte big-endian length), integers 8 bytes big-endian, Logical 4 bytes, PrevHash raw.
func (e PlayEvent) Hash() [32]byte {
	b := make([]byte, 0, 160)
	b = appendLP(b, []byte(playDomain))
	b = appendLP(b, []byte(e.Node))
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.HLC.WallMS))
	b = binary.BigEndian.AppendUint32(b, e.HLC.Logical)
	b = appendLP(b, []byte(e.AssetID))
	b = appendLP(b, []byte(e.SHA256))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StartedAt))
	b = binary.BigEndian.AppendUint64(b, uint64(e.DurationMS))
	b = appendLP(b, []byte(e.Fallback))
	b = appendLP(b, []byte(e.Zone))
	b = append(b, e.PrevHash[:]...)
	return sha256.Sum256(b)
}

// Ack is origin's acknowledgement that it holds a node's events up to Seq; Hash is the Hash of event Seq, so the
// chain can be checked across the pruned part.
type Ack struct {
	Seq  uint64
	Hash [32]byte
}

func ackWins(a, b Ack) bool {
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	return bytes.Compare(a.Hash[:], b.Hash[:]) > 0
}

type playEntry struct {
	ack    Ack
	events map[uint64]PlayEvent // seq > ack.Seq only
	max    uint64               // the highest seq seen, events or ack
}

// PlayLog holds every node's unacknowledged play events and origin's ack watermark per node. Events at or below a
// node's ack are pruned as soon as the ack is known. The zero PlayLog is not usable; it lives inside a State.
type PlayLog struct {
	entries map[string]*playEntry
}

func newPlayLog() *PlayLog { return &PlayLog{entries: make(map[string]*playEntry)} }

func (p *PlayLog) entry(node string) *playEntry {
	e := p.entries[node]
	if e == nil {
		e = &playEntry{events: make(map[uint64]PlayEvent)}
		p.entries[node] = e
	}
	return e
}

// Nodes returns the nodes with a play log entry, sorted.
func (p *PlayLog) Nodes() []string { return sortedKeys(p.entries) }

// Acked returns origin's ack for node.
func (p *PlayLog) Acked(node string) Ack {
	if e := p.entries[node]; e != nil {
		return e.ack
	}
	return Ack{}
}

// Len returns the number of unacknowledged events held, all nodes together.
func (p *PlayLog) Len() int {
	n := 0
	for _, e := range p.entries {
		n += len(e.events)
	}
	return n
}

// Pending returns node's unacknowledged events held here, sorted by Seq.
func (p *PlayLog) Pending(node string) []PlayEvent {
	e := p.entries[node]
	if e == nil {
		return nil
	}
	out := make([]PlayEvent, 0, len(e.events))
	for _, ev := range e.events {
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b PlayEvent) int { return cmpU64(a.Seq, b.Seq) })
	return out
}

// ChainReport says what is known of one node's chain: events (Acked, Have] are all here and linked; Max is the
// highest seq seen; Broken lists the seqs whose PrevHash does not match the predecessor held here (a forgery or a
// node that lost its state); a gap shows as Have < Max.
type ChainReport struct {
	Acked, Have, Max uint64
	Broken           []uint64
}

// Chain checks node's hash chain over the events held here.
func (p *PlayLog) Chain(node string) ChainReport {
	e := p.entries[node]
	if e == nil {
		return ChainReport{}
	}
	r := ChainReport{Acked: e.ack.Seq, Have: e.have(), Max: e.max}
	for _, ev := range p.Pending(node) {
		var prev [32]byte
		switch {
		case ev.Seq == e.ack.Seq+1:
			prev = e.ack.Hash
		default:
			pe, ok := e.events[ev.Seq-1]
			if !ok {
				continue
			}
			prev = pe.Hash()
		}
		if ev.PrevHash != prev {
			r.Broken = append(r.Broken, ev.Seq)
		}
	}
	return r
}

// have is the highest seq such that every event in (ack, have] is held.
func (e *playEntry) have() uint64 {
	h := e.ack.Seq
	for {
		if _, ok := e.events[h+1]; !ok {
			return h
		}
		h++
	}
}

// tip returns the next seq and the PrevHash it must carry.
func (e *playEntry) tip() (uint64, [32]byte) {
	if ev, ok := e.events[e.max]; ok {
		return e.max + 1, ev.Hash()
	}
	if e.ack.Seq == e.max {
		return e.max + 1, e.ack.Hash
	}
	// The last event is known to exist (seen pruned or counted) but is not here: the chain link cannot be made.
	return e.max + 1, [32]byte{}
}

func (e *playEntry) setAck(a Ack) bool {
	if !ackWins(a, e.ack) {
		return false
	}
	e.ack = a
	for s := range e.events {
		if s <= a.Seq {
			delete(e.events, s)
		}
	}
	if a.Seq > e.max {
		e.max = a.Seq
	}
	return true
}

// put stores an event; it returns whether it entered and whether it conflicted with a different event at the same
// seq (the lower Hash is kept, so every replica keeps the same one).
func (e *playEntry) put(ev PlayEvent) (entered, conflict bool) {
	if ev.Seq <= e.ack.Seq {
		return false, false
	}
	if old, ok := e.events[ev.Seq]; ok {
		if old == ev {
			return false, false
		}
		oh, nh := old.Hash(), ev.Hash()
		if bytes.Compare(nh[:], oh[:]) >= 0 {
			return false, true
		}
		e.events[ev.Seq] = ev
		return true, true
	}
	e.events[ev.Seq] = ev
	if ev.Seq > e.max {
		e.max = ev.Seq
	}
	return true, false
}

// PlaySummary says what a replica holds of one node's log: origin's ack and the contiguous prefix above it.
type PlaySummary struct {
	Acked, Have uint64
}

// PlayDelta carries one node's ack (Ack.Seq 0: none) and events sorted by Seq, all of that node.
type PlayDelta struct {
	Node   string
	Ack    Ack
	Events []PlayEvent
}

func (e *playEntry) deltaFor(node string, s PlaySummary) (PlayDelta, bool) {
	d := PlayDelta{Node: node}
	if e.ack.Seq > s.Acked {
		d.Ack = e.ack
	}
	from := max(s.Have, s.Acked)
	for seq, ev := range e.events {
		if seq > from {
			d.Events = append(d.Events, ev)
		}
	}
	slices.SortFunc(d.Events, func(a, b PlayEvent) int { return cmpU64(a.Seq, b.Seq) })
	return d, d.Ack.Seq != 0 || len(d.Events) > 0
}
