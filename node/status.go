package node

import (
	"slices"
	"time"

	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

// Counters are the node's running totals, exported as Prometheus metrics by Run and checked by the simulator.
type Counters struct {
	Syncs, SyncFailures, FullResyncs, ManifestsRejected   int
	CloudPulls, PeerPulls, BlobsFromCloud, BlobsFromPeers int
	FetchFailures                                         int
	GossipSent, GossipReceived, GossipRejected            int
	GossipDeferred, RecordsRejected, BadRecords           int
	GossipDirect                                          int // oversize deltas sent to peers over streams
	DecodeFailures, DeadAir, Warnings                     int
	SchedulesActivated                                    int
	// Plays counts plays per fallback level (indexed by schedule.Level).
	Plays [schedule.LevelSilence + 1]int
}

// Status is the node's state for its status page, the panel and the simulator's report.
type Status struct {
	Device, Store, Zone string
	NowPlaying          *NowPlaying
	Next                *NowPlaying
	Cache               CacheStatus
	Downloads           []DownloadStatus
	LastSyncAt          time.Time // trusted time of the last successful sync; zero never
	LastSyncError       string
	Revoked             bool
	Revision            uint64
	// CatalogChangedAt is the trusted time this node's catalog last changed, from origin or from a peer (zero: not
	// since boot).
	CatalogChangedAt time.Time
	Clock            trustedtime.Status
	TrustedNow       time.Time
	// PendingSchedules counts schedule versions waiting for their files before they take over.
	PendingSchedules int
	// FreeDiskBytes is free space on the data disk, filled in by Run (-1 unknown): a full disk shows here first.
	FreeDiskBytes int64
	// CoveredUntil is the latest instant up to which the zone's schedule is covered by content held here: the end
	// of the current Plan horizon if nothing ever falls back, else the first instant the plan falls back.
	CoveredUntil time.Time
	Peers        []string
	Counters     Counters
	// Override is the zone's volume and mute as applied (MutedByOverride during a mute window).
	Override OverrideStatus
	// Transfer is where blob bytes came from and went (byte counts filled in by Run).
	Transfer TransferStatus
	// Plays is this node's own proof-of-play log; StorePlays what it holds of every other node's log (by device
	// id), which it relays to origin.
	Plays      PlayLogStatus
	StorePlays map[string]PlayLogStatus
	// Devices are the device ids of the store's signed device-key list held here: the peers the transfer gate
	// admits.
	Devices []string
}

// PlayLogStatus is what a node holds of one node's play log: LastSeq is the highest sequence number seen (for the
// node's own log, the last one written: every event 1..LastSeq was persisted before it was announced), Acked
// origin's watermark (it holds 1..Acked), Pending the events above it held here.
type PlayLogStatus struct {
	LastSeq, Acked uint64
	Pending        int
}

// NowPlaying describes a track handed to the engine.
type NowPlaying struct {
	AssetID, Title, Artist string
	Level                  string
	Length                 time.Duration
}

// CacheStatus counts the blobs the store needs and what this node holds of them.
type CacheStatus struct {
	Needed, Present int
	NeededBytes     int64
	PresentBytes    int64
}

// DownloadStatus is one fetch in progress.
type DownloadStatus struct {
	SHA256, Priority, Peer string
	Size                   int64
	// Bytes and BytesPerSec come from the download manager (filled in by Run).
	Bytes       int64
	BytesPerSec float64
}

// Brief is the cheap part of Status, published by the Runner after every loop iteration.
type Brief struct {
	NowPlaying *NowPlaying
	// PendingPlays counts this node's play events origin has not acknowledged yet.
	PendingPlays  int
	Cache         CacheStatus
	Peers         int
	LastSyncAt    time.Time
	LastSyncError string
}

// Brief computes the cheap part of the status: no planning, O(needed blobs).
func (c *Core) Brief() Brief {
	b := Brief{NowPlaying: nowPlaying(c.play.current), Peers: len(c.mesh.list), LastSyncAt: c.sync.okWall,
		LastSyncError: c.sync.lastErr}
	b.Cache = c.cacheStatus()
	b.PendingPlays = len(c.state.PlayLog().Pending(c.cfg.Device))
	return b
}

func (c *Core) cacheStatus() CacheStatus {
	var cs CacheStatus
	for sha, n := range c.blobs.needs {
		cs.Needed++
		cs.NeededBytes += n.size
		if c.blobs.present[sha] {
			cs.Present++
			cs.PresentBytes += n.size
		}
	}
	return cs
}

func nowPlaying(t *track) *NowPlaying {
	if t == nil {
		return nil
	}
	a := t.choice.Asset
	return &NowPlaying{AssetID: a.ID, Title: a.Title, Artist: a.Artist, Level: levelString(t.choice.Level), Length: t.length}
}

// coverHorizon bounds how far ahead Status looks for the first fallback.
const coverHorizon = 7 * 24 * time.Hour

// Status computes the node's status. It plans ahead on a copy of the selector, so it costs a plan of up to a week:
// call it for a status page or a report, not on every tick.
func (c *Core) Status() Status {
	iv := c.Interval()
	s := Status{
		Device: c.cfg.Device, Store: c.cfg.Store, Zone: c.cfg.Zone,
		NowPlaying: nowPlaying(c.play.current), Next: nowPlaying(c.play.next),
		LastSyncAt: c.sync.okWall, LastSyncError: c.sync.lastErr, Revoked: c.sync.revoked,
		Revision: c.state.Catalog().Watermark(), CatalogChangedAt: c.cat.changedAt, Clock: iv.Status(), TrustedNow: iv.Now(),
		Peers: append([]string(nil), c.mesh.list...), Counters: c.counters,
	}
	s.Cache = c.cacheStatus()
	s.Override = c.effectiveOverride(iv.Now().UnixMilli())
	for sha, f := range c.blobs.fetching {
		d := DownloadStatus{SHA256: sha, Peer: f.peer}
		if n := c.blobs.needs[sha]; n != nil {
			d.Priority, d.Size = n.priority, n.size
		}
		s.Downloads = append(s.Downloads, d)
	}
	pl := c.state.PlayLog()
	for _, n := range pl.Nodes() {
		ch := pl.Chain(n)
		ps := PlayLogStatus{LastSeq: ch.Max, Acked: ch.Acked, Pending: len(pl.Pending(n))}
		if n == c.cfg.Device {
			s.Plays = ps
			continue
		}
		if s.StorePlays == nil {
			s.StorePlays = map[string]PlayLogStatus{}
		}
		s.StorePlays[n] = ps
	}
	for _, d := range c.cat.devices.Devices {
		s.Devices = append(s.Devices, d.DeviceID)
	}
	for _, peers := range c.blobs.bad {
		for p := range peers {
			s.Transfer.BadSources = append(s.Transfer.BadSources, p)
		}
	}
	slices.Sort(s.Transfer.BadSources)
	s.Transfer.BadSources = slices.Compact(s.Transfer.BadSources)
	s.PendingSchedules = c.pendingSchedules()
	s.CoveredUntil = c.coveredUntilWithin(iv.Now(), coverHorizon)
	return s
}

func (c *Core) coveredUntilWithin(from time.Time, horizon time.Duration) time.Time {
	// Plan works on its own copy of the selector; a truncated plan still tells how far it got.
	plan, _ := c.sel.Plan(from, from.Add(horizon))
	if len(plan) == 0 {
		return from
	}
	for _, e := range plan {
		if e.Choice.Level >= schedule.LevelEmergency {
			return e.Start
		}
	}
	last := plan[len(plan)-1]
	return last.Start.Add(last.Length)
}

// Counters returns the running totals.
func (c *Core) Counters() Counters { return c.counters }
