package crdt

// HLC is a hybrid logical clock timestamp: WallMS is a physical time in unix milliseconds (the node's trusted time),
// Logical orders events within the same millisecond. HLCs order events across nodes consistently with causality
// and stay close to physical time. The zero HLC is before every other.
type HLC struct {
	WallMS  int64
	Logical uint32
}

// Compare returns -1, 0 or +1 as h is before, equal to or after o.
func (h HLC) Compare(o HLC) int {
	switch {
	case h.WallMS < o.WallMS:
		return -1
	case h.WallMS > o.WallMS:
		return 1
	case h.Logical < o.Logical:
		return -1
	case h.Logical > o.Logical:
		return 1
	}
	return 0
}

// Less reports whether h is before o.
func (h HLC) Less(o HLC) bool { return h.Compare(o) < 0 }

// Tick returns the timestamp of a local event at physical time wallMS: strictly after h, and equal to wallMS when
// the physical clock is ahead of every timestamp seen. When Logical would overflow, the wall part advances by one
// millisecond instead, so Tick is strictly increasing forever.
func (h HLC) Tick(wallMS int64) HLC {
	if wallMS > h.WallMS {
		return HLC{WallMS: wallMS}
	}
	if h.Logical == ^uint32(0) {
		return HLC{WallMS: h.WallMS + 1}
	}
	return HLC{WallMS: h.WallMS, Logical: h.Logical + 1}
}

// Observe returns the clock after seeing a remote timestamp: the later of h and remote. The next Tick is then after
// both. It does not read physical time: a local event's Tick supplies it.
func (h HLC) Observe(remote HLC) HLC {
	if remote.Compare(h) > 0 {
		return remote
	}
	return h
}
