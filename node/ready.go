package node

import (
	"log/slog"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/trustedtime"
)

// Ready is what the core asks its driver to do. The driver performs the fields in the order they are declared:
// durability first (a play event is on disk before anything else happens), then the outside world.
type Ready struct {
	// PersistPlays are this node's new proof-of-play events. They must be durable (fsync) before the rest is done:
	// a play that started is never lost.
	PersistPlays []crdt.PlayEvent
	// PersistAcks are this node's play events that origin acknowledged: the driver may prune them from disk.
	PersistAcked uint64
	// Snapshot is set when the shared state changed enough to be saved (debounced by the core): the driver saves
	// Core.Snapshot() when convenient. Losing the last snapshot loses nothing that peers or origin cannot resend.
	Snapshot bool
	// History is the zone's play history to persist (set after every play).
	History *schedule.History
	// Time is the trusted-time state to persist (set when the floor rose).
	Time *trustedtime.State

	// Output is the engine's volume and mute from the zone's override, when it changed; set before Audio.
	Output *Output
	// Audio commands, in order.
	Audio []PlayCommand
	// Sync is a request to send to origin; its SyncResult comes back through Step.
	Sync *api.SyncRequest
	// Fetches are blobs to download now; each ends with a FetchResult. Cancels stops fetches no longer wanted.
	Fetches []Fetch
	Cancels []string
	// Pins is the full set of blobs the cache must never evict (current and emergency content), when it changed.
	Pins []string
	// Allowed is the full set of libp2p public keys (libp2p-marshalled) of the store's devices, when it changed: the
	// transfer layer admits only these.
	Allowed [][]byte
	// Mesh is the store's gossip key when it changed (rotated after a revocation).
	Mesh *api.Mesh
	// Broadcast are encoded crdt deltas to gossip, each within the configured packet budget.
	Broadcast [][]byte
	// Direct are encoded crdt deltas too large for a gossip packet (a big catalog record), to send to every live
	// peer over a reliable stream; receivers merge them like gossip and do not forward them.
	Direct [][]byte
	// Logs are messages for the operator; warnings are also counted in Status.
	Logs []Log
	// NextTick is when the core next needs Tick, at the latest (monotonic).
	NextTick time.Duration
}

// PlayCommandKind says what the audio engine should do.
type PlayCommandKind int

const (
	// PlayNow starts the track at once (the output was idle or must change now).
	PlayNow PlayCommandKind = iota + 1
	// PlayNext prepares the track to follow the current one (crossfading into it).
	PlayNext
	// PlayStop silences the output after the current track (nothing may play).
	PlayStop
)

// PlayCommand is one audio instruction. Token identifies it in AudioEvents.
type PlayCommand struct {
	Kind  PlayCommandKind
	Token uint64
	// Asset is the chosen asset (zero for the built-in jingle). The driver opens its blob by Asset.SHA256 from the
	// cache, which holds only verified blobs.
	Asset schedule.Asset
	// Builtin: play the jingle compiled into the binary.
	Builtin bool
	Level   schedule.Level
	// Crossfade is the store's setting (0: the engine's default; negative: none).
	Crossfade time.Duration
	// TargetLUFS is the store's loudness target (0: the engine's own).
	TargetLUFS float64
}

// Fetch is one blob download to start.
type Fetch struct {
	SHA256 string
	MD5    string
	Size   int64
	// Priority orders the download queue: current, emergency, future.
	Priority string
	// URL is where the cloud serves it (absolute or relative to the origin base); used when Peer is empty.
	URL string
	// Peer is the node to fetch it from over the LAN; empty means the cloud.
	Peer string
}

// Log is a message for the operator.
type Log struct {
	Level slog.Level
	Msg   string
	Attrs []any
}
