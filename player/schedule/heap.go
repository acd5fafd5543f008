package schedule

// lruHeap orders the active members of one playlist by (last play rank, position): the root is the least recently
// played (never played = rank 0 first), ties by playlist position. It is indexed (pos) so that a play, a removal or an
// insertion costs O(log n). Members are positions in the playlist, so the position is the member itself.
type lruHeap struct {
	items []hent  // binary min-heap
	pos   []int32 // member -> index in items, -1 when not in the heap
}

type hent struct {
	rank uint64 // the asset's last play rank in this zone; 0 = never played
	m    int32  // member position in the playlist
}

func (a hent) less(b hent) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.m < b.m)
}

func newLRUHeap(n int) lruHeap {
	h := lruHeap{pos: make([]int32, n)}
	for i := range h.pos {
		h.pos[i] = -1
	}
	return h
}

func (h *lruHeap) contains(m int32) bool { return h.pos[m] >= 0 }

func (h *lruHeap) push(m int32, rank uint64) {
	if h.pos[m] >= 0 {
		h.update(m, rank)
		return
	}
	h.items = append(h.items, hent{rank: rank, m: m})
	i := len(h.items) - 1
	h.pos[m] = int32(i)
	h.up(i)
}

func (h *lruHeap) remove(m int32) {
	i := int(h.pos[m])
	if i < 0 {
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items = h.items[:last]
	h.pos[m] = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h *lruHeap) update(m int32, rank uint64) {
	i := int(h.pos[m])
	if i < 0 {
		return
	}
	old := h.items[i].rank
	h.items[i].rank = rank
	if rank > old {
		h.down(i)
	} else {
		h.up(i)
	}
}

func (h *lruHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.pos[h.items[i].m] = int32(i)
	h.pos[h.items[j].m] = int32(j)
}

func (h *lruHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].less(h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *lruHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.items[r].less(h.items[l]) {
			c = r
		}
		if !h.items[c].less(h.items[i]) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

func (h *lruHeap) clone() lruHeap {
	return lruHeap{items: append([]hent(nil), h.items...), pos: append([]int32(nil), h.pos...)}
}

// walker visits a heap's entries in key order without changing it: a best-first search over heap indices, so
// visiting the k smallest costs O(k log k) whatever the heap's size. Its scratch space is reused between walks.
type walker struct {
	h    *lruHeap
	open []int32 // min-heap of indices into h.items, by their entries' keys
}

func (w *walker) reset(h *lruHeap) {
	w.h = h
	w.open = w.open[:0]
	if len(h.items) > 0 {
		w.open = append(w.open, 0)
	}
}

// next returns the member with the next smallest key, or -1 when all were visited.
func (w *walker) next() int32 {
	n := len(w.open)
	if n == 0 {
		return -1
	}
	top := w.open[0]
	// Pop the root of open.
	w.open[0] = w.open[n-1]
	w.open = w.open[:n-1]
	w.siftDown(0)
	for _, c := range [2]int32{2*top + 1, 2*top + 2} {
		if int(c) < len(w.h.items) {
			w.open = append(w.open, c)
			w.siftUp(len(w.open) - 1)
		}
	}
	return w.h.items[top].m
}

func (w *walker) lessAt(i, j int) bool { return w.h.items[w.open[i]].less(w.h.items[w.open[j]]) }

func (w *walker) siftUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !w.lessAt(i, p) {
			return
		}
		w.open[i], w.open[p] = w.open[p], w.open[i]
		i = p
	}
}

func (w *walker) siftDown(i int) {
	n := len(w.open)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && w.lessAt(r, l) {
			c = r
		}
		if !w.lessAt(c, i) {
			return
		}
		w.open[i], w.open[c] = w.open[c], w.open[i]
		i = c
	}
}

// fromHeap is a min-heap of assets waiting for their ValidFrom, keyed by it in whole seconds. Entries carry the
// asset's generation: an entry whose asset changed since it was parked is stale and dropped when popped.
type fromHeap []fromEnt

type fromEnt struct {
	from int64
	s    int32
	gen  uint32
}

func (f *fromHeap) push(e fromEnt) {
	*f = append(*f, e)
	h := *f
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].from <= h[i].from {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (f *fromHeap) pop() fromEnt {
	h := *f
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].from < h[l].from {
			c = r
		}
		if h[i].from <= h[c].from {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	*f = h
	return top
}
