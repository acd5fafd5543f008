package catalog

import (
	"encoding/hex"
	"encoding/json"
	"time"
)

// Hash is a sha256 digest. Secrets (admin tokens, enrollment tokens, device credentials) are stored only as
// their Hash; the caller hashes the presented secret and looks the hash up.
type Hash [32]byte

// MarshalText encodes the hash as 64 lower-case hex characters (for JSON and logs).
func (h Hash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h[:])), nil }

// UnmarshalText decodes what MarshalText wrote.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return invalidf("hash of %d hex characters, want 64", len(b))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return invalidf("hash: %v", err)
	}
	return nil
}

// Role of an admin token.
type Role string

const (
	// RoleDirector administers the whole tenant.
	RoleDirector Role = "director"
	// RoleManager administers one store (AdminToken.StoreID).
	RoleManager Role = "manager"
)

// Bounds enforced by Validate (and so by every backend). Network inputs are checked against them before they are
// stored; the HTTP layer may apply tighter ones.
const (
	MaxNameLen       = 200  // bytes, for names, titles, artists
	MaxStatusBytes   = 4096 // bytes of Device.Telemetry.Status (a JSON object)
	MaxInventoryLen  = 8192 // bytes of SyncLog.Inventory (a JSON object)
	MaxPlaylistLen   = 10000
	MaxSpotRules     = 16
	MaxSpotTimes     = 48 // fixed times per spot rule
	MeshKeyLen       = 32 // bytes, AES-256 key for memberlist
	MaxPublicKeyLen  = 256
	MaxPageLimit     = 10000 // largest page any paged method returns; larger limits are clamped
	MaxSyncBatch     = 10000 // reports per RecordSyncs call
	MaxPlayBatch     = 10000 // events per AddPlayEvents call
	DefaultPageLimit = 1000  // page size when a limit <= 0 is given
)

// Tenant is a retail chain. Everything else belongs to exactly one tenant.
type Tenant struct {
	ID        string // UUID
	Name      string
	CreatedAt time.Time
}

// AdminToken authenticates an admin API caller. The secret itself is never stored.
type AdminToken struct {
	ID        string // UUID
	TenantID  string
	Name      string // who or what holds it, for audit
	Role      Role
	StoreID   string // the managed store for RoleManager; empty for RoleDirector
	Hash      Hash   // sha256 of the secret; unique across all tenants
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
}

// StoreSettings are playback settings a store's players apply.
type StoreSettings struct {
	TargetLUFS  float64 // integrated loudness target, e.g. -14; within [-40, 0]
	CrossfadeMS int     // 0 disables crossfade; at most 20,000
}

// Shop is one store of a tenant (a physical shop). It is called Shop in Go because Store is the storage interface;
// everywhere else (ids, API, records) it is a store.
type Shop struct {
	ID       string // UUID
	TenantID string
	Name     string
	TimeZone string // IANA name, e.g. "America/Sao_Paulo"; must load with time.LoadLocation
	// MeshKey encrypts the store's gossip (memberlist, AES-256-GCM): MeshKeyLen bytes. It is rotated (KeyEpoch+1)
	// when a device of the store is revoked.
	MeshKey  []byte
	KeyEpoch uint32
	// MeshID names the store's mesh in mDNS announcements; random, so it does not reveal the tenant. Unique.
	MeshID    string
	Settings  StoreSettings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Zone is one sound zone of a store; each zone has one player (device) normally.
type Zone struct {
	ID        string // UUID
	TenantID  string
	StoreID   string
	Name      string
	CreatedAt time.Time
}

// DeviceTelemetry is what a device last reported; written by RecordSyncs.
type DeviceTelemetry struct {
	LastSyncAt        time.Time // zero: never synced
	AppVersion        string    // at most 64 bytes
	CachedAssetsCount int
	CachedBytes       int64
	AckedRevision     uint64          // the revision the device last confirmed it holds
	Status            json.RawMessage // the device's last status object, at most MaxStatusBytes; nil when none
}

// Device is one enrolled player.
type Device struct {
	ID        string // UUID
	TenantID  string
	StoreID   string
	ZoneID    string
	Name      string
	PublicKey []byte // the device's libp2p public key (marshalled), at most MaxPublicKeyLen bytes
	PeerID    string // libp2p peer id derived from PublicKey; unique within a tenant
	// CredentialHash is sha256 of the device's bearer credential; unique across all tenants.
	CredentialHash Hash
	EnrolledAt     time.Time
	RevokedAt      time.Time // zero while enrolled
	Telemetry      DeviceTelemetry
}

// EnrollmentToken lets one device enroll once into a store and zone.
type EnrollmentToken struct {
	Hash      Hash // sha256 of the one-time secret; unique across all tenants
	TenantID  string
	StoreID   string
	ZoneID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedBy    string    // device id once redeemed, else empty
	UsedAt    time.Time // zero until redeemed
}

// AssetKind is what an asset is played as.
type AssetKind string

const (
	KindMusic  AssetKind = "music"
	KindSpot   AssetKind = "spot"
	KindJingle AssetKind = "jingle"
)

// AssetState is where an asset is in ingest.
type AssetState string

const (
	// AssetPending: the master is uploaded, the delivery rendition is not made yet.
	AssetPending AssetState = "pending"
	// AssetReady: the rendition exists; devices may be told about it.
	AssetReady AssetState = "ready"
	// AssetFailed: transcoding failed; FailReason says why.
	AssetFailed AssetState = "failed"
)

// Asset is a media item. SHA256/MD5/Size describe the uploaded master; the Rendition* fields describe the blob
// devices download (content-addressed by RenditionSHA256).
type Asset struct {
	ID                string // UUID
	TenantID          string
	Kind              AssetKind
	Title             string
	Artist            string
	ISRC              string // empty or 12 characters
	SHA256            string // hex, 64 characters: the master's content hash
	MD5               string // hex, 32 characters, or empty
	Size              int64  // bytes of the master
	DurationMS        int64  // of the rendition; 0 until known
	Codec             string // of the rendition, e.g. "vorbis"
	LoudnessLUFS      float64
	CueInMS           int64
	CueOutMS          int64     // 0: play to the end
	ValidFrom         time.Time // zero: no lower bound
	ValidUntil        time.Time // zero: no upper bound; inclusive
	EmergencyEligible bool
	State             AssetState
	MasterKey         string // blob key of the master
	RenditionSHA256   string // hex, 64 characters, when State is ready
	RenditionSize     int64
	FailReason        string // when State is failed, at most 1000 bytes
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Playlist is an ordered list of assets.
type Playlist struct {
	ID        string // UUID
	TenantID  string
	Name      string
	AssetIDs  []string // ordered; an asset may appear more than once; each must exist in the tenant
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SpotRule inserts spots from a playlist: every N music tracks, every N minutes, and/or at fixed store-local times.
type SpotRule struct {
	PlaylistID    string
	EveryNTracks  int      // 0: off
	EveryNMinutes int      // 0: off
	At            []string // "HH:MM" store-local, sorted, unique
}

// Schedule plays a playlist during a recurring window. Scope: StoreID and ZoneID empty = tenant-wide; StoreID
// set = one store; both set = one zone. See ARCHITECTURE.md "Schedules and selection" for resolution.
type Schedule struct {
	ID         string // UUID
	TenantID   string
	StoreID    string
	ZoneID     string
	PlaylistID string
	Priority   int    // higher wins; within [-1000, 1000]
	DateFrom   string // "YYYY-MM-DD" store-local, inclusive, or empty
	DateTo     string // "YYYY-MM-DD" store-local, inclusive, or empty
	Weekdays   []int  // 0 = Sunday ... 6; empty = every day; sorted, unique
	Start      string // "HH:MM" store-local
	End        string // "HH:MM"; Start == End is all day; End < Start crosses midnight
	SpotRules  []SpotRule
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SyncLog is the audit row of one device sync: what the device reported and what it was told.
type SyncLog struct {
	TenantID         string
	DeviceID         string
	StoreID          string
	At               time.Time       // origin time of the sync
	FromRevision     uint64          // what the device reported
	ToRevision       uint64          // what it was told
	Full             bool            // full resync rather than a delta
	Upserts          int             // records sent
	Deletes          int             // tombstones sent
	Downloads        int             // blobs it was told to fetch
	StateHashMatched bool            // the device's state hash matched its reported revision
	Inventory        json.RawMessage // the device's reported inventory summary, at most MaxInventoryLen; may be nil
}

// SyncReport is one sync's writes: its log row and the device's new telemetry. RecordSyncs stores a batch of them.
type SyncReport struct {
	Log       SyncLog
	Telemetry DeviceTelemetry
}

// Fallback levels of a play (ARCHITECTURE.md "Schedules and selection").
const (
	FallbackScheduled = "scheduled"
	FallbackSpot      = "spot"
	FallbackEmergency = "emergency"
	FallbackBuiltin   = "builtin"
	FallbackSilence   = "silence"
)

// PlayEvent is one proof-of-play. (TenantID, DeviceID, Seq) identifies it: storing it twice keeps the first.
type PlayEvent struct {
	TenantID   string
	DeviceID   string
	Seq        uint64 // per device, assigned by the device
	AssetID    string // empty for builtin or silence
	StoreID    string
	ZoneID     string
	StartedAt  time.Time
	DurationMS int64
	Fallback   string // one of the Fallback* levels
	ReceivedAt time.Time
}

// PlayQuery selects play events of one tenant. Empty fields do not filter. Results are ordered by
// (StartedAt, DeviceID, Seq) ascending.
type PlayQuery struct {
	StoreID  string
	ZoneID   string
	DeviceID string
	AssetID  string
	From     time.Time // inclusive; zero: no bound
	To       time.Time // exclusive; zero: no bound
	Cursor   string    // from a previous page's Next; empty for the first page
	Limit    int       // <= 0: DefaultPageLimit; clamped to MaxPageLimit
}

// PlayPage is one page of play events.
type PlayPage struct {
	Events []PlayEvent
	Next   string // cursor of the next page; empty when this is the last
}

// ListOptions pages a listing ordered by id.
type ListOptions struct {
	Cursor string // from a previous page's Next; empty for the first page
	Limit  int    // <= 0: DefaultPageLimit; clamped to MaxPageLimit
	// Query, for ListAssets only, keeps the assets whose "title artist isrc" contains it, ignoring case and
	// accents (FoldSearch); empty keeps all; at most MaxQueryLen bytes. A page of a search may hold fewer than
	// Limit assets with Next set: a backend that scans bounds the rows one call reads (search.go).
	Query string
	// Emergency, for ListAssets only, keeps the emergency-eligible assets; pages as for Query.
	Emergency bool
}

// AssetPage is one page of assets ordered by id.
type AssetPage struct {
	Assets []Asset
	Next   string
}

// SyncLogPage is one page of a device's sync logs, newest first.
type SyncLogPage struct {
	Logs []SyncLog
	Next string
}

// DeviceFilter selects devices; empty fields do not filter.
type DeviceFilter struct {
	StoreID string
	ZoneID  string
}

// ScheduleFilter selects schedules. StoreID set: the tenant-wide schedules plus those of that store (and its
// zones), which is what a store's devices need; empty: all.
type ScheduleFilter struct {
	StoreID string
}

// NormTime is how every backend stores a time: UTC, microsecond precision (PostgreSQL's), zero kept zero. Values
// read back equal NormTime of what was written.
func NormTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
