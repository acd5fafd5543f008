package crdt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// BlobState is what a node says about one blob.
type BlobState uint8

const (
	// BlobRemoved marks a blob the node no longer holds nor fetches (a tombstone until compacted).
	BlobRemoved BlobState = 0
	// BlobHeld: the node holds the blob, verified, and can serve it.
	BlobHeld BlobState = 1
	// BlobFetching: the node is fetching the blob; Bytes and ProgressMS say how far and when it last moved.
	BlobFetching BlobState = 2
)

func (s BlobState) String() string {
	switch s {
	case BlobRemoved:
		return "removed"
	case BlobHeld:
		return "held"
	case BlobFetching:
		return "fetching"
	}
	return fmt.Sprintf("BlobState(%d)", uint8(s))
}

// BlobItem is one node's word about one blob, written by that node at its Counter-th inventory write.
type BlobItem struct {
	SHA     [32]byte
	Counter uint64
	State   BlobState
	// Bytes is the prefix length fetched so far (BlobFetching only; 0 otherwise).
	Bytes uint64
	// ProgressMS is when Bytes last grew, in unix milliseconds of trusted time (BlobFetching only; 0 otherwise).
	ProgressMS int64
}

func (b BlobItem) validate() error {
	switch b.State {
	case BlobRemoved, BlobHeld:
		if b.Bytes != 0 || b.ProgressMS != 0 {
			return fmt.Errorf("crdt: blob %s: progress on a %v blob", shortSHA(b.SHA), b.State)
		}
	case BlobFetching:
	default:
		return fmt.Errorf("crdt: blob %s: unknown state %d", shortSHA(b.SHA), b.State)
	}
	if b.Counter == 0 {
		return fmt.Errorf("crdt: blob %s: counter 0 (counters start at 1)", shortSHA(b.SHA))
	}
	return nil
}

// blobTable interns the sha256 of every blob the store has named, so each node's entry keys its items by a 4-byte
// index instead of 32 bytes: 10,000 blobs x 50 nodes is then ~20 bytes an item instead of ~100. It only grows, by
// the distinct blobs of the store.
type blobTable struct {
	ids  map[[32]byte]uint32
	shas [][32]byte
}

func (t *blobTable) intern(sha [32]byte) uint32 {
	if id, ok := t.ids[sha]; ok {
		return id
	}
	id := uint32(len(t.shas))
	t.ids[sha] = id
	t.shas = append(t.shas, sha)
	return id
}

// invVal is an item without its sha (the map key) and progress (kept apart: only fetching items have it).
type invVal struct {
	counter uint64
	state   BlobState
}

type progress struct {
	bytes uint64
	ms    int64
}

// invEntry is one node's inventory as known here. Each write of the owner takes the next counter and rewrites one
// item. version: every write up to it is known (a contiguous prefix); max: the highest counter seen; base: writes up
// to it that removed a blob have been compacted away (a missing item at or below base is a removed one).
type invEntry struct {
	tab                *blobTable
	version, max, base uint64
	items              map[uint32]invVal
	prog               map[uint32]progress
	tombs              int
}

// Inventory is the per-node map of blobs held and being fetched. Each node writes only its own entry (through
// State); everyone merges everyone's. The zero Inventory is not usable; it lives inside a State.
type Inventory struct {
	entries map[string]*invEntry
	tab     blobTable
}

func newInventory() *Inventory {
	return &Inventory{entries: make(map[string]*invEntry), tab: blobTable{ids: make(map[[32]byte]uint32)}}
}

func (v *Inventory) entry(node string) *invEntry {
	e := v.entries[node]
	if e == nil {
		e = &invEntry{tab: &v.tab, items: make(map[uint32]invVal), prog: make(map[uint32]progress)}
		v.entries[node] = e
	}
	return e
}

// get returns the item for an interned blob.
func (e *invEntry) get(id uint32) (BlobItem, bool) {
	iv, ok := e.items[id]
	if !ok {
		return BlobItem{SHA: e.tab.shas[id]}, false
	}
	it := BlobItem{SHA: e.tab.shas[id], Counter: iv.counter, State: iv.state}
	if iv.state == BlobFetching {
		p := e.prog[id]
		it.Bytes, it.ProgressMS = p.bytes, p.ms
	}
	return it, true
}

// lookup returns the item for a sha (ok false when absent).
func (e *invEntry) lookup(sha [32]byte) (BlobItem, bool) {
	id, ok := e.tab.ids[sha]
	if !ok {
		return BlobItem{SHA: sha}, false
	}
	return e.get(id)
}

// del removes an item, keeping the tombstone count.
func (e *invEntry) del(id uint32) {
	if iv, ok := e.items[id]; ok {
		if iv.state == BlobRemoved {
			e.tombs--
		}
		delete(e.items, id)
		delete(e.prog, id)
	}
}

// Nodes returns the nodes with an inventory entry, sorted.
func (v *Inventory) Nodes() []string { return sortedKeys(v.entries) }

// Version returns the contiguous write counter known for node.
func (v *Inventory) Version(node string) uint64 {
	if e := v.entries[node]; e != nil {
		return e.version
	}
	return 0
}

// Blob returns what node said last about the blob (ok false when nothing is known, or it was removed).
func (v *Inventory) Blob(node string, sha [32]byte) (BlobItem, bool) {
	if e := v.entries[node]; e != nil {
		if it, ok := e.lookup(sha); ok && it.State != BlobRemoved {
			return it, true
		}
	}
	return BlobItem{}, false
}

// Holders returns the nodes that hold the blob, sorted.
func (v *Inventory) Holders(sha [32]byte) []string {
	id, ok := v.tab.ids[sha]
	if !ok {
		return nil
	}
	var out []string
	for n, e := range v.entries {
		if e.items[id].state == BlobHeld { // a missing item reads as BlobRemoved
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Fetchers returns the nodes fetching the blob with their progress, sorted by node.
func (v *Inventory) Fetchers(sha [32]byte) []NodeBlob {
	id, ok := v.tab.ids[sha]
	if !ok {
		return nil
	}
	var out []NodeBlob
	for n, e := range v.entries {
		if it, ok := e.get(id); ok && it.State == BlobFetching {
			out = append(out, NodeBlob{Node: n, Item: it})
		}
	}
	slices.SortFunc(out, func(a, b NodeBlob) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// Items returns node's live items (held or fetching), sorted by sha.
func (v *Inventory) Items(node string) []BlobItem {
	e := v.entries[node]
	if e == nil {
		return nil
	}
	out := make([]BlobItem, 0, len(e.items)-e.tombs)
	for id, iv := range e.items {
		if iv.state != BlobRemoved {
			it, _ := e.get(id)
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b BlobItem) int { return compareSHA(a.SHA, b.SHA) })
	return out
}

func compareSHA(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }

// shortSHA is a hash's first 6 bytes in hex, for error messages (taking the array by value keeps callers'
// items off the heap).
func shortSHA(h [32]byte) string { return hex.EncodeToString(h[:6]) }

// NodeBlob is one node's item, as reported in Changes and by Fetchers.
type NodeBlob struct {
	Node string
	Item BlobItem
}

// SHAHex is the item's sha256 in lowercase hex.
func (n NodeBlob) SHAHex() string { return hex.EncodeToString(n.Item.SHA[:]) }

// write records the owner's new word about a blob; it returns false when nothing changed (no counter is taken).
// tombLimit is how many removal tombstones the entry keeps before compacting them all.
func (e *invEntry) write(it BlobItem, tombLimit int) (BlobItem, bool) {
	old, had := e.lookup(it.SHA)
	if (!had && it.State == BlobRemoved) ||
		(had && old.State == it.State && old.Bytes == it.Bytes && old.ProgressMS == it.ProgressMS) {
		return old, false
	}
	e.max++
	e.version = e.max
	it.Counter = e.max
	e.set(it)
	if e.tombs > tombLimit {
		e.compact(e.version)
	}
	return it, true
}

// set replaces the item for its sha, keeping the tombstone count.
func (e *invEntry) set(it BlobItem) {
	id := e.tab.intern(it.SHA)
	e.del(id)
	if it.State == BlobRemoved {
		e.tombs++
	}
	e.items[id] = invVal{counter: it.Counter, state: it.State}
	if it.State == BlobFetching {
		e.prog[id] = progress{bytes: it.Bytes, ms: it.ProgressMS}
	}
	if it.Counter > e.max {
		e.max = it.Counter
	}
}

// compact forgets removal tombstones written at or before base.
func (e *invEntry) compact(base uint64) {
	if base <= e.base {
		return
	}
	e.base = base
	for id, iv := range e.items {
		if iv.state == BlobRemoved && iv.counter <= base {
			e.del(id)
		}
	}
}

// InventoryDelta carries writes of one node's inventory, sorted by Counter. When To > From it claims every write in
// (From, To] that the receiver lacks; Full means Items are every item the sender holds for the node, removals up to
// Base compacted away, so the receiver drops its items at or below Base that are not in the delta.
type InventoryDelta struct {
	Node     string
	From, To uint64
	Full     bool
	Base     uint64
	Items    []BlobItem
}

func (e *invEntry) deltaFor(node string, have uint64) (InventoryDelta, bool) {
	if e.max <= have && e.version <= have {
		return InventoryDelta{}, false
	}
	d := InventoryDelta{Node: node}
	if have < e.base {
		d.Full, d.Base, d.To = true, e.base, e.version
		d.Items = make([]BlobItem, 0, len(e.items))
		for id := range e.items {
			it, _ := e.get(id)
			d.Items = append(d.Items, it)
		}
	} else {
		for id, iv := range e.items {
			if iv.counter > have {
				it, _ := e.get(id)
				d.Items = append(d.Items, it)
			}
		}
		if e.version > have {
			d.From, d.To = have, e.version
		}
	}
	slices.SortFunc(d.Items, compareItems)
	return d, true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// merge applies a delta for this entry; changed gets every item whose state changed here (for Changes and relay).
func (e *invEntry) merge(d *InventoryDelta, changed func(before, after BlobItem)) {
	if d.Full && d.Base > e.base {
		e.compact(d.Base) // first, so changed sees the new base
		in := make(map[[32]byte]struct{}, len(d.Items))
		for _, it := range d.Items {
			in[it.SHA] = struct{}{}
		}
		for id, iv := range e.items {
			sha := e.tab.shas[id]
			if _, ok := in[sha]; !ok && iv.counter <= d.Base {
				if iv.state != BlobRemoved {
					old, _ := e.get(id)
					changed(old, BlobItem{SHA: sha, State: BlobRemoved, Counter: d.Base})
				}
				e.del(id)
			}
		}
	}
	for _, it := range d.Items {
		old, ok := e.lookup(it.SHA)
		if ok && !itemWins(it, old) {
			continue
		}
		// A whole entry compacted as far as this one lists the live items below the base: take them.
		if !ok && it.Counter <= e.base && !(d.Full && d.Base >= e.base) {
			// Compacted through base: a missing item written there was removed (or overwritten) since. Above
			// base an outdated item is harmless: the newer write is above the version and replaces it.
			continue
		}
		if it.State == BlobRemoved && it.Counter <= e.base {
			e.del(e.tab.ids[it.SHA])
			if old.State != BlobRemoved {
				changed(old, it)
			}
			continue
		}
		e.set(it)
		changed(old, it)
	}
	if d.To > d.From && (d.Full || d.From <= e.version) && d.To > e.version {
		e.version = d.To
	}
	if e.version > e.max {
		e.max = e.version
	}
}

// mergeOwn merges a peer's word about this replica's own entry. A replica that never lost state learns nothing new
// about its own entry; what it does learn was written by an earlier life of this node that a restart from an older
// snapshot forgot. life is the counter of this life's first write (0: none yet). Before that write the entry only
// catches up, like a Lamport clock: its counter continues above the highest the peers hold. After it, the earlier
// life may have used the counters this life reused, so the peer ignores this life's writes (it holds the same blob at
// a counter as high, or claims the counter as known): this life's items are then kept and written anew above every
// counter seen, as the entry's only writer would. It returns the counter of the first item written anew (0: none).
func (e *invEntry) mergeOwn(d *InventoryDelta, life uint64, changed func(before, after BlobItem)) uint64 {
	hi := uint64(0)
	if life > 0 {
		hi = e.forgottenAbove(d, life)
	}
	if hi == 0 {
		e.merge(d, changed)
		return 0
	}
	var mine []BlobItem
	for id, iv := range e.items {
		if iv.counter >= life {
			it, _ := e.get(id)
			mine = append(mine, it)
		}
	}
	slices.SortFunc(mine, compareItems)
	e.merge(d, changed)
	e.max = max(e.max, hi)
	first := uint64(0)
	for _, it := range mine {
		if cur, ok := e.lookup(it.SHA); ok && cur == it && it.Counter > hi {
			continue // above everything the earlier life wrote: the peer takes it
		}
		e.max++
		if first == 0 {
			first = e.max
		}
		it.Counter = e.max
		e.set(it)
	}
	e.version = e.max
	return first
}

// forgottenAbove returns the highest counter at or above life that d says an earlier life of this node wrote, or 0
// when it holds none: an item this replica does not hold as is (nor newer), a coverage claim or a compaction beyond
// anything this replica wrote.
func (e *invEntry) forgottenAbove(d *InventoryDelta, life uint64) uint64 {
	hi := uint64(0)
	for _, it := range d.Items {
		if it.Counter < life || it.Counter <= e.base {
			continue // below this life, or an echo of a removal this replica compacted
		}
		if cur, ok := e.lookup(it.SHA); !ok || itemWins(it, cur) {
			hi = max(hi, it.Counter)
		}
	}
	if d.To > e.max {
		hi = max(hi, d.To)
	}
	if d.Full && d.Base > e.base {
		hi = max(hi, d.Base) // only the writer compacts, and this replica never compacted that far
	}
	if hi < life {
		return 0
	}
	return hi
}

// itemWins reports whether item a replaces b (same blob): the later write, and between two writes at one counter
// (an earlier life of the writer made one, a later life reused its counter) the greater content, so that every
// replica keeps the same one.
func itemWins(a, b BlobItem) bool {
	if a.Counter != b.Counter {
		return a.Counter > b.Counter
	}
	if a.State != b.State {
		return a.State > b.State
	}
	if a.Bytes != b.Bytes {
		return a.Bytes > b.Bytes
	}
	return a.ProgressMS > b.ProgressMS
}

// compareItems is an entry's canonical order: by counter, then by blob (two items share a counter only after their
// writer reused counters it had forgotten).
func compareItems(a, b BlobItem) int {
	if c := cmpU64(a.Counter, b.Counter); c != 0 {
		return c
	}
	return compareSHA(a.SHA, b.SHA)
}
