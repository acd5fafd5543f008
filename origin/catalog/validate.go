package catalog

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// Validate methods check the domain rules every backend enforces before a write; they return errors wrapping
// ErrInvalid. They read no clock and do no I/O (except that TimeZone names are checked against the embedded
// tzdata through time.LoadLocation).

// ValidID reports whether s is a canonical lower-case UUID (8-4-4-4-12 hex).
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func checkID(what, s string) error {
	if !ValidID(s) {
		return invalidf("%s %q is not a lower-case UUID", what, s)
	}
	return nil
}

func checkOptID(what, s string) error {
	if s == "" {
		return nil
	}
	return checkID(what, s)
}

func checkText(what, s string, max int, required bool) error {
	if required && s == "" {
		return invalidf("%s is empty", what)
	}
	if len(s) > max {
		return invalidf("%s is %d bytes, more than %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalidf("%s is not valid UTF-8", what)
	}
	return nil
}

func checkHex(what, s string, n int, required bool) error {
	if s == "" && !required {
		return nil
	}
	if len(s) != n {
		return invalidf("%s must be %d hex characters", what, n)
	}
	if _, err := hex.DecodeString(s); err != nil || s != lowerASCII(s) {
		return invalidf("%s must be lower-case hex", what)
	}
	return nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func checkJSONObject(what string, b json.RawMessage, max int) error {
	if b == nil {
		return nil
	}
	if len(b) > max {
		return invalidf("%s is %d bytes, more than %d", what, len(b), max)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return invalidf("%s is not a JSON object: %v", what, err)
	}
	return nil
}

// ValidClock reports whether s is a store-local "HH:MM" time.
func ValidClock(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	_, err := time.Parse("15:04", s)
	return err == nil
}

// ValidDate reports whether s is a "YYYY-MM-DD" date.
func ValidDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == 10
}

// Validate checks a tenant.
func (t Tenant) Validate() error {
	if err := checkID("tenant id", t.ID); err != nil {
		return err
	}
	return checkText("tenant name", t.Name, MaxNameLen, true)
}

// Validate checks an admin token.
func (t AdminToken) Validate() error {
	if err := checkID("token id", t.ID); err != nil {
		return err
	}
	if err := checkText("token name", t.Name, MaxNameLen, true); err != nil {
		return err
	}
	if t.Hash == (Hash{}) {
		return invalidf("token hash is zero")
	}
	switch t.Role {
	case RoleDirector:
		if t.StoreID != "" {
			return invalidf("a director token has no store")
		}
	case RoleManager:
		if err := checkID("manager's store id", t.StoreID); err != nil {
			return err
		}
	default:
		return invalidf("role %q is not %q or %q", t.Role, RoleDirector, RoleManager)
	}
	return nil
}

// Validate checks a store.
func (s Shop) Validate() error {
	if err := checkID("store id", s.ID); err != nil {
		return err
	}
	if err := checkText("store name", s.Name, MaxNameLen, true); err != nil {
		return err
	}
	if s.TimeZone == "" || s.TimeZone == "Local" {
		return invalidf("store time zone must be an IANA name")
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		return invalidf("store time zone %q: %v", s.TimeZone, err)
	}
	if len(s.MeshKey) != MeshKeyLen {
		return invalidf("mesh key is %d bytes, not %d", len(s.MeshKey), MeshKeyLen)
	}
	if err := checkText("mesh id", s.MeshID, 64, true); err != nil {
		return err
	}
	if l := s.Settings.TargetLUFS; l < -40 || l > 0 {
		return invalidf("target loudness %v LUFS is outside [-40, 0]", l)
	}
	if c := s.Settings.CrossfadeMS; c < 0 || c > 20000 {
		return invalidf("crossfade %d ms is outside [0, 20000]", c)
	}
	return nil
}

// Validate checks a zone.
func (z Zone) Validate() error {
	if err := checkID("zone id", z.ID); err != nil {
		return err
	}
	if err := checkID("zone's store id", z.StoreID); err != nil {
		return err
	}
	return checkText("zone name", z.Name, MaxNameLen, true)
}

// Validate checks telemetry.
func (t DeviceTelemetry) Validate() error {
	if err := checkText("app version", t.AppVersion, 64, false); err != nil {
		return err
	}
	if t.CachedAssetsCount < 0 || t.CachedBytes < 0 {
		return invalidf("cached counts are negative")
	}
	return checkJSONObject("device status", t.Status, MaxStatusBytes)
}

// Validate checks a device.
func (d Device) Validate() error {
	for _, f := range []struct{ what, id string }{{"device id", d.ID}, {"device's store id", d.StoreID}, {"device's zone id", d.ZoneID}} {
		if err := checkID(f.what, f.id); err != nil {
			return err
		}
	}
	if err := checkText("device name", d.Name, MaxNameLen, false); err != nil {
		return err
	}
	if len(d.PublicKey) == 0 || len(d.PublicKey) > MaxPublicKeyLen {
		return invalidf("device public key is %d bytes, want 1..%d", len(d.PublicKey), MaxPublicKeyLen)
	}
	if err := checkText("peer id", d.PeerID, 128, true); err != nil {
		return err
	}
	if d.CredentialHash == (Hash{}) {
		return invalidf("credential hash is zero")
	}
	return d.Telemetry.Validate()
}

// Validate checks an enrollment token.
func (t EnrollmentToken) Validate() error {
	if t.Hash == (Hash{}) {
		return invalidf("enrollment token hash is zero")
	}
	if err := checkID("token's store id", t.StoreID); err != nil {
		return err
	}
	if err := checkID("token's zone id", t.ZoneID); err != nil {
		return err
	}
	if t.ExpiresAt.IsZero() {
		return invalidf("enrollment token has no expiry")
	}
	return nil
}

// Validate checks an asset.
func (a Asset) Validate() error {
	if err := checkID("asset id", a.ID); err != nil {
		return err
	}
	switch a.Kind {
	case KindMusic, KindSpot, KindJingle:
	default:
		return invalidf("asset kind %q is not music, spot or jingle", a.Kind)
	}
	if err := checkText("title", a.Title, MaxNameLen, true); err != nil {
		return err
	}
	if err := checkText("artist", a.Artist, MaxNameLen, false); err != nil {
		return err
	}
	if a.ISRC != "" && len(a.ISRC) != 12 {
		return invalidf("ISRC %q is not 12 characters", a.ISRC)
	}
	if err := checkHex("sha256", a.SHA256, 64, true); err != nil {
		return err
	}
	if err := checkHex("md5", a.MD5, 32, false); err != nil {
		return err
	}
	if a.Size < 0 || a.DurationMS < 0 || a.CueInMS < 0 || a.CueOutMS < 0 || a.RenditionSize < 0 {
		return invalidf("asset sizes and times must not be negative")
	}
	if a.CueOutMS != 0 && a.CueOutMS <= a.CueInMS {
		return invalidf("cue out %d ms is not after cue in %d ms", a.CueOutMS, a.CueInMS)
	}
	if !a.ValidFrom.IsZero() && !a.ValidUntil.IsZero() && a.ValidUntil.Before(a.ValidFrom) {
		return invalidf("valid_until %s is before valid_from %s", a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
	if err := checkText("codec", a.Codec, 32, false); err != nil {
		return err
	}
	if err := checkText("master key", a.MasterKey, 1024, false); err != nil {
		return err
	}
	if err := checkText("fail reason", a.FailReason, 1000, false); err != nil {
		return err
	}
	switch a.State {
	case AssetPending, AssetFailed:
		return checkHex("rendition sha256", a.RenditionSHA256, 64, false)
	case AssetReady:
		return checkHex("rendition sha256", a.RenditionSHA256, 64, true)
	default:
		return invalidf("asset state %q is not pending, ready or failed", a.State)
	}
}

// Validate checks a playlist.
func (p Playlist) Validate() error {
	if err := checkID("playlist id", p.ID); err != nil {
		return err
	}
	if err := checkText("playlist name", p.Name, MaxNameLen, true); err != nil {
		return err
	}
	if len(p.AssetIDs) > MaxPlaylistLen {
		return invalidf("playlist has %d assets, more than %d", len(p.AssetIDs), MaxPlaylistLen)
	}
	for _, id := range p.AssetIDs {
		if err := checkID("playlist asset id", id); err != nil {
			return err
		}
	}
	return nil
}

// PlaylistIDs returns the playlists a schedule uses: its own and its spot rules', without duplicates.
func (s Schedule) PlaylistIDs() []string {
	ids := []string{s.PlaylistID}
	for _, r := range s.SpotRules {
		if !slices.Contains(ids, r.PlaylistID) {
			ids = append(ids, r.PlaylistID)
		}
	}
	return ids
}

// Validate checks a schedule.
func (s Schedule) Validate() error {
	if err := checkID("schedule id", s.ID); err != nil {
		return err
	}
	if err := checkID("schedule playlist id", s.PlaylistID); err != nil {
		return err
	}
	if err := checkOptID("schedule store id", s.StoreID); err != nil {
		return err
	}
	if err := checkOptID("schedule zone id", s.ZoneID); err != nil {
		return err
	}
	if s.ZoneID != "" && s.StoreID == "" {
		return invalidf("a zone schedule must name the zone's store")
	}
	if s.Priority < -1000 || s.Priority > 1000 {
		return invalidf("priority %d is outside [-1000, 1000]", s.Priority)
	}
	if s.DateFrom != "" && !ValidDate(s.DateFrom) || s.DateTo != "" && !ValidDate(s.DateTo) {
		return invalidf("schedule dates must be YYYY-MM-DD")
	}
	if s.DateFrom != "" && s.DateTo != "" && s.DateTo < s.DateFrom {
		return invalidf("date_to %s is before date_from %s", s.DateTo, s.DateFrom)
	}
	for i, d := range s.Weekdays {
		if d < 0 || d > 6 || i > 0 && d <= s.Weekdays[i-1] {
			return invalidf("weekdays must be unique, sorted, within 0..6")
		}
	}
	if !ValidClock(s.Start) || !ValidClock(s.End) {
		return invalidf("start and end must be HH:MM")
	}
	if len(s.SpotRules) > MaxSpotRules {
		return invalidf("%d spot rules, more than %d", len(s.SpotRules), MaxSpotRules)
	}
	for _, r := range s.SpotRules {
		if err := checkID("spot rule playlist id", r.PlaylistID); err != nil {
			return err
		}
		if r.EveryNTracks < 0 || r.EveryNTracks > 1000 || r.EveryNMinutes < 0 || r.EveryNMinutes > 1440 {
			return invalidf("spot rule every_n_tracks must be within 0..1000 and every_n_minutes within 0..1440")
		}
		if r.EveryNTracks == 0 && r.EveryNMinutes == 0 && len(r.At) == 0 {
			return invalidf("a spot rule needs every_n_tracks, every_n_minutes or fixed times")
		}
		if len(r.At) > MaxSpotTimes {
			return invalidf("spot rule has %d fixed times, more than %d", len(r.At), MaxSpotTimes)
		}
		for i, at := range r.At {
			if !ValidClock(at) || i > 0 && at <= r.At[i-1] {
				return invalidf("spot rule times must be HH:MM, sorted, unique")
			}
		}
	}
	return nil
}

// Validate checks a sync report.
func (r SyncReport) Validate() error {
	if err := checkID("sync tenant id", r.Log.TenantID); err != nil {
		return err
	}
	if err := checkID("sync device id", r.Log.DeviceID); err != nil {
		return err
	}
	if r.Log.At.IsZero() {
		return invalidf("sync log has no time")
	}
	if r.Log.FromRevision > math.MaxInt64 || r.Log.ToRevision > math.MaxInt64 || r.Telemetry.AckedRevision > math.MaxInt64 {
		return invalidf("sync log revisions are above 2^63-1")
	}
	if r.Log.Upserts < 0 || r.Log.Deletes < 0 || r.Log.Downloads < 0 {
		return invalidf("sync log counts are negative")
	}
	if err := checkJSONObject("inventory", r.Log.Inventory, MaxInventoryLen); err != nil {
		return err
	}
	return r.Telemetry.Validate()
}

// Validate checks a play event.
func (e PlayEvent) Validate() error {
	if err := checkID("play device id", e.DeviceID); err != nil {
		return err
	}
	if err := checkOptID("play asset id", e.AssetID); err != nil {
		return err
	}
	if err := checkOptID("play store id", e.StoreID); err != nil {
		return err
	}
	if err := checkOptID("play zone id", e.ZoneID); err != nil {
		return err
	}
	if e.StartedAt.IsZero() {
		return invalidf("play event has no start time")
	}
	if e.Seq > math.MaxInt64 {
		return invalidf("play sequence %d is above 2^63-1", e.Seq)
	}
	if e.DurationMS < 0 || e.DurationMS > 24*3600*1000 {
		return invalidf("play duration %d ms is outside [0, 24h]", e.DurationMS)
	}
	switch e.Fallback {
	case FallbackScheduled, FallbackSpot, FallbackEmergency:
		if e.AssetID == "" {
			return invalidf("a %s play names its asset", e.Fallback)
		}
	case FallbackBuiltin, FallbackSilence:
	default:
		return invalidf("fallback %q is not a known level", e.Fallback)
	}
	return nil
}

// ClampLimit applies DefaultPageLimit and MaxPageLimit to a requested page size.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > MaxPageLimit:
		return MaxPageLimit
	}
	return n
}
