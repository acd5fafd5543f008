package node

import (
	"slices"
	"strings"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
)

// Download priorities, best first; the values are origin/api's words.
var priorities = []string{api.PriorityCurrent, api.PriorityEmergency, api.PriorityFuture}

func priorityRank(p string) int { return max(slices.Index(priorities, p), 0) }

// need is one blob the store's schedules reference.
type need struct {
	sha, md5 string
	size     int64
	priority string
	since    time.Duration // when this node first learned of the need
}

// inflight is a fetch this node started.
type inflight struct {
	peer     string // "" for the cloud
	started  time.Duration
	bytes    uint64        // bytes on disk last reported by the driver
	moved    time.Duration // when bytes last grew, or the fetch started or changed source
	reported uint64        // bytes last told to peers
	toldAt   time.Duration // when
}

// peerObs is when this node last saw a peer's fetch of a blob move: its bytes grow, or a (re)start stamp it anew.
type peerObs struct {
	bytes uint64
	ms    int64 // the item's ProgressMS
	at    time.Duration
}

type blobState struct {
	present  map[string]bool
	needs    map[string]*need
	order    []string // needed blobs, best priority first, then sha
	fetching map[string]*inflight
	urls     map[string]string // from manifests' downloads
	// bad holds, per blob, the peers that served bad bytes of it: never a source of that blob again. Per blob, not
	// per peer: a corrupt file on one peer's disk says nothing about its other files, and a peer distrusted for
	// everything would leave this node pulling every blob it alone could not get elsewhere from the cloud.
	bad      map[string]map[string]bool
	progress map[string]peerObs
	partial  map[string]uint64 // bytes a stopped fetch of this node left on disk
	pins     []string
}

func (b *blobState) init() {
	b.present = map[string]bool{}
	b.needs = map[string]*need{}
	b.fetching = map[string]*inflight{}
	b.urls = map[string]string{}
	b.bad = map[string]map[string]bool{}
	b.progress = map[string]peerObs{}
	b.partial = map[string]uint64{}
}

func progressKey(node, sha string) string { return node + "\x00" + sha }

// setPresent records a verified blob in (or out of) the local cache and tells the selector and the peers.
func (c *Core) setPresent(sha string, present bool) {
	if c.blobs.present[sha] == present {
		return
	}
	if present {
		c.blobs.present[sha] = true
		if _, err := c.state.SetBlobHeld(sha); err != nil {
			c.logf(levelWarn, "bad blob id", "sha256", sha, "err", err)
		}
	} else {
		delete(c.blobs.present, sha)
		_, _ = c.state.RemoveBlob(sha)
	}
	c.sel.SetPresent(sha, present)
	c.gossipDirty()
	if present {
		c.cat.pendingCheck = true
	}
}

// recomputeNeeds derives the needed blobs and their priorities from the catalog: every asset of a playlist that a
// schedule of this store uses (any zone: the whole store's content is shared on the LAN) or a spot rule uses, and
// every emergency asset. Current content is what this zone's active schedule uses now.
func (c *Core) recomputeNeeds() {
	v := &c.cat
	v.changed = false
	current := map[string]bool{}
	if s, ok := c.sel.Active(c.Interval().Now()); ok {
		current[s.PlaylistID] = true
		for _, sp := range s.Spots {
			current[sp.PlaylistID] = true
		}
	}
	used := map[string]bool{}
	for id, vs := range v.schedules {
		// A schedule version waiting for its files is about to take over: its content is current too.
		pending := v.active[id] != vs.rev
		for _, pid := range append([]string{vs.s.PlaylistID}, spotLists(vs.s)...) {
			used[pid] = true
			if pending {
				current[pid] = true
			}
		}
	}
	want := map[string]string{} // sha -> priority
	add := func(a schedule.Asset, p string) {
		if a.SHA256 == "" {
			return
		}
		if old, ok := want[a.SHA256]; !ok || priorityRank(p) < priorityRank(old) {
			want[a.SHA256] = p
		}
	}
	for id := range used {
		pl, ok := v.playlists[id]
		if !ok {
			continue
		}
		p := api.PriorityFuture
		if current[id] {
			p = api.PriorityCurrent
		}
		for _, aid := range pl.AssetIDs {
			if a, ok := v.assets[aid]; ok {
				add(a, p)
			}
		}
	}
	for _, a := range v.assets {
		if a.EmergencyEligible {
			add(a, api.PriorityEmergency)
		}
	}
	bySHA := map[string]schedule.Asset{}
	for _, a := range v.assets {
		bySHA[a.SHA256] = a
	}
	needs := make(map[string]*need, len(want))
	for sha, p := range want {
		a := bySHA[sha]
		n := &need{sha: sha, md5: a.MD5, size: a.Size, priority: p, since: c.now.Mono}
		if old, ok := c.blobs.needs[sha]; ok {
			n.since = old.since
		}
		needs[sha] = n
	}
	// Fetches for blobs no longer needed stop.
	for sha := range c.blobs.fetching {
		if _, ok := needs[sha]; !ok {
			c.stopFetch(sha)
			delete(c.blobs.partial, sha)
			if ch, err := c.state.RemoveBlob(sha); err == nil && ch {
				c.gossipDirty()
			}
			c.out.Cancels = append(c.out.Cancels, sha)
		}
	}
	c.blobs.needs = needs
	c.blobs.order = c.blobs.order[:0]
	var pins []string
	for sha, n := range needs {
		c.blobs.order = append(c.blobs.order, sha)
		if n.priority != api.PriorityFuture {
			pins = append(pins, sha)
		}
	}
	slices.SortFunc(c.blobs.order, func(a, b string) int {
		if d := priorityRank(needs[a].priority) - priorityRank(needs[b].priority); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	slices.Sort(pins)
	if !slices.Equal(pins, c.blobs.pins) {
		c.blobs.pins = pins
		c.out.Pins = slices.Clone(pins)
		if c.out.Pins == nil {
			c.out.Pins = []string{}
		}
	}
}

func spotLists(s schedule.Schedule) []string {
	out := make([]string, 0, len(s.Spots))
	for _, sp := range s.Spots {
		out = append(out, sp.PlaylistID)
	}
	return out
}

// maxPullChecks bounds how many missing blobs one tick examines, so a 10,000-blob backlog costs a bounded amount per
// tick; the order is by priority, so the ones examined are the ones that matter.
const maxPullChecks = 256

func (c *Core) tickBlobs() {
	if c.cat.changed {
		c.recomputeNeeds()
	}
	if c.cat.pendingCheck {
		c.cat.pendingCheck = false
		c.activateSchedules()
	}
	if c.cat.devicesChanged {
		c.cat.devicesChanged = false
		keys := make([][]byte, 0, len(c.cat.devices.Devices))
		for _, d := range c.cat.devices.Devices {
			keys = append(keys, d.PeerPublicKey)
		}
		c.out.Allowed = keys
	}
	if c.now.Mono-c.boot < c.cfg.Settle {
		return
	}
	uplinked := c.uplinkedNodes()
	nowMS := c.trustedMS()
	c.redirectFetches(uplinked, nowMS)
	checks := 0
	for _, sha := range c.blobs.order {
		if len(c.blobs.fetching) >= c.cfg.MaxFetches || checks >= maxPullChecks {
			break
		}
		if c.blobs.present[sha] || c.blobs.fetching[sha] != nil {
			continue
		}
		checks++
		n := c.blobs.needs[sha]
		d := decidePull(c.pullInput(n, uplinked, nowMS))
		switch d.Action {
		case pullFromCloud:
			c.startFetch(n, "")
		case pullFromPeer:
			c.startFetch(n, d.Source)
		}
	}
}

// redirectFetches moves fetches in flight to a better source, resuming from the bytes already on disk: a cloud
// pull goes to a LAN peer as soon as one holds the verified blob (the rest of the file need not cross the uplink,
// and a node that lost its uplink would otherwise retry the cloud forever), and a fetch whose source is gone, was
// dropped for bad bytes or made no progress for StallAfter goes wherever the pull rule now points. Two cloud pulls
// of one blob (after an outage both the old puller's retry and the takeover's pull move again) are resolved by
// rendezvous rank: the lower-ranked one stops, keeping its partial file.
func (c *Core) redirectFetches(uplinked []string, nowMS int64) {
	for _, sha := range c.blobs.order {
		f := c.blobs.fetching[sha]
		if f == nil {
			continue
		}
		stalled := c.now.Mono-f.moved >= c.cfg.StallAfter
		lost := f.peer != "" && (!c.mesh.live[f.peer] || c.blobs.bad[sha][f.peer])
		if f.peer != "" && !stalled && !lost {
			continue
		}
		n := c.blobs.needs[sha]
		in := c.pullInput(n, uplinked, nowMS)
		if f.peer == "" && outranked(in) {
			c.logf(levelInfo, "a higher-ranked peer pulls this blob too; this pull stops", "sha256", sha)
			c.stopFetch(sha)
			c.out.Cancels = append(c.out.Cancels, sha)
			continue
		}
		d := decidePull(in)
		switch {
		case d.Action == pullFromPeer && d.Source != f.peer:
			c.startFetch(n, d.Source)
		case d.Action == pullFromCloud && f.peer != "":
			c.startFetch(n, "")
		}
	}
}

// startFetch starts a fetch of n from peer ("" for the cloud), or moves the fetch in flight there.
func (c *Core) startFetch(n *need, peer string) {
	f := c.blobs.fetching[n.sha]
	if f == nil {
		f = &inflight{started: c.now.Mono, bytes: c.blobs.partial[n.sha]}
		c.blobs.fetching[n.sha] = f
	} else {
		c.logf(levelInfo, "fetch moves to another source", "sha256", n.sha, "from", sourceName(f.peer),
			"to", sourceName(peer), "bytes", f.bytes)
	}
	f.peer, f.moved, f.toldAt = peer, c.now.Mono, c.now.Mono
	url := c.blobs.urls[n.sha]
	if url == "" {
		url = "/v1/blobs/" + n.sha
	}
	c.out.Fetches = append(c.out.Fetches, Fetch{SHA256: n.sha, MD5: n.md5, Size: n.size, Priority: n.priority,
		URL: url, Peer: peer})
	if peer == "" {
		c.counters.CloudPulls++
	} else {
		c.counters.PeerPulls++
	}
	if _, err := c.state.SetBlobFetching(n.sha, f.bytes, c.trustedMS()); err == nil {
		c.gossipDirty()
	}
}

func sourceName(peer string) string {
	if peer == "" {
		return "cloud"
	}
	return peer
}

// stopFetch forgets a fetch that ended without the blob. Its inventory item stays "fetching" with the bytes on
// disk: it stops moving, so peers soon see it stalled, and the pull rule hands turns to the node with the largest
// partial file first. A restart stamps the item anew, which peers take as movement.
func (c *Core) stopFetch(sha string) {
	if f := c.blobs.fetching[sha]; f != nil && f.bytes > 0 {
		c.blobs.partial[sha] = f.bytes
	}
	delete(c.blobs.fetching, sha)
}

// uplinkedNodes are the live nodes (self included) that may pull from the cloud: self when its last sync succeeded
// recently; a peer unless its newest directly-synced time lags the store's newest by more than UplinkFresh.
// A node whose uplink has just come back counts itself only after turnGuard: its peers learn it from the time
// floor it gossips, and until then they rank the pull without it. Counting itself at once, it could find itself
// top-ranked while the peer they rank top starts the same pull.
func (c *Core) uplinkedNodes() []string {
	var out []string
	if c.uplinkFresh() && c.now.Mono-c.sync.upSince >= turnGuard {
		out = append(out, c.cfg.Device)
	}
	floors := c.state.TimeFloors()
	newest := floors.Max().UnixMilli
	for _, p := range c.mesh.liveList() {
		if st, ok := floors.Get(p); ok && newest-st.UnixMilli > c.cfg.UplinkFresh.Milliseconds() {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (c *Core) uplinkFresh() bool {
	return c.sync.okAt > 0 && c.now.Mono-c.sync.okAt < c.cfg.UplinkFresh
}

func (c *Core) pullInput(n *need, uplinked []string, nowMS int64) pullInput {
	h, _ := crdt.ParseSHA256(n.sha)
	peers := map[string]peerBlob{}
	inv := c.state.Inventory()
	for _, p := range c.mesh.liveList() {
		it, ok := inv.Blob(p, h)
		if !ok {
			continue
		}
		pb := peerBlob{Held: it.State == crdt.BlobHeld, Fetching: it.State == crdt.BlobFetching, Bytes: int64(it.Bytes)}
		if pb.Fetching {
			pb.Progress = c.boot // a restarted node gives a fetch it has not seen move one full StallAfter
			if o, ok := c.blobs.progress[progressKey(p, n.sha)]; ok {
				pb.Progress = o.at
			}
		}
		peers[p] = pb
	}
	return pullInput{Blob: n.sha, Self: c.cfg.Device, SelfBytes: int64(c.blobs.partial[n.sha]), Now: c.now.Mono, Since: n.since, TrustedMS: nowMS, Uplinked: uplinked,
		Peers: peers, BadSources: c.blobs.bad[n.sha], StartGrace: c.cfg.StartGrace, StallAfter: c.cfg.StallAfter}
}

// progressEvery bounds how often fetch progress is gossiped: enough for peers' stall detection (StallAfter is
// tens of seconds), little enough not to flood the mesh.
const (
	progressEveryBytes = 1 << 20
	progressEvery      = 2 * time.Second
)

func (c *Core) onFetchProgress(e FetchProgress) {
	f := c.blobs.fetching[e.SHA256]
	if f == nil || e.Bytes < 0 {
		return
	}
	b := uint64(e.Bytes)
	if b > f.bytes {
		f.bytes, f.moved = b, c.now.Mono
	}
	if b < f.reported+progressEveryBytes && c.now.Mono-f.toldAt < progressEvery {
		return
	}
	f.reported, f.toldAt = b, c.now.Mono
	if _, err := c.state.SetBlobFetching(e.SHA256, b, c.trustedMS()); err == nil {
		c.gossipDirty()
	}
}

func (c *Core) onFetch(e FetchResult) {
	f := c.blobs.fetching[e.SHA256]
	if e.Kind == FetchFailed && f != nil && e.Peer != f.peer {
		// The attempt of a source this fetch already left (redirectFetches): the fetch goes on.
		return
	}
	switch e.Kind {
	case FetchDone:
		delete(c.blobs.fetching, e.SHA256)
		delete(c.blobs.partial, e.SHA256)
		c.setPresent(e.SHA256, true)
		if f != nil && f.peer == "" {
			c.counters.BlobsFromCloud++
		} else {
			c.counters.BlobsFromPeers++
		}
	case FetchFailed:
		c.stopFetch(e.SHA256)
		c.counters.FetchFailures++
		if e.BadBytes && e.Peer != "" {
			if c.blobs.bad[e.SHA256] == nil {
				c.blobs.bad[e.SHA256] = map[string]bool{}
			}
			c.blobs.bad[e.SHA256][e.Peer] = true
			c.logf(levelWarn, "peer served bad bytes; dropped as a source", "peer", e.Peer, "sha256", e.SHA256)
		} else if e.Err != nil {
			c.logf(levelInfo, "fetch failed", "sha256", e.SHA256, "peer", e.Peer, "err", e.Err)
		}
	}
}

func (c *Core) onBlobLost(e BlobLost) {
	c.logf(levelWarn, "blob left the cache", "sha256", e.SHA256, "reason", e.Reason)
	c.setPresent(e.SHA256, false)
	c.play.lost(e.SHA256)
}

// reassertOwnBlobs answers a peer that told this node about its own blobs: what an earlier life of the node said (a
// restart from an older snapshot forgot it) is not what its cache holds now. The cache is the truth: a blob said
// held that is not here is removed, one here said otherwise is held again. Only gossip calls it, once BlobsPresent has
// told the core what the cache holds.
func (c *Core) reassertOwnBlobs(items []crdt.NodeBlob) {
	for _, nb := range items {
		if nb.Node != c.cfg.Device {
			continue
		}
		sha := nb.SHAHex()
		it, ok := c.state.Inventory().Blob(c.cfg.Device, nb.Item.SHA)
		held := ok && it.State == crdt.BlobHeld
		if held == c.blobs.present[sha] {
			continue
		}
		if held {
			_, _ = c.state.RemoveBlob(sha)
		} else {
			_, _ = c.state.SetBlobHeld(sha)
		}
		c.gossipDirty()
	}
}

// observeBlobs notes peers' fetch progress from merged inventory changes (for stall detection).
func (c *Core) observeBlobs(items []crdt.NodeBlob) {
	for _, nb := range items {
		if nb.Node == c.cfg.Device {
			continue
		}
		k := progressKey(nb.Node, nb.SHAHex())
		if nb.Item.State != crdt.BlobFetching {
			delete(c.blobs.progress, k)
			continue
		}
		if o, ok := c.blobs.progress[k]; !ok || nb.Item.Bytes > o.bytes || nb.Item.ProgressMS > o.ms {
			c.blobs.progress[k] = peerObs{bytes: nb.Item.Bytes, ms: nb.Item.ProgressMS, at: c.now.Mono}
		}
	}
}
