package crdt

import (
	"encoding/binary"
	"fmt"
)

// Split cuts d into parts whose encodings each take at most budget bytes (a gossip packet is ~1,300), each one
// valid and mergeable on its own, in any order. Records, blob items, play events, times and overrides are packed
// greedily in canonical order (records of one revision together when they fit); a coverage claim is narrowed to
// the revisions (or counters) each part covers whole, so a receiver that merges every part ends where merging d
// would have left it. A catalog reset and a full inventory entry travel whole. What fits in no part (one element
// larger than the budget) is returned in rest, to be sent over a stream or left to the next anti-entropy round.
func Split(d Delta, budget int) (parts []Delta, rest Delta, err error) {
	if err := d.Validate(); err != nil {
		return nil, Delta{}, err
	}
	sp := splitter{tenant: d.Tenant, complete: d.Catalog.Complete, budget: budget,
		rest: Delta{Tenant: d.Tenant, Catalog: CatalogDelta{Complete: d.Catalog.Complete}}}
	sp.base = 2 + strLen(d.Tenant) + 4*maxVarint + 1 + 6*maxCountLen
	if sp.base >= budget {
		return nil, Delta{}, fmt.Errorf("crdt: budget %d bytes below a delta's header (%d)", budget, sp.base)
	}
	sp.start()

	c := &d.Catalog
	if c.Reset {
		// Horizon and count, then 8 bytes per key.
		size := maxCountLen + 8*len(c.Survivors)
		setReset := func(p *Delta) { p.Catalog.Reset, p.Catalog.Horizon, p.Catalog.Survivors = true, c.Horizon, c.Survivors }
		sp.add(size, setReset, setReset)
	}
	// Records of one revision form one unit when they fit in a part, so no revision straddles two parts.
	at := make([]*Delta, len(c.Records))
	for i := 0; i < len(c.Records); {
		j, size := i, 0
		for j < len(c.Records) && c.Records[j].Rev == c.Records[i].Rev {
			size += recordLen(c.Records[j])
			j++
		}
		group := c.Records[i:j]
		if sp.base+size <= budget {
			p := sp.add(size, func(p *Delta) { p.Catalog.Records = append(p.Catalog.Records, group...) }, nil)
			for k := i; k < j; k++ {
				at[k] = p
			}
		} else {
			for k := i; k < j; k++ {
				r := c.Records[k]
				at[k] = sp.add(recordLen(r), func(p *Delta) { p.Catalog.Records = append(p.Catalog.Records, r) },
					func(x *Delta) { x.Catalog.Records = append(x.Catalog.Records, r) })
			}
		}
		i = j
	}
	// A claim that depends on records the receiver holds (Held) is not split: the parts carry the records only,
	// and the claim comes with the next whole anti-entropy delta.
	if len(c.Held) == 0 {
		narrow(at, c.From, c.To, func(i int) uint64 { return c.Records[i].Rev }, func(p *Delta, from, to uint64) {
			p.Catalog.From, p.Catalog.To, p.Catalog.Horizon = from, to, c.Horizon
		})
	}
	if len(c.Records) == 0 && c.To > c.From && len(c.Held) == 0 {
		// A bare claim: nothing the receiver lacks, but the sender vouches for the revisions.
		sp.add(0, func(p *Delta) { p.Catalog.From, p.Catalog.To, p.Catalog.Horizon = c.From, c.To, c.Horizon }, nil)
	}

	for gi := range d.Inventory {
		id := &d.Inventory[gi]
		header := strLen(id.Node) + 3*maxVarint + 1 + maxCountLen
		if id.Full {
			size := header
			for _, it := range id.Items {
				size += itemLen(it)
			}
			put := func(p *Delta) { p.Inventory = append(p.Inventory, *id) }
			sp.add(size, put, put)
			continue
		}
		group := func(p *Delta) *InventoryDelta {
			if n := len(p.Inventory); n > 0 && p.Inventory[n-1].Node == id.Node {
				return &p.Inventory[n-1]
			}
			p.Inventory = append(p.Inventory, InventoryDelta{Node: id.Node})
			return &p.Inventory[len(p.Inventory)-1]
		}
		at := make([]*Delta, len(id.Items))
		var last *Delta
		for i, it := range id.Items {
			size := itemLen(it)
			if last != sp.cur {
				size += header
			}
			put := func(p *Delta) { g := group(p); g.Items = append(g.Items, it) }
			at[i] = sp.add(size, put, put)
			if at[i] != nil {
				last = at[i]
			}
		}
		if len(id.Items) == 0 && id.To > id.From {
			// A bare claim: nothing the receiver lacks, but the sender vouches for the prefix.
			sp.add(header, func(p *Delta) { g := group(p); g.From, g.To = id.From, id.To }, nil)
		}
		narrow(at, id.From, id.To, func(i int) uint64 { return id.Items[i].Counter }, func(p *Delta, from, to uint64) {
			g := group(p)
			g.From, g.To = from, to
		})
	}

	for gi := range d.Plays {
		pd := &d.Plays[gi]
		header := strLen(pd.Node) + maxVarint + 32 + maxCountLen
		group := func(p *Delta) *PlayDelta {
			if n := len(p.Plays); n > 0 && p.Plays[n-1].Node == pd.Node {
				return &p.Plays[n-1]
			}
			p.Plays = append(p.Plays, PlayDelta{Node: pd.Node})
			return &p.Plays[len(p.Plays)-1]
		}
		var last *Delta
		if pd.Ack.Seq != 0 {
			put := func(p *Delta) { group(p).Ack = pd.Ack }
			last = sp.add(header, put, put)
		}
		for _, ev := range pd.Events {
			w := writer{}
			encodeEvent(&w, &ev, 0)
			size := len(w.b)
			if last != sp.cur {
				size += header
			}
			put := func(p *Delta) { g := group(p); g.Events = append(g.Events, ev) }
			if p := sp.add(size, put, put); p != nil {
				last = p
			}
		}
	}
	for _, nt := range d.Times {
		size := strLen(nt.Node) + maxVarint + bytesLen(nt.Time.Sig)
		put := func(p *Delta) { p.Times = append(p.Times, nt) }
		sp.add(size, put, put)
	}
	for _, o := range d.Overrides {
		size := strLen(o.Zone) + 2*maxVarint + strLen(o.Writer) + 1 + 2*maxVarint
		put := func(p *Delta) { p.Overrides = append(p.Overrides, o) }
		sp.add(size, put, put)
	}

	for _, p := range sp.parts {
		if p.Empty() {
			continue
		}
		// The size bounds are upper bounds; check the promise anyway.
		b, err := EncodeDelta(*p)
		if err != nil {
			return nil, Delta{}, err
		}
		if len(b) > budget {
			return nil, Delta{}, fmt.Errorf("crdt: split part of %d bytes over budget %d", len(b), budget)
		}
		parts = append(parts, *p)
	}
	return parts, sp.rest, nil
}

const (
	maxVarint   = binary.MaxVarintLen64
	maxCountLen = 5 // a count below 2^35
)

func uvarintLen(v uint64) int { return len(binary.AppendUvarint(nil, v)) }
func strLen(s string) int     { return uvarintLen(uint64(len(s))) + len(s) }
func bytesLen(p []byte) int   { return uvarintLen(uint64(len(p))) + len(p) }

// recordLen bounds a record's encoded size (the revision is stored as a step, never larger than the revision).
func recordLen(r Record) int {
	return strLen(r.Key) + uvarintLen(r.Rev) + 1 + bytesLen(r.Body) + bytesLen(r.Sig)
}

// itemLen bounds an item's encoded size: its hash in the part's table, an index, the counter, the state.
func itemLen(it BlobItem) int {
	n := 32 + maxCountLen + uvarintLen(it.Counter) + 1
	if it.State == BlobFetching {
		n += 2 * maxVarint
	}
	return n
}

// splitter packs elements into parts. Each element comes with an upper bound of its encoded size; a part is full
// when the next element would take it past the budget.
type splitter struct {
	tenant   string
	complete uint64
	budget   int
	base     int // bound of a part's fixed fields
	parts    []*Delta
	cur      *Delta
	size     int
	rest     Delta
}

func (sp *splitter) start() {
	sp.cur = &Delta{Tenant: sp.tenant, Catalog: CatalogDelta{Complete: sp.complete}}
	sp.parts = append(sp.parts, sp.cur)
	sp.size = sp.base
}

// add places one element: in the current part, else in a new one, else (when it cannot fit in an empty part) in
// rest through toRest (dropped when toRest is nil). It returns the part it went to, nil for rest.
func (sp *splitter) add(size int, put, toRest func(*Delta)) *Delta {
	if sp.base+size > sp.budget {
		if toRest != nil {
			toRest(&sp.rest)
		}
		return nil
	}
	if sp.size+size > sp.budget {
		sp.start()
	}
	put(sp.cur)
	sp.size += size
	return sp.cur
}

// narrow gives each part its share of a coverage claim (from, to] over elements ordered by order (non-decreasing):
// a part holding the run of elements first..last claims (order(first-1), order(first of the next run)-1], with from
// and to at the ends. A part claims only a range it holds every element of; elements in rest form runs of their own
// that claim nothing, and a value two parts share (inventory items at one counter) is claimed by neither.
func narrow(at []*Delta, from, to uint64, order func(int) uint64, set func(p *Delta, from, to uint64)) {
	if to <= from || len(at) == 0 {
		return
	}
	for i := 0; i < len(at); {
		j := i
		for j < len(at) && at[j] == at[i] {
			j++
		}
		if p := at[i]; p != nil {
			lo, hi := from, to
			if i > 0 {
				lo = max(from, order(i-1))
			}
			if j < len(at) {
				hi = min(to, order(j)-1)
			}
			if hi > lo {
				set(p, lo, hi)
			}
		}
		i = j
	}
}
