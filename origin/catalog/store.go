package catalog

import (
	"context"
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

// TenantScope is the scope of records every store of the tenant receives (assets, playlists, tenant-wide
// schedules). Any other scope is a store id: only that store's devices receive the record.
const TenantScope = ""

// SyncState is what a no-change sync compares; reading it touches no catalog table.
type SyncState struct {
	// Revision is the tenant's current revision (0 before the first write).
	Revision uint64
	// Hash is the state hash of the live records a device of the store holds at Revision: those of TenantScope
	// plus those of the store's scope. It equals crdt.StateHash computed over exactly those records.
	Hash crdt.StateHash
}

// RecordPage is one page of records.
type RecordPage struct {
	Records []crdt.Record
	// Revision is the tenant revision of the snapshot the page was read from. A manifest built from several
	// pages reports the lowest Revision among them, and asks for later pages with atLeast set to it, so a device
	// is never told a revision newer than every record it was sent.
	Revision uint64
	// Next is the cursor of the next page; empty when this page is the last.
	Next string
}

// Store is the catalog of origin: every tenant's domain rows, the per-tenant revision, the signed records that
// devices receive and their state hashes, sync logs and proof-of-play.
//
// All methods are safe for concurrent use by many goroutines and may block on I/O; each honours ctx's deadline
// and cancellation. Every method that takes a tenantID reads and writes only that tenant's rows: a row of another
// tenant is ErrNotFound. Lookups by a secret's Hash are global (the hash identifies the tenant) and are single
// indexed reads. Returned values are owned by the caller (byte slices are not retained by the store and not shared
// between calls). Byte slices handed in are not retained after the call returns.
//
// Backends retry transient failures (lost connections during a failover, serialization failures) within ctx's
// deadline; errors that remain are returned wrapped.
type Store interface {
	// CreateTenant stores a new tenant. ErrConflict if the id exists; ErrInvalid if malformed.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant returns a tenant or ErrNotFound.
	GetTenant(ctx context.Context, tenantID string) (Tenant, error)

	// AdminTokenByHash finds an admin token by the hash of its secret. ErrNotFound when unknown; when revoked it
	// returns the token and an error wrapping ErrRevoked.
	AdminTokenByHash(ctx context.Context, h Hash) (AdminToken, error)
	// ListAdminTokens lists the tenant's admin tokens (revoked included), ordered by id.
	ListAdminTokens(ctx context.Context, tenantID string) ([]AdminToken, error)

	// GetStore returns one store of the tenant or ErrNotFound.
	GetStore(ctx context.Context, tenantID, storeID string) (Shop, error)
	// ListStores lists the tenant's stores ordered by id.
	ListStores(ctx context.Context, tenantID string) ([]Shop, error)
	// GetZone returns one zone of the tenant or ErrNotFound.
	GetZone(ctx context.Context, tenantID, zoneID string) (Zone, error)
	// ListZones lists the zones of one store (storeID empty: of all stores), ordered by id.
	ListZones(ctx context.Context, tenantID, storeID string) ([]Zone, error)

	// GetDevice returns one device of the tenant (revoked included) or ErrNotFound.
	GetDevice(ctx context.Context, tenantID, deviceID string) (Device, error)
	// ListDevices lists devices (revoked included) with their telemetry, ordered by id.
	ListDevices(ctx context.Context, tenantID string, f DeviceFilter) ([]Device, error)
	// DeviceByCredential finds a device by the hash of its credential: the hot path of every device request.
	// ErrNotFound when unknown; when revoked it returns the device and an error wrapping ErrRevoked.
	DeviceByCredential(ctx context.Context, h Hash) (Device, error)

	// EnrollmentTokenByHash finds an enrollment token by the hash of its secret (ErrNotFound), whatever its
	// state: redeem it with Tx.RedeemEnrollmentToken, which checks use and expiry atomically.
	EnrollmentTokenByHash(ctx context.Context, h Hash) (EnrollmentToken, error)
	// ListEnrollmentTokens lists a store's tokens (storeID empty: all), ordered by expiry then hash.
	ListEnrollmentTokens(ctx context.Context, tenantID, storeID string) ([]EnrollmentToken, error)

	// GetAsset returns one asset or ErrNotFound.
	GetAsset(ctx context.Context, tenantID, assetID string) (Asset, error)
	// ListAssets pages the tenant's assets ordered by id.
	ListAssets(ctx context.Context, tenantID string, o ListOptions) (AssetPage, error)
	// GetAssets reads the tenant's assets among ids (at most MaxAssetIDs, each a UUID, else ErrInvalid), ordered by
	// id, each once. An id that is unknown, or another tenant's, is left out: the answer does not tell them apart.
	GetAssets(ctx context.Context, tenantID string, ids []string) ([]Asset, error)
	// GetPlaylist returns one playlist or ErrNotFound.
	GetPlaylist(ctx context.Context, tenantID, playlistID string) (Playlist, error)
	// ListPlaylists lists the tenant's playlists ordered by id.
	ListPlaylists(ctx context.Context, tenantID string) ([]Playlist, error)
	// GetSchedule returns one schedule or ErrNotFound.
	GetSchedule(ctx context.Context, tenantID, scheduleID string) (Schedule, error)
	// ListSchedules lists schedules ordered by id (see ScheduleFilter).
	ListSchedules(ctx context.Context, tenantID string, f ScheduleFilter) ([]Schedule, error)

	// GetZoneOverride returns a zone's current override (a cleared one included), or ErrNotFound when none was
	// ever set (or the zone is gone).
	GetZoneOverride(ctx context.Context, tenantID, zoneID string) (ZoneOverride, error)
	// ListZoneOverrides lists the current overrides of one store's zones (storeID empty: of all stores), ordered
	// by zone id.
	ListZoneOverrides(ctx context.Context, tenantID, storeID string) ([]ZoneOverride, error)
	// ZoneOverrideHistory returns the audit trail of a zone's overrides, newest first, at most limit (<= 0 or
	// above MaxOverrideHistory: MaxOverrideHistory). It outlives the zone.
	ZoneOverrideHistory(ctx context.Context, tenantID, zoneID string, limit int) ([]ZoneOverride, error)

	// Update runs fn in one transaction of the tenant: every write of fn commits together or not at all. If fn
	// returns an error, nothing is written and Update returns that error. fn may be run more than once (a backend
	// retries transient failures), so it must have no effect outside tx; tx must not be used after fn returns.
	// ErrNotFound if the tenant does not exist.
	Update(ctx context.Context, tenantID string, fn func(tx Tx) error) error

	// Revision returns the tenant's current revision (0 before the first record). ErrNotFound if no such tenant.
	Revision(ctx context.Context, tenantID string) (uint64, error)
	// SyncState returns the revision and the store's state hash, read together. It may read a replica, but never
	// one whose revision for the tenant is below atLeast (what the device reports), so a device is never sent
	// backwards.
	SyncState(ctx context.Context, tenantID, storeID string, atLeast uint64) (SyncState, error)
	// RecordsSince returns the records of TenantScope and of storeID's scope with Rev > since (tombstones
	// included), ordered by (Rev, Key), at most limit (<= 0: DefaultPageLimit; clamped to MaxPageLimit), starting
	// after cursor (empty for the first page). It reads a replica only if it holds at least revision since.
	RecordsSince(ctx context.Context, tenantID, storeID string, since uint64, cursor string, limit int) (RecordPage, error)
	// LiveRecords pages the live (non-deleted) records of TenantScope and storeID's scope ordered by Key, for a
	// full resync. It reads a replica only if it holds at least revision atLeast.
	LiveRecords(ctx context.Context, tenantID, storeID string, atLeast uint64, cursor string, limit int) (RecordPage, error)
	// DeviceSyncState is DeviceByCredential and then SyncState of the device's tenant and store, read together in
	// one round trip: the whole catalog cost of a no-change sync. Errors as DeviceByCredential (when revoked, the
	// device is returned with ErrRevoked and a zero SyncState). Replica rules as SyncState.
	DeviceSyncState(ctx context.Context, h Hash, atLeast uint64) (Device, SyncState, error)
	// GetRecord returns the record stored under key (a tombstone included) and its scope, or ErrNotFound.
	GetRecord(ctx context.Context, tenantID, key string) (crdt.Record, string, error)

	// RecordSyncs stores a batch of sync reports (of any tenants, up to MaxSyncBatch): each report appends its
	// SyncLog and sets the device's telemetry, unless the device already holds telemetry with a later LastSyncAt
	// (batches may land out of order). All reports are durable when it returns nil. A batch refused by validation
	// (ErrInvalid) or naming a device that does not exist in its tenant (ErrNotFound) writes nothing; after a
	// storage failure part of the batch may be written (a retry then duplicates those sync logs, never telemetry).
	RecordSyncs(ctx context.Context, reports []SyncReport) error
	// ListSyncLogs pages a device's sync logs, newest first.
	ListSyncLogs(ctx context.Context, tenantID, deviceID string, o ListOptions) (SyncLogPage, error)

	// AddPlayEvents stores play events of the tenant durably (up to MaxPlayBatch per call; more is ErrInvalid); an
	// event whose (DeviceID, Seq) is already stored is skipped (the first copy wins). It returns how many were
	// new. Every event's TenantID must be tenantID or empty (filled in); its device must exist in the tenant
	// (ErrNotFound). Events and devices are checked first: a refused batch stores nothing. After a storage
	// failure part of the batch may be stored; sending it again is safe.
	AddPlayEvents(ctx context.Context, tenantID string, events []PlayEvent) (int, error)
	// QueryPlayEvents pages the tenant's play events (see PlayQuery).
	QueryPlayEvents(ctx context.Context, tenantID string, q PlayQuery) (PlayPage, error)

	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// Tx is one catalog transaction of one tenant, handed to fn by Store.Update. It is not safe for concurrent use
// and is valid only while fn runs. Reads through Tx see the transaction's own writes. A refusal by a domain rule
// (ErrInvalid, ErrConflict, ErrNotFound, ErrRevoked, ErrTokenUsed, ErrExpired) writes nothing and leaves the
// transaction usable; any other error from a Tx method (a storage failure) makes every later call fail and
// Update return that error, even if fn ignores it.
type Tx interface {
	// TenantID is the transaction's tenant.
	TenantID() string
	// NextRevision takes the tenant's next revision for this transaction and returns it; later calls in the same
	// transaction return the same value. Writers of one tenant are serialized from the first call until commit,
	// so revisions are committed in order without gaps.
	NextRevision() (uint64, error)
	// PutRecord stores a signed record under its key, replacing the previous one, and updates the state hashes
	// of the scope. rec.Tenant must be the transaction's tenant and rec.Rev its NextRevision (else
	// ErrRevisionMismatch). scope is TenantScope or a store id of the tenant; the scope of a key is fixed by its
	// first record: a different scope later is ErrConflict. rec's slices are copied.
	PutRecord(rec crdt.Record, scope string) error

	GetStore(storeID string) (Shop, error)
	GetZone(zoneID string) (Zone, error)
	GetDevice(deviceID string) (Device, error)
	ListDevices(f DeviceFilter) ([]Device, error)
	GetAsset(assetID string) (Asset, error)
	GetPlaylist(playlistID string) (Playlist, error)
	GetSchedule(scheduleID string) (Schedule, error)

	// PutStore inserts or replaces a store (CreatedAt is kept from the first insert). ErrConflict if its MeshID
	// belongs to another store.
	PutStore(s Shop) error
	// DeleteStore deletes a store. ErrNotFound; ErrConflict while zones, devices, schedules or tokens use it.
	DeleteStore(storeID string) error
	// PutZone inserts or replaces a zone; its store must exist (ErrInvalid). A zone does not move between stores
	// (ErrConflict).
	PutZone(z Zone) error
	// DeleteZone deletes a zone and its current override (its override history is kept). ErrNotFound;
	// ErrConflict while devices, schedules or tokens use it.
	DeleteZone(zoneID string) error
	// GetZoneOverride returns the zone's current override or ErrNotFound.
	GetZoneOverride(zoneID string) (ZoneOverride, error)
	// PutZoneOverride makes o its zone's current override and appends it to the zone's history. The zone must
	// exist in o.StoreID (ErrInvalid); o.HLC must be after the current override's (ErrConflict), so the history
	// and the register devices keep agree on the order.
	PutZoneOverride(o ZoneOverride) error

	// CreateDevice enrolls a device; its store and zone must exist (ErrInvalid). ErrConflict if the id, the
	// credential hash or the peer id is taken.
	CreateDevice(d Device) error
	// RevokeDevice marks a device revoked at the given time. ErrNotFound; ErrRevoked if already revoked.
	RevokeDevice(deviceID string, at time.Time) error

	// PutAsset inserts or replaces an asset (CreatedAt is kept from the first insert).
	PutAsset(a Asset) error
	// DeleteAsset deletes an asset. ErrNotFound; ErrConflict while a playlist lists it.
	DeleteAsset(assetID string) error
	// PutPlaylist inserts or replaces a playlist; its assets must exist (ErrInvalid).
	PutPlaylist(p Playlist) error
	// DeletePlaylist deletes a playlist. ErrNotFound; ErrConflict while a schedule or spot rule uses it.
	DeletePlaylist(playlistID string) error
	// PutSchedule inserts or replaces a schedule; its playlists, store and zone must exist (ErrInvalid).
	PutSchedule(s Schedule) error
	// DeleteSchedule deletes a schedule or returns ErrNotFound.
	DeleteSchedule(scheduleID string) error

	// CreateAdminToken stores a token. ErrConflict if the id or hash is taken; a manager's store must exist.
	CreateAdminToken(t AdminToken) error
	// RevokeAdminToken marks a token revoked. ErrNotFound; ErrRevoked if already revoked.
	RevokeAdminToken(tokenID string, at time.Time) error
	// CreateEnrollmentToken stores a one-time token; its store and zone must exist (ErrInvalid). ErrConflict if
	// the hash is taken.
	CreateEnrollmentToken(t EnrollmentToken) error
	// RedeemEnrollmentToken marks the token used by deviceID at now and returns it. ErrNotFound (unknown or of
	// another tenant), ErrTokenUsed, ErrExpired (now after ExpiresAt): in those cases nothing changes.
	RedeemEnrollmentToken(h Hash, deviceID string, now time.Time) (EnrollmentToken, error)
}

// SumHashes returns the state hash of the union of two disjoint sets given their hashes: the sum modulo 2^256 that
// crdt.StateHash is defined as. SyncState uses it to join the tenant scope's hash and a store scope's hash.
func SumHashes(a, b crdt.StateHash) crdt.StateHash {
	var out crdt.StateHash
	var carry uint64
	for i := 3; i >= 0; i-- {
		x := binary.BigEndian.Uint64(a[i*8:])
		y := binary.BigEndian.Uint64(b[i*8:])
		var r uint64
		r, carry = bits.Add64(x, y, carry)
		binary.BigEndian.PutUint64(out[i*8:], r)
	}
	return out
}
