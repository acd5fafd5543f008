package crdt

// TimeFloors holds, per node, the newest origin-signed time that node has verified. The store's floor under trusted
// time is the newest of them all: a node learns a later floor from any peer. Merge keeps, per node, the later
// verified time (timeWins); a time that fails the TimeVerifier never enters. The elapsed monotonic time since a
// floor was received is the node's business: crdt keeps only the signed instants.
type TimeFloors struct {
	times map[string]SignedTime
}

func newTimeFloors() *TimeFloors { return &TimeFloors{times: make(map[string]SignedTime)} }

// Get returns node's floor.
func (t *TimeFloors) Get(node string) (SignedTime, bool) { st, ok := t.times[node]; return st, ok }

// Nodes returns the nodes with a floor, sorted.
func (t *TimeFloors) Nodes() []string { return sortedKeys(t.times) }

// Max returns the newest floor of any node (zero when none).
func (t *TimeFloors) Max() SignedTime {
	var best SignedTime
	for _, st := range t.times {
		if timeWins(st, best) {
			best = st
		}
	}
	return best
}

// put stores a verified time for node; it reports whether it was newer.
func (t *TimeFloors) put(node string, st SignedTime) bool {
	if old, ok := t.times[node]; ok && !timeWins(st, old) {
		return false
	}
	t.times[node] = st
	return true
}

// NodeTime is one node's floor in a delta.
type NodeTime struct {
	Node string
	Time SignedTime
}
