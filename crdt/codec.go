package crdt

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Bounds of the binary encodings. Decoders reject anything larger before allocating for it.
const (
	// MaxDeltaBytes bounds an encoded delta. A whole store of 100,000 records (~400 bytes each) and 50 nodes x
	// 10,000 blobs is about 45 MB: above this bound, and above the 8 MiB push/pull state of peer/gossip, such a
	// store is sent (and persisted) in parts cut by Split.
	MaxDeltaBytes = 32 << 20
	// MaxSummaryBytes bounds an encoded summary.
	MaxSummaryBytes = 4 << 20
	// maxNodes bounds the nodes of one store in a delta or summary; maxZones its zones.
	maxNodes = 4096
	maxZones = 4096
	// maxSummaryExtras bounds Summary.Catalog.Extras.
	maxSummaryExtras = 50000
)

const (
	deltaKind   = 'D'
	summaryKind = 'S'
	// codecVersion is the format version of both encodings. A decoder rejects any other with ErrVersion.
	codecVersion = 1
)

var fallbackCodes = []string{FallbackScheduled, FallbackSpot, FallbackEmergency, FallbackBuiltin, FallbackSilence}

// EncodeDelta returns the canonical encoding of a valid delta (see doc.go for the layout).
func EncodeDelta(d Delta) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	w := &writer{b: make([]byte, 0, sizeHint(&d))}
	encodeDelta(w, &d)
	if len(w.b) > MaxDeltaBytes {
		return nil, fmt.Errorf("crdt: delta of %d bytes over limit %d: split it", len(w.b), MaxDeltaBytes)
	}
	return w.b, nil
}

func encodeDelta(w *writer, d *Delta) {
	w.byte1(deltaKind)
	w.byte1(codecVersion)
	w.str(d.Tenant)
	c := &d.Catalog
	w.uvarint(c.From)
	w.uvarint(c.To)
	w.uvarint(c.Horizon)
	w.uvarint(c.Complete)
	w.bool1(c.Reset)
	if c.Reset {
		w.uvarint(uint64(len(c.Survivors)))
		for _, f := range c.Survivors {
			w.b = binary.BigEndian.AppendUint64(w.b, f)
		}
	}
	w.uvarint(uint64(len(c.Records)))
	var prev uint64
	for _, r := range c.Records {
		w.str(r.Key)
		w.uvarint(r.Rev - prev) // records are sorted by rev: store the step
		prev = r.Rev
		w.bool1(r.Deleted)
		w.bytes(r.Body)
		w.bytes(r.Sig)
	}
	w.uvarint(uint64(len(c.Held)))
	for _, kr := range c.Held {
		w.str(kr.Key)
		w.uvarint(kr.Rev)
	}
	// Blob hashes are written once in a sorted table and items refer to them by index: the nodes of a store
	// mostly hold the same blobs, so a whole store's inventory shrinks from ~34 to ~4 bytes an item.
	table := shaTable(d.Inventory)
	w.uvarint(uint64(len(table)))
	index := make(map[[32]byte]uint64, len(table))
	for i, h := range table {
		w.hash(h)
		index[h] = uint64(i)
	}
	w.uvarint(uint64(len(d.Inventory)))
	for i := range d.Inventory {
		encodeInventory(w, &d.Inventory[i], index)
	}
	w.uvarint(uint64(len(d.Plays)))
	for _, pd := range d.Plays {
		w.str(pd.Node)
		w.uvarint(pd.Ack.Seq)
		if pd.Ack.Seq != 0 {
			w.hash(pd.Ack.Hash)
		}
		w.uvarint(uint64(len(pd.Events)))
		var prev uint64
		for _, ev := range pd.Events {
			encodeEvent(w, &ev, prev)
			prev = ev.Seq
		}
	}
	w.uvarint(uint64(len(d.Times)))
	for _, nt := range d.Times {
		w.str(nt.Node)
		w.varint(nt.Time.UnixMilli)
		w.bytes(nt.Time.Sig)
	}
	w.uvarint(uint64(len(d.Overrides)))
	for _, o := range d.Overrides {
		w.str(o.Zone)
		w.varint(o.HLC.WallMS)
		w.uvarint(uint64(o.HLC.Logical))
		w.str(o.Writer)
		w.byte1(o.Settings.VolumePct)
		w.varint(o.Settings.MuteFromMS)
		w.varint(o.Settings.MuteUntilMS)
	}
}

// sizeHint is a cheap estimate of a delta's encoded size, so the buffer grows at most once or twice.
func sizeHint(d *Delta) int {
	n := 64 + len(d.Tenant) + 8*len(d.Catalog.Survivors)
	for _, r := range d.Catalog.Records {
		n += len(r.Key) + len(r.Body) + len(r.Sig) + 8
	}
	for _, kr := range d.Catalog.Held {
		n += len(kr.Key) + 4
	}
	for _, id := range d.Inventory {
		n += len(id.Node) + 16 + 8*len(id.Items)
	}
	if len(d.Inventory) > 0 {
		n += 32 * len(d.Inventory[0].Items) // most blobs are shared: the table is about one entry's size
	}
	for _, pd := range d.Plays {
		n += len(pd.Node) + 48 + 140*len(pd.Events)
	}
	n += 80*len(d.Times) + 64*len(d.Overrides)
	return min(n, MaxDeltaBytes)
}

// shaTable returns the distinct blob hashes of the inventory deltas, sorted.
func shaTable(ids []InventoryDelta) [][32]byte {
	set := make(map[[32]byte]struct{})
	for _, id := range ids {
		for _, it := range id.Items {
			set[it.SHA] = struct{}{}
		}
	}
	out := make([][32]byte, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	slices.SortFunc(out, compareSHA)
	return out
}

func encodeInventory(w *writer, id *InventoryDelta, index map[[32]byte]uint64) {
	w.str(id.Node)
	w.uvarint(id.From)
	w.uvarint(id.To)
	w.bool1(id.Full)
	if id.Full {
		w.uvarint(id.Base)
	}
	w.uvarint(uint64(len(id.Items)))
	var prev uint64
	for _, it := range id.Items {
		w.uvarint(index[it.SHA])
		w.uvarint(it.Counter - prev) // sorted by counter: store the step
		prev = it.Counter
		w.byte1(byte(it.State))
		if it.State == BlobFetching {
			w.uvarint(it.Bytes)
			w.varint(it.ProgressMS)
		}
	}
}

func encodeEvent(w *writer, ev *PlayEvent, prevSeq uint64) {
	w.uvarint(ev.Seq - prevSeq)
	w.varint(ev.HLC.WallMS)
	w.uvarint(uint64(ev.HLC.Logical))
	w.str(ev.AssetID)
	if ev.SHA256 == "" {
		w.byte1(0)
	} else {
		w.byte1(1)
		h, _ := ParseSHA256(ev.SHA256) // validated
		w.hash(h)
	}
	w.varint(ev.StartedAt)
	w.varint(ev.DurationMS)
	w.byte1(byte(slices.Index(fallbackCodes, ev.Fallback)))
	w.str(ev.Zone)
	w.hash(ev.PrevHash)
}

// DecodeDelta decodes and validates a delta. The result never aliases b. Errors wrap ErrMalformed or ErrVersion.
func DecodeDelta(b []byte) (Delta, error) {
	if len(b) > MaxDeltaBytes {
		return Delta{}, malformed("delta of %d bytes over limit %d", len(b), MaxDeltaBytes)
	}
	r := &reader{b: b}
	if err := r.header(deltaKind, codecVersion); err != nil {
		return Delta{}, err
	}
	var d Delta
	d.Tenant = r.str(MaxIDLen)
	c := &d.Catalog
	c.From = r.uvarint()
	c.To = r.uvarint()
	c.Horizon = r.uvarint()
	c.Complete = r.uvarint()
	c.Reset = r.bool1()
	if c.Reset {
		n := r.count(r.remaining(), 8)
		c.Survivors = make([]uint64, 0, n)
		for range n {
			if r.remaining() < 8 {
				r.fail("truncated")
				break
			}
			c.Survivors = append(c.Survivors, binary.BigEndian.Uint64(r.b[r.off:]))
			r.off += 8
		}
	}
	n := r.count(r.remaining(), 5)
	if n > 0 {
		c.Records = make([]Record, 0, n)
	}
	var prev uint64
	for range n {
		if r.err != nil {
			break
		}
		var rec Record
		rec.Key = r.str(MaxKeyLen)
		rec.Tenant = d.Tenant
		step := r.uvarint()
		if step > ^uint64(0)-prev {
			r.fail("revision overflows")
		}
		rec.Rev = prev + step
		prev = rec.Rev
		rec.Deleted = r.bool1()
		rec.Body = r.bytes(MaxBodyLen)
		rec.Sig = r.bytes(MaxSigLen)
		c.Records = append(c.Records, rec)
	}
	n = r.count(maxSummaryExtras, 3)
	for range n {
		if r.err != nil {
			break
		}
		c.Held = append(c.Held, KeyRev{Key: r.str(MaxKeyLen), Rev: r.uvarint()})
	}
	n = r.count(r.remaining(), 32)
	table := make([][32]byte, 0, n)
	for i := range n {
		h := r.hash()
		if r.err == nil && i > 0 && compareSHA(table[i-1], h) >= 0 {
			r.fail("blob table not sorted and unique")
		}
		table = append(table, h)
	}
	used := make([]bool, len(table))
	n = r.count(maxNodes, 6)
	for range n {
		if r.err != nil {
			break
		}
		d.Inventory = append(d.Inventory, decodeInventory(r, table, used))
	}
	for _, u := range used {
		if !u && r.err == nil {
			r.fail("blob table entry not used")
		}
	}
	n = r.count(maxNodes, 3)
	for range n {
		if r.err != nil {
			break
		}
		pd := PlayDelta{Node: r.str(MaxIDLen)}
		pd.Ack.Seq = r.uvarint()
		if pd.Ack.Seq != 0 {
			pd.Ack.Hash = r.hash()
		}
		m := r.count(r.remaining(), 40)
		var prev uint64
		for range m {
			if r.err != nil {
				break
			}
			ev := decodeEvent(r, pd.Node, prev)
			prev = ev.Seq
			pd.Events = append(pd.Events, ev)
		}
		d.Plays = append(d.Plays, pd)
	}
	n = r.count(maxNodes, 3)
	for range n {
		if r.err != nil {
			break
		}
		nt := NodeTime{Node: r.str(MaxIDLen)}
		nt.Time.UnixMilli = r.varint()
		nt.Time.Sig = r.bytes(MaxSigLen)
		d.Times = append(d.Times, nt)
	}
	n = r.count(maxZones, 8)
	for range n {
		if r.err != nil {
			break
		}
		var o Override
		o.Zone = r.str(MaxIDLen)
		o.HLC = decodeHLC(r)
		o.Writer = r.str(MaxIDLen)
		o.Settings.VolumePct = r.byte1()
		o.Settings.MuteFromMS = r.varint()
		o.Settings.MuteUntilMS = r.varint()
		d.Overrides = append(d.Overrides, o)
	}
	if err := r.finish(); err != nil {
		return Delta{}, err
	}
	if err := d.Validate(); err != nil {
		return Delta{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return d, nil
}

func decodeHLC(r *reader) HLC {
	h := HLC{WallMS: r.varint()}
	l := r.uvarint()
	if l > uint64(^uint32(0)) {
		r.fail("hlc logical overflows")
	}
	h.Logical = uint32(l)
	return h
}

func decodeInventory(r *reader, table [][32]byte, used []bool) InventoryDelta {
	id := InventoryDelta{Node: r.str(MaxIDLen)}
	id.From = r.uvarint()
	id.To = r.uvarint()
	id.Full = r.bool1()
	if id.Full {
		id.Base = r.uvarint()
	}
	n := r.count(r.remaining(), 3)
	if n > 0 {
		id.Items = make([]BlobItem, 0, n)
	}
	var prev uint64
	for range n {
		if r.err != nil {
			break
		}
		var it BlobItem
		if i := r.uvarint(); i < uint64(len(table)) {
			it.SHA = table[i]
			used[i] = true
		} else {
			r.fail("blob index %d outside the table of %d", i, len(table))
		}
		step := r.uvarint()
		if step > ^uint64(0)-prev {
			r.fail("counter overflows")
		}
		it.Counter = prev + step
		prev = it.Counter
		it.State = BlobState(r.byte1())
		if it.State == BlobFetching {
			it.Bytes = r.uvarint()
			it.ProgressMS = r.varint()
		}
		id.Items = append(id.Items, it)
	}
	return id
}

func decodeEvent(r *reader, node string, prevSeq uint64) PlayEvent {
	ev := PlayEvent{Node: node}
	step := r.uvarint()
	if step > ^uint64(0)-prevSeq {
		r.fail("seq overflows")
	}
	ev.Seq = prevSeq + step
	ev.HLC = decodeHLC(r)
	ev.AssetID = r.str(MaxIDLen)
	switch r.byte1() {
	case 0:
	case 1:
		h := r.hash()
		ev.SHA256 = hex.EncodeToString(h[:])
	default:
		r.fail("bad sha flag")
	}
	ev.StartedAt = r.varint()
	ev.DurationMS = r.varint()
	if f := int(r.byte1()); f < len(fallbackCodes) {
		ev.Fallback = fallbackCodes[f]
	} else {
		r.fail("unknown fallback code %d", f)
	}
	ev.Zone = r.str(MaxIDLen)
	ev.PrevHash = r.hash()
	return ev
}

// EncodeSummary returns the canonical encoding of a summary: a sorted table of the node ids it names, then each
// part referring to nodes by index.
func EncodeSummary(s Summary) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	nodes := s.nodeTable()
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		idx[n] = i
	}
	w := &writer{b: make([]byte, 0, 64)}
	w.byte1(summaryKind)
	w.byte1(codecVersion)
	w.uvarint(uint64(len(nodes)))
	for _, n := range nodes {
		w.str(n)
	}
	w.uvarint(s.Catalog.Watermark)
	w.uvarint(s.Catalog.Horizon)
	w.bool1(s.Catalog.Truncated)
	w.uvarint(uint64(len(s.Catalog.Extras)))
	for _, e := range s.Catalog.Extras {
		w.str(e.Key)
		w.uvarint(e.Rev)
	}
	inv := s.Inventory.nodes()
	w.uvarint(uint64(len(inv)))
	for _, n := range inv {
		w.uvarint(uint64(idx[n]))
		w.uvarint(s.Inventory[n])
	}
	plays := sortedKeys(s.Plays)
	w.uvarint(uint64(len(plays)))
	for _, n := range plays {
		p := s.Plays[n]
		w.uvarint(uint64(idx[n]))
		w.uvarint(p.Acked)
		w.uvarint(p.Have - p.Acked)
	}
	times := sortedKeys(s.Times)
	w.uvarint(uint64(len(times)))
	for _, n := range times {
		w.uvarint(uint64(idx[n]))
		w.varint(s.Times[n])
	}
	zones := sortedKeys(s.Overrides)
	w.uvarint(uint64(len(zones)))
	for _, z := range zones {
		st := s.Overrides[z]
		w.str(z)
		w.varint(st.HLC.WallMS)
		w.uvarint(uint64(st.HLC.Logical))
		w.str(st.Writer)
	}
	if len(w.b) > MaxSummaryBytes {
		return nil, fmt.Errorf("crdt: summary of %d bytes over limit %d", len(w.b), MaxSummaryBytes)
	}
	return w.b, nil
}

func (s *Summary) nodeTable() []string {
	set := make(map[string]struct{})
	for n := range s.Inventory {
		set[n] = struct{}{}
	}
	for n := range s.Plays {
		set[n] = struct{}{}
	}
	for n := range s.Times {
		set[n] = struct{}{}
	}
	return sortedKeys(set)
}

func (s *Summary) validate() error {
	if len(s.Catalog.Extras) > maxSummaryExtras {
		return fmt.Errorf("crdt: summary lists %d extras, limit %d", len(s.Catalog.Extras), maxSummaryExtras)
	}
	for i, e := range s.Catalog.Extras {
		if err := ValidateKey(e.Key); err != nil {
			return err
		}
		if e.Rev <= s.Catalog.Watermark {
			return fmt.Errorf("crdt: summary extra %s at revision %d, not above watermark %d", e.Key, e.Rev, s.Catalog.Watermark)
		}
		if i > 0 && s.Catalog.Extras[i-1].Key >= e.Key {
			return fmt.Errorf("crdt: summary extras not sorted and unique at %s", e.Key)
		}
	}
	nodes := s.nodeTable()
	if len(nodes) > maxNodes {
		return fmt.Errorf("crdt: summary names %d nodes, limit %d", len(nodes), maxNodes)
	}
	for _, n := range nodes {
		if err := checkID("summary node", n); err != nil {
			return err
		}
	}
	for n, p := range s.Plays {
		if p.Have < p.Acked {
			return fmt.Errorf("crdt: summary of %s's plays: have %d below acked %d", n, p.Have, p.Acked)
		}
	}
	if len(s.Overrides) > maxZones {
		return fmt.Errorf("crdt: summary names %d zones, limit %d", len(s.Overrides), maxZones)
	}
	for z, st := range s.Overrides {
		if err := checkID("summary zone", z); err != nil {
			return err
		}
		if err := checkID("summary writer", st.Writer); err != nil {
			return err
		}
	}
	return nil
}

// DecodeSummary decodes and validates a summary. Errors wrap ErrMalformed or ErrVersion.
func DecodeSummary(b []byte) (Summary, error) {
	if len(b) > MaxSummaryBytes {
		return Summary{}, malformed("summary of %d bytes over limit %d", len(b), MaxSummaryBytes)
	}
	r := &reader{b: b}
	if err := r.header(summaryKind, codecVersion); err != nil {
		return Summary{}, err
	}
	n := r.count(maxNodes, 2)
	nodes := make([]string, 0, n)
	for range n {
		nodes = append(nodes, r.str(MaxIDLen))
	}
	used := make([]bool, len(nodes))
	// ref reads a node index; within one part indices must increase (the canonical order).
	ref := func(last *int) string {
		i := r.uvarint()
		if r.err != nil {
			return ""
		}
		if i >= uint64(len(nodes)) || int(i) <= *last {
			r.fail("bad node index %d", i)
			return ""
		}
		*last = int(i)
		used[i] = true
		return nodes[i]
	}
	s := Summary{Inventory: VersionVector{}, Plays: map[string]PlaySummary{}, Times: map[string]int64{},
		Overrides: map[string]OverrideStamp{}}
	s.Catalog.Watermark = r.uvarint()
	s.Catalog.Horizon = r.uvarint()
	s.Catalog.Truncated = r.bool1()
	n = r.count(maxSummaryExtras, 3)
	for range n {
		if r.err != nil {
			break
		}
		s.Catalog.Extras = append(s.Catalog.Extras, KeyRev{Key: r.str(MaxKeyLen), Rev: r.uvarint()})
	}
	last := -1
	for range r.count(maxNodes, 2) {
		node := ref(&last)
		s.Inventory[node] = r.uvarint()
	}
	last = -1
	for range r.count(maxNodes, 3) {
		node := ref(&last)
		acked := r.uvarint()
		step := r.uvarint()
		if step > ^uint64(0)-acked {
			r.fail("play summary overflows")
		}
		s.Plays[node] = PlaySummary{Acked: acked, Have: acked + step}
	}
	last = -1
	for range r.count(maxNodes, 2) {
		node := ref(&last)
		s.Times[node] = r.varint()
	}
	prevZone := ""
	for range r.count(maxZones, 5) {
		z := r.str(MaxIDLen)
		st := OverrideStamp{HLC: decodeHLC(r), Writer: r.str(MaxIDLen)}
		if r.err == nil && z <= prevZone {
			r.fail("zones not sorted and unique")
		}
		prevZone = z
		s.Overrides[z] = st
	}
	if err := r.finish(); err != nil {
		return Summary{}, err
	}
	for i, n := range nodes {
		if !used[i] || (i > 0 && nodes[i-1] >= n) {
			return Summary{}, malformed("node table not sorted, unique and used")
		}
	}
	if err := s.validate(); err != nil {
		return Summary{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return s, nil
}

// String renders a delta's size by part, for logs and tests.
func (d Delta) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "delta{records %d", len(d.Catalog.Records))
	if d.Catalog.To > d.Catalog.From {
		fmt.Fprintf(&b, " covering (%d,%d]", d.Catalog.From, d.Catalog.To)
	}
	if d.Catalog.Reset {
		fmt.Fprintf(&b, " reset@%d/%d keys", d.Catalog.Horizon, len(d.Catalog.Survivors))
	}
	items := 0
	for _, id := range d.Inventory {
		items += len(id.Items)
	}
	events := 0
	for _, pd := range d.Plays {
		events += len(pd.Events)
	}
	fmt.Fprintf(&b, ", inventory %d nodes/%d items, plays %d nodes/%d events, times %d, overrides %d}",
		len(d.Inventory), items, len(d.Plays), events, len(d.Times), len(d.Overrides))
	return b.String()
}
