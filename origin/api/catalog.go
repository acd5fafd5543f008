package api

import (
	"encoding/json"
	"regexp"
	"time"
)

// Asset kinds.
const (
	KindMusic  = "music"
	KindSpot   = "spot"
	KindJingle = "jingle"
)

// Asset statuses (admin view only; devices see ready assets only).
const (
	AssetPending = "pending" // created, file not uploaded yet
	AssetIngest  = "ingest"  // uploaded, delivery rendition being made
	AssetReady   = "ready"   // delivery rendition available; travels to devices
	AssetFailed  = "failed"  // ingest failed; Error says why
)

// Asset is one piece of content. As a record body (key asset/<id>) it describes the delivery rendition: SHA256, MD5,
// Size, Codec and DurationMS are those of the file devices download.
type Asset struct {
	ID                string     `json:"id"`
	Kind              string     `json:"kind"`
	Title             string     `json:"title"`
	Artist            string     `json:"artist,omitempty"`
	ISRC              string     `json:"isrc,omitempty"`
	SHA256            string     `json:"sha256,omitempty"`
	MD5               string     `json:"md5,omitempty"`
	Size              int64      `json:"size,omitempty"`
	DurationMS        int64      `json:"duration_ms,omitempty"`
	Codec             string     `json:"codec,omitempty"`
	LoudnessLUFS      float64    `json:"loudness_lufs,omitempty"`
	CueInMS           int64      `json:"cue_in_ms,omitempty"`
	CueOutMS          int64      `json:"cue_out_ms,omitempty"`
	ValidFrom         *time.Time `json:"valid_from,omitempty"`
	ValidUntil        *time.Time `json:"valid_until,omitempty"`
	EmergencyEligible bool       `json:"emergency_eligible"`
	// Admin view only (omitted from record bodies).
	Status       string `json:"status,omitempty"`
	Error        string `json:"error,omitempty"`
	MasterSHA256 string `json:"master_sha256,omitempty"`
}

// AssetInput creates an asset from an uploaded file (POST /v1/assets) or replaces its metadata and, with a new
// MasterSHA256, its file (PUT /v1/assets/{id}). The file is uploaded first with PUT /v1/uploads/{sha256}.
type AssetInput struct {
	// MasterSHA256 names the uploaded master file; required on create, empty on update keeps the current one.
	MasterSHA256      string     `json:"master_sha256,omitempty"`
	Kind              string     `json:"kind"`
	Title             string     `json:"title"`
	Artist            string     `json:"artist,omitempty"`
	ISRC              string     `json:"isrc,omitempty"`
	CueInMS           int64      `json:"cue_in_ms,omitempty"`
	CueOutMS          int64      `json:"cue_out_ms,omitempty"`
	ValidFrom         *time.Time `json:"valid_from,omitempty"`
	ValidUntil        *time.Time `json:"valid_until,omitempty"`
	EmergencyEligible bool       `json:"emergency_eligible"`
}

// Validate checks kinds, lengths and that the validity window is not inverted.
func (a *AssetInput) Validate() error {
	switch a.Kind {
	case KindMusic, KindSpot, KindJingle:
	default:
		return BadField("kind", "kind must be music, spot or jingle, not %q", a.Kind)
	}
	if a.MasterSHA256 != "" && !ValidSHA256(a.MasterSHA256) {
		return BadField("master_sha256", "master_sha256 must be 64 lowercase hex characters")
	}
	if err := checkLen("title", a.Title, MaxNameLen, true); err != nil {
		return err
	}
	if err := checkLen("artist", a.Artist, MaxNameLen, false); err != nil {
		return err
	}
	if a.ISRC != "" && len(a.ISRC) != 12 {
		return BadField("isrc", "isrc must be 12 characters, not %d", len(a.ISRC))
	}
	if a.CueInMS < 0 || a.CueOutMS < 0 || (a.CueOutMS != 0 && a.CueOutMS <= a.CueInMS) {
		return BadField("cue_out_ms", "cue points must be >= 0 and cue_out_ms after cue_in_ms")
	}
	if a.ValidFrom != nil && a.ValidUntil != nil && a.ValidUntil.Before(*a.ValidFrom) {
		return BadField("valid_until", "validity window inverted: valid_until %s is before valid_from %s",
			a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
	return nil
}

// Upload is a stored master file (answer of PUT /v1/uploads/{sha256}).
type Upload struct {
	SHA256 string `json:"sha256"`
	MD5    string `json:"md5"`
	Size   int64  `json:"size"`
}

// Playlist is an ordered list of asset ids (record key playlist/<id>).
type Playlist struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	AssetIDs []string `json:"asset_ids"`
}

// PlaylistInput creates or replaces a playlist.
type PlaylistInput struct {
	Name     string   `json:"name"`
	AssetIDs []string `json:"asset_ids"`
}

// Validate checks the name and every id.
func (p *PlaylistInput) Validate() error {
	if err := checkLen("name", p.Name, MaxNameLen, true); err != nil {
		return err
	}
	if len(p.AssetIDs) > MaxPlaylistAssets {
		return BadField("asset_ids", "a playlist holds at most %d assets", MaxPlaylistAssets)
	}
	for _, id := range p.AssetIDs {
		if err := checkID("asset_ids", id, true); err != nil {
			return err
		}
	}
	return nil
}

// Schedule scopes.
const (
	ScopeTenant = "tenant"
	ScopeStore  = "store"
	ScopeZone   = "zone"
)

// SpotRule inserts a spot from PlaylistID every N music tracks, every N minutes, or at fixed store-local times.
type SpotRule struct {
	PlaylistID    string   `json:"playlist_id"`
	EveryNTracks  int      `json:"every_n_tracks,omitempty"`
	EveryNMinutes int      `json:"every_n_minutes,omitempty"`
	At            []string `json:"at,omitempty"` // "HH:MM", store-local
}

// Schedule is a rule, not expanded events (record key schedule/<id>); see ARCHITECTURE.md "Schedules and selection".
type Schedule struct {
	ID         string     `json:"id"`
	Scope      string     `json:"scope"`
	StoreID    string     `json:"store_id,omitempty"`
	ZoneID     string     `json:"zone_id,omitempty"`
	PlaylistID string     `json:"playlist_id"`
	Priority   int        `json:"priority"`
	DateFrom   string     `json:"date_from,omitempty"` // YYYY-MM-DD, store-local, inclusive
	DateTo     string     `json:"date_to,omitempty"`
	Weekdays   []int      `json:"weekdays,omitempty"` // 0 = Sunday; empty = every day
	Start      string     `json:"start"`              // HH:MM
	End        string     `json:"end"`                // HH:MM; == Start: all day; < Start: crosses midnight
	SpotRules  []SpotRule `json:"spot_rules,omitempty"`
}

// ScheduleInput creates or replaces a schedule.
type ScheduleInput struct {
	Scope      string     `json:"scope"`
	StoreID    string     `json:"store_id,omitempty"`
	ZoneID     string     `json:"zone_id,omitempty"`
	PlaylistID string     `json:"playlist_id"`
	Priority   int        `json:"priority"`
	DateFrom   string     `json:"date_from,omitempty"`
	DateTo     string     `json:"date_to,omitempty"`
	Weekdays   []int      `json:"weekdays,omitempty"`
	Start      string     `json:"start"`
	End        string     `json:"end"`
	SpotRules  []SpotRule `json:"spot_rules,omitempty"`
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Validate checks scope ids, clock times, date range order, weekdays and spot rules.
func (s *ScheduleInput) Validate() error {
	switch s.Scope {
	case ScopeTenant:
		if s.StoreID != "" || s.ZoneID != "" {
			return BadField("scope", "a tenant-wide schedule has no store_id or zone_id")
		}
	case ScopeStore:
		if err := checkID("store_id", s.StoreID, true); err != nil {
			return err
		}
		if s.ZoneID != "" {
			return BadField("zone_id", "a store schedule has no zone_id")
		}
	case ScopeZone:
		if err := checkID("zone_id", s.ZoneID, true); err != nil {
			return err
		}
		if err := checkID("store_id", s.StoreID, false); err != nil {
			return err
		}
	default:
		return BadField("scope", "scope must be tenant, store or zone, not %q", s.Scope)
	}
	if err := checkID("playlist_id", s.PlaylistID, true); err != nil {
		return err
	}
	if s.Priority < -1000 || s.Priority > 1000 {
		return BadField("priority", "priority must be within [-1000, 1000]")
	}
	if !hhmm.MatchString(s.Start) {
		return BadField("start", "start must be HH:MM, not %q", s.Start)
	}
	if !hhmm.MatchString(s.End) {
		return BadField("end", "end must be HH:MM, not %q", s.End)
	}
	var from, to time.Time
	var err error
	if s.DateFrom != "" {
		if from, err = time.Parse(time.DateOnly, s.DateFrom); err != nil {
			return BadField("date_from", "date_from must be YYYY-MM-DD, not %q", s.DateFrom)
		}
	}
	if s.DateTo != "" {
		if to, err = time.Parse(time.DateOnly, s.DateTo); err != nil {
			return BadField("date_to", "date_to must be YYYY-MM-DD, not %q", s.DateTo)
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return BadField("date_to", "date range inverted: date_to %s is before date_from %s", s.DateTo, s.DateFrom)
	}
	if len(s.Weekdays) > 7 {
		return BadField("weekdays", "at most 7 weekdays")
	}
	for _, d := range s.Weekdays {
		if d < 0 || d > 6 {
			return BadField("weekdays", "weekday %d outside 0 (Sunday) .. 6", d)
		}
	}
	if len(s.SpotRules) > MaxSpotRules {
		return BadField("spot_rules", "at most %d spot rules", MaxSpotRules)
	}
	for _, r := range s.SpotRules {
		if err := checkID("spot_rules.playlist_id", r.PlaylistID, true); err != nil {
			return err
		}
		if r.EveryNTracks < 0 || r.EveryNMinutes < 0 || r.EveryNTracks > 1000 || r.EveryNMinutes > 24*60 {
			return BadField("spot_rules", "every_n_tracks within [0,1000], every_n_minutes within [0,1440]")
		}
		if r.EveryNTracks == 0 && r.EveryNMinutes == 0 && len(r.At) == 0 {
			return BadField("spot_rules", "a spot rule needs every_n_tracks, every_n_minutes or at")
		}
		if len(r.At) > MaxSpotTimes {
			return BadField("spot_rules.at", "at most %d fixed times", MaxSpotTimes)
		}
		for _, a := range r.At {
			if !hhmm.MatchString(a) {
				return BadField("spot_rules.at", "fixed time must be HH:MM, not %q", a)
			}
		}
	}
	return nil
}

// StoreInfo is a store as devices see it (record key store/<id>). Zones are not part of it: a device learns its
// zone at enrollment, and zone-scoped schedules and device keys carry zone ids.
type StoreInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	// TargetLUFS is the integrated loudness players normalize to; CrossfadeMS 0 disables crossfade.
	TargetLUFS  float64 `json:"target_lufs"`
	CrossfadeMS int     `json:"crossfade_ms"`
}

// ZoneInfo is one sound zone of a store.
type ZoneInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DeviceKeys is the store's list of admitted device keys (record key devices/<store id>). Nodes admit libp2p peers
// whose key is listed; a revoked device disappears from the list.
type DeviceKeys struct {
	StoreID string      `json:"store_id"`
	Devices []DeviceKey `json:"devices"` // sorted by device id
}

// DeviceKey is one device's libp2p public key (libp2p-marshalled; base64 in JSON).
type DeviceKey struct {
	DeviceID      string `json:"device_id"`
	ZoneID        string `json:"zone_id"`
	PeerPublicKey []byte `json:"peer_public_key"`
}

// Tenant is the caller's chain (GET /v1/tenant).
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Store is a shop (admin view). The mesh key is never shown to admins: only enrolled devices receive it.
type Store struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	TimeZone    string     `json:"time_zone"`
	TargetLUFS  float64    `json:"target_lufs"`
	CrossfadeMS int        `json:"crossfade_ms"`
	MeshID      string     `json:"mesh_id"`
	MeshEpoch   uint32     `json:"mesh_epoch"`
	Zones       []ZoneInfo `json:"zones"`
}

// StoreInput creates or replaces a store.
type StoreInput struct {
	Name        string  `json:"name"`
	TimeZone    string  `json:"time_zone"`
	TargetLUFS  float64 `json:"target_lufs,omitempty"` // 0: -14
	CrossfadeMS int     `json:"crossfade_ms,omitempty"`
}

// Validate checks the name, the IANA time zone and playback settings.
func (s *StoreInput) Validate() error {
	if err := checkLen("name", s.Name, MaxNameLen, true); err != nil {
		return err
	}
	if s.TimeZone == "" || len(s.TimeZone) > 64 {
		return BadField("time_zone", "time_zone is required (an IANA name such as America/Sao_Paulo)")
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
		return BadField("time_zone", "time_zone %q is not an IANA time zone", s.TimeZone)
	}
	if s.TargetLUFS < -40 || s.TargetLUFS > 0 {
		return BadField("target_lufs", "target_lufs within [-40, 0]")
	}
	if s.CrossfadeMS < 0 || s.CrossfadeMS > 20000 {
		return BadField("crossfade_ms", "crossfade_ms within [0, 20000]")
	}
	return nil
}

// ZoneInput creates a zone in a store.
type ZoneInput struct {
	Name string `json:"name"`
}

// Validate checks the name.
func (z *ZoneInput) Validate() error { return checkLen("name", z.Name, MaxNameLen, true) }

// Device is an enrolled player with its last telemetry (admin view).
type Device struct {
	ID                string     `json:"id"`
	StoreID           string     `json:"store_id"`
	ZoneID            string     `json:"zone_id"`
	Name              string     `json:"name,omitempty"`
	PeerID            string     `json:"peer_id"`
	EnrolledAt        time.Time  `json:"enrolled_at"`
	RevokedAt         *time.Time `json:"revoked_at,omitempty"`
	LastSyncAt        *time.Time `json:"last_sync_at,omitempty"`
	AppVersion        string     `json:"app_version,omitempty"`
	CachedAssetsCount int        `json:"cached_assets_count"`
	CachedBytes       int64      `json:"cached_bytes"`
	AckedRevision     uint64     `json:"acked_revision"`
	// Status is the device's last self-report (now playing, fallback, clock, coverage, disk); nil when none.
	Status *DeviceStatus `json:"status,omitempty"`
}

// SyncLog is one audited sync of a device.
type SyncLog struct {
	At               time.Time       `json:"at"`
	FromRevision     uint64          `json:"from_revision"`
	ToRevision       uint64          `json:"to_revision"`
	Full             bool            `json:"full"`
	Upserts          int             `json:"upserts"`
	Deletes          int             `json:"deletes"`
	Downloads        int             `json:"downloads"`
	StateHashMatched bool            `json:"state_hash_matched"`
	Inventory        json.RawMessage `json:"inventory,omitempty"`
}

// EnrollmentTokenInput issues a one-time enrollment token for a zone.
type EnrollmentTokenInput struct {
	StoreID string `json:"store_id"`
	ZoneID  string `json:"zone_id"`
	TTLS    int    `json:"ttl_s,omitempty"` // seconds; 0: the server's default; at most 90 days
}

// Validate checks ids and the TTL.
func (t *EnrollmentTokenInput) Validate() error {
	if err := checkID("store_id", t.StoreID, true); err != nil {
		return err
	}
	if err := checkID("zone_id", t.ZoneID, true); err != nil {
		return err
	}
	if t.TTLS < 0 || t.TTLS > 90*24*3600 {
		return BadField("ttl_s", "ttl_s within [0, 7776000]")
	}
	return nil
}

// EnrollmentToken is an issued token. Token (the secret) is shown only when it is created.
type EnrollmentToken struct {
	Token     string     `json:"token,omitempty"`
	StoreID   string     `json:"store_id"`
	ZoneID    string     `json:"zone_id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedBy    string     `json:"used_by,omitempty"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
}

// Play is one proof-of-play event (admin query).
type Play struct {
	DeviceID   string    `json:"device_id"`
	Seq        uint64    `json:"seq"`
	AssetID    string    `json:"asset_id,omitempty"`
	StoreID    string    `json:"store_id"`
	ZoneID     string    `json:"zone_id"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Fallback   string    `json:"fallback"`
	ReceivedAt time.Time `json:"received_at"`
}

// Page wraps a listing; Next is the cursor of the next page (empty on the last).
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// AdminTokenInput issues an admin token (POST /v1/admin-tokens).
type AdminTokenInput struct {
	Name    string `json:"name"`
	Role    string `json:"role"`               // director (everything) or manager (read-only)
	StoreID string `json:"store_id,omitempty"` // the managed store, for a manager
}

// Validate checks the name, role and store.
func (a *AdminTokenInput) Validate() error {
	if err := checkLen("name", a.Name, MaxNameLen, true); err != nil {
		return err
	}
	switch a.Role {
	case "director":
		if a.StoreID != "" {
			return BadField("store_id", "a director token has no store_id")
		}
	case "manager":
		if err := checkID("store_id", a.StoreID, true); err != nil {
			return err
		}
	default:
		return BadField("role", "role must be director or manager, not %q", a.Role)
	}
	return nil
}

// AdminToken is an issued admin token; Token (the secret) is shown only when it is created.
type AdminToken struct {
	ID        string     `json:"id"`
	Token     string     `json:"token,omitempty"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	StoreID   string     `json:"store_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}
