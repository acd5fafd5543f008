package api

import (
	"crypto/ed25519"
	"encoding/json"
	"time"
)

// EnrollRequest redeems a one-time enrollment token (POST /v1/device/enroll, at most MaxEnrollBody bytes).
type EnrollRequest struct {
	Token string `json:"token"`
	// PeerPublicKey is the device's own libp2p public key, marshalled by libp2p's crypto.MarshalPublicKey; the store's
	// nodes admit the device's libp2p connections by it.
	PeerPublicKey []byte `json:"peer_public_key"`
	Name          string `json:"name,omitempty"`
	AppVersion    string `json:"app_version,omitempty"`
}

// Validate bounds every field.
func (r *EnrollRequest) Validate() error {
	if err := checkLen("token", r.Token, 128, true); err != nil {
		return err
	}
	if len(r.PeerPublicKey) == 0 || len(r.PeerPublicKey) > MaxPublicKeyLen {
		return BadField("peer_public_key", "peer_public_key is required, at most %d bytes", MaxPublicKeyLen)
	}
	if err := checkLen("name", r.Name, MaxNameLen, false); err != nil {
		return err
	}
	return checkLen("app_version", r.AppVersion, 64, false)
}

// EnrollResponse is what a device keeps from enrollment. Credential is shown once; origin stores only its hash.
type EnrollResponse struct {
	DeviceID        string `json:"device_id"`
	Credential      string `json:"credential"`
	OriginPublicKey []byte `json:"origin_public_key"` // ed25519, 32 bytes: pin it
	TenantID        string `json:"tenant_id"`
	StoreID         string `json:"store_id"`
	ZoneID          string `json:"zone_id"`
	TimeZone        string `json:"time_zone"`
	Mesh            Mesh   `json:"mesh"`
}

// Mesh is the store's gossip secret. It is rotated (Epoch+1) when a device of the store is revoked; a sync answer
// that carries any change carries the current Mesh.
type Mesh struct {
	ID    string `json:"id"`    // announced in mDNS; random, does not reveal the tenant
	Key   []byte `json:"key"`   // 32 bytes, memberlist AES-256-GCM
	Epoch uint32 `json:"epoch"` // increases on every rotation
	// Sig is origin's ed25519 signature of MeshSigningBytes: a node that missed a rotation can take the key from a
	// peer (over libp2p, between listed devices only) and know origin issued it, so no device can push a key of
	// its own making onto the store. Empty from origins that predate it; such a key is never passed on.
	Sig []byte `json:"sig,omitempty"`
}

// MeshSigningContext prefixes the signed bytes of a Mesh, so its signature can never be mistaken for another.
const MeshSigningContext = "lomuz-mesh-key-v1\x00"

// MeshSigningBytes is what Mesh.Sig signs: the context, the mesh id, the epoch and the key.
func MeshSigningBytes(m Mesh) []byte {
	b := make([]byte, 0, len(MeshSigningContext)+len(m.ID)+1+4+len(m.Key))
	b = append(append(b, MeshSigningContext...), m.ID...)
	b = append(b, 0, byte(m.Epoch>>24), byte(m.Epoch>>16), byte(m.Epoch>>8), byte(m.Epoch))
	return append(b, m.Key...)
}

// VerifyMesh reports whether m is signed by origin's key and belongs to the mesh id.
func VerifyMesh(origin ed25519.PublicKey, meshID string, m Mesh) bool {
	return len(origin) == ed25519.PublicKeySize && m.ID == meshID && len(m.Sig) == ed25519.SignatureSize &&
		ed25519.Verify(origin, MeshSigningBytes(m), m.Sig)
}

// SyncRequest is a device's periodic sync (POST /v1/device/sync, at most MaxSyncBody bytes).
type SyncRequest struct {
	// Revision is the tenant revision the device's records are at; 0 asks for a full manifest.
	Revision uint64 `json:"revision"`
	// StateHash is crdt.StateHash of the live records the device holds, hex; empty with Revision 0.
	StateHash  string      `json:"state_hash,omitempty"`
	AppVersion string      `json:"app_version,omitempty"`
	Inventory  Inventory   `json:"inventory"`
	PlayEvents []PlayEvent `json:"play_events,omitempty"`
	// Status is the device's report about itself, kept as its last status (optional).
	Status *DeviceStatus `json:"status,omitempty"`
	// WantMesh asks for the store's current Mesh even when nothing else changed: a device's first sync after a
	// boot, and one after a peer's signed device list showed a revocation (the mesh key rotated; the device may
	// hold it only from a peer). Origin then reads the store once more; other syncs stay a single read.
	WantMesh bool `json:"want_mesh,omitempty"`
}

// Inventory summarizes the device's blob cache.
type Inventory struct {
	CachedAssets int   `json:"cached_assets"`
	CachedBytes  int64 `json:"cached_bytes"`
	// Missing lists blobs (sha256) the device needs and lacks; origin puts them back into Downloads with URLs.
	Missing []string `json:"missing,omitempty"`
}

// PlayEvent is one proof of play. (DeviceID, Seq) identifies it; any device of the same store may deliver events
// recorded by another (the store mesh relays them), and storing an event twice keeps the first.
type PlayEvent struct {
	DeviceID   string    `json:"device_id"`
	Seq        uint64    `json:"seq"`
	AssetID    string    `json:"asset_id,omitempty"` // empty for builtin or silence
	ZoneID     string    `json:"zone_id,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Fallback   string    `json:"fallback"` // scheduled, spot, emergency, builtin, silence
}

// PlayAck acknowledges one stored play event; every node holding it may prune it.
type PlayAck struct {
	DeviceID string `json:"device_id"`
	Seq      uint64 `json:"seq"`
}

// Validate bounds the request and its events.
func (r *SyncRequest) Validate() error {
	if r.StateHash != "" && !ValidSHA256(r.StateHash) {
		return BadField("state_hash", "state_hash must be 64 lowercase hex characters")
	}
	if err := checkLen("app_version", r.AppVersion, 64, false); err != nil {
		return err
	}
	if r.Inventory.CachedAssets < 0 || r.Inventory.CachedBytes < 0 {
		return BadField("inventory", "inventory counts must be >= 0")
	}
	if len(r.Inventory.Missing) > MaxMissing {
		return BadField("inventory.missing", "at most %d missing blobs per sync", MaxMissing)
	}
	for _, s := range r.Inventory.Missing {
		if !ValidSHA256(s) {
			return BadField("inventory.missing", "%q is not a lowercase hex sha256", s)
		}
	}
	if r.Status != nil {
		if err := r.Status.Validate(); err != nil {
			return err
		}
	}
	if len(r.PlayEvents) > MaxPlayEvents {
		return BadField("play_events", "at most %d play events per sync", MaxPlayEvents)
	}
	for i := range r.PlayEvents {
		e := &r.PlayEvents[i]
		if err := checkID("play_events.device_id", e.DeviceID, true); err != nil {
			return err
		}
		if err := checkID("play_events.asset_id", e.AssetID, false); err != nil {
			return err
		}
		if err := checkID("play_events.zone_id", e.ZoneID, false); err != nil {
			return err
		}
		switch e.Fallback {
		case "scheduled", "spot", "emergency", "builtin", "silence":
		default:
			return BadField("play_events.fallback", "fallback %q is not a fallback level", e.Fallback)
		}
		if e.StartedAt.IsZero() || e.DurationMS < 0 || e.DurationMS > 24*3600*1000 {
			return BadField("play_events", "event %d: started_at required, duration_ms within [0, 1 day]", i)
		}
	}
	return nil
}

// Download priorities, in the order a device fetches.
const (
	PriorityCurrent   = "current"   // in a playlist scheduled now for the device's zone (or its spots)
	PriorityEmergency = "emergency" // emergency-eligible assets
	PriorityFuture    = "future"    // everything else the device's schedules will need
)

// Download is one blob the device should hold. URL is absolute or relative to the origin base URL.
type Download struct {
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	AssetID  string `json:"asset_id"`
	Priority string `json:"priority"`
	URL      string `json:"url"`
}

// Record is the wire form of crdt.Record: a catalog entry signed by origin. Body is canonical JSON of the type
// named by Key's kind (Asset, Playlist, Schedule, StoreInfo, DeviceKeys); empty for tombstones.
type Record struct {
	Key     string          `json:"key"`
	Tenant  string          `json:"tenant"`
	Rev     uint64          `json:"rev"`
	Deleted bool            `json:"deleted,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
	Sig     []byte          `json:"sig"`
}

// SignedTime is origin's wall-clock time signed with its key (wire form of crdt.SignedTime).
type SignedTime struct {
	UnixMS int64  `json:"unix_ms"`
	Sig    []byte `json:"sig"`
}

// SyncManifest is origin's answer to a sync. It travels inside a SignedManifest.
type SyncManifest struct {
	TenantID string `json:"tenant_id"`
	DeviceID string `json:"device_id"`
	// Revision is the tenant revision the device is at once it applies this manifest.
	Revision uint64 `json:"revision"`
	// Full: Records hold every live record and the device drops any record not listed; otherwise a delta.
	Full bool `json:"full,omitempty"`
	// StateHash is crdt.StateHash of the tenant's live records at Revision, hex. A device whose own hash differs
	// after applying the manifest asks for a full resync (Revision 0).
	StateHash  string     `json:"state_hash"`
	Records    []Record   `json:"records,omitempty"`
	Tombstones []Record   `json:"tombstones,omitempty"`
	Downloads  []Download `json:"downloads,omitempty"`
	Time       SignedTime `json:"time"`
	// Mesh is set when anything changed (it may have been rotated); nil on a no-change answer.
	Mesh *Mesh     `json:"mesh,omitempty"`
	Acks []PlayAck `json:"acks,omitempty"`
	// NextSyncS is the suggested delay before the next sync, in seconds; the device adds jitter.
	NextSyncS int `json:"next_sync_s"`
}

// SignedManifest is the body of a sync answer: Manifest is the exact JSON bytes origin signed with ed25519.
type SignedManifest struct {
	Manifest json.RawMessage `json:"manifest"`
	Sig      []byte          `json:"sig"`
}

// ManifestSigningContext prefixes the signed manifest bytes so a manifest signature can never be mistaken for a
// record or time signature made with the same key.
const ManifestSigningContext = "lomuz-manifest-v1\x00"

// PlayUpload delivers proof-of-play events outside a sync (POST /v1/device/plays, at most MaxSyncBody bytes).
type PlayUpload struct {
	Events []PlayEvent `json:"events"`
}

// Validate bounds the batch as SyncRequest does.
func (p *PlayUpload) Validate() error {
	r := SyncRequest{PlayEvents: p.Events}
	return r.Validate()
}

// PlayAcks answers a PlayUpload: every event stored (now or before).
type PlayAcks struct {
	Acks []PlayAck `json:"acks"`
}
