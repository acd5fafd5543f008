package node

import (
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

// Instant is one reading of the node's clocks, taken by whoever drives the core (Run or the simulator).
type Instant struct {
	// Mono is monotonic time since an arbitrary point of this boot; it never goes backwards within a boot.
	Mono time.Duration
	// Wall is the device's wall clock, which may be wrong by years; the core never trusts it alone.
	Wall time.Time
}

// Event is an input to Core.Step: the result of an effect, or something the world reports.
type Event interface{ isEvent() }

// SyncResult is the outcome of a Ready.Sync request.
type SyncResult struct {
	// Manifest is origin's answer, already verified by the client (manifest, records and time signatures against
	// the pinned key). Nil when Err is set.
	Manifest *api.SyncManifest
	// Sent and Recv are the monotonic readings when the request left and the answer arrived: they bound the
	// instant origin signed its time.
	Sent, Recv time.Duration
	// Err is a transport error, a refused answer or a failed verification; the previous state is kept whole.
	Err error
	// RetryAfter is origin's Retry-After when it shed load (429/503).
	RetryAfter time.Duration
	// Revoked: origin says this device's credential is revoked. The node stops syncing and keeps playing.
	Revoked bool
}

// FetchKind says how a fetch ended.
type FetchKind int

const (
	// FetchDone: the blob is installed in the cache and verified.
	FetchDone FetchKind = iota + 1
	// FetchFailed: the attempt failed; BadBytes when the bytes did not verify (the source is dropped).
	FetchFailed
)

// FetchResult reports the end of a Ready.Fetches entry.
type FetchResult struct {
	SHA256 string
	Kind   FetchKind
	// Peer is the peer the bytes came from; empty for the cloud.
	Peer string
	// BadBytes: the source served bytes whose hash did not match.
	BadBytes bool
	Err      error
}

// FetchProgress reports bytes on disk for an ongoing fetch (resumed bytes included).
type FetchProgress struct {
	SHA256 string
	Bytes  int64
}

// BlobLost reports that a blob left the cache: quarantined by the integrity check, evicted, or deleted.
type BlobLost struct {
	SHA256 string
	Reason string
}

// BlobsPresent reports the verified blobs found in the cache at boot.
type BlobsPresent struct{ SHA256 []string }

// GossipReceived carries an encoded crdt delta from a peer (gossip broadcast or push/pull exchange). The core
// decodes and verifies it; a malformed or foreign payload is dropped and counted.
type GossipReceived struct {
	From    string
	Payload []byte
}

// MembersChanged is the set of live peers (self excluded) as the membership layer sees it now.
type MembersChanged struct{ Live []string }

// SyncRequested asks for a sync with origin now rather than at the next periodic one: an operator's reload (`lomuz
// node` on SIGHUP, systemd's ExecReload) after a change in the panel. A sync in flight is not doubled.
type SyncRequested struct{}

// AudioKind mirrors the engine's event kinds the core reacts to.
type AudioKind int

const (
	AudioStarted AudioKind = iota + 1
	AudioEnded
	AudioFailed
	AudioSilent
	AudioRestored
)

// AudioEvent is reported by the audio engine (or the simulator's sink).
type AudioEvent struct {
	Kind AudioKind
	// Token is the Token of the PlayCommand the event is about; 0 for output events (silent, restored).
	Token uint64
	Err   error
	// Silent is how long the output has been silent (AudioSilent, AudioRestored).
	Silent time.Duration
}

func (SyncResult) isEvent()     {}
func (FetchResult) isEvent()    {}
func (FetchProgress) isEvent()  {}
func (BlobLost) isEvent()       {}
func (BlobsPresent) isEvent()   {}
func (GossipReceived) isEvent() {}
func (MembersChanged) isEvent() {}
func (AudioEvent) isEvent()     {}
func (SyncRequested) isEvent()  {}
