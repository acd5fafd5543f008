package crdt

import "sort"

// Dot names one write: the Counter-th write of Node to its own entry.
type Dot struct {
	Node    string
	Counter uint64
}

// VersionVector maps a node to the counter up to which every write of that node is known (a contiguous prefix).
// A missing node counts as 0.
type VersionVector map[string]uint64

// Get returns the counter for node (0 if absent).
func (v VersionVector) Get(node string) uint64 { return v[node] }

// Contains reports whether the write d is covered by v.
func (v VersionVector) Contains(d Dot) bool { return d.Counter <= v[d.Node] }

// Merge raises v to the pointwise maximum of v and o.
func (v VersionVector) Merge(o VersionVector) {
	for n, c := range o {
		if c > v[n] {
			v[n] = c
		}
	}
}

// Dominates reports whether v covers every write o covers.
func (v VersionVector) Dominates(o VersionVector) bool {
	for n, c := range o {
		if c > v[n] {
			return false
		}
	}
	return true
}

// Clone returns a copy.
func (v VersionVector) Clone() VersionVector {
	c := make(VersionVector, len(v))
	for n, x := range v {
		c[n] = x
	}
	return c
}

// nodes returns the keys in sorted order (canonical encodings never range over a map).
func (v VersionVector) nodes() []string { return sortedKeys(v) }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
