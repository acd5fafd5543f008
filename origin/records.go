package origin

import (
	"crypto/ed25519"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Record keys (ARCHITECTURE.md "Catalog records").
func assetKey(id string) string    { return "asset/" + id }
func playlistKey(id string) string { return "playlist/" + id }
func scheduleKey(id string) string { return "schedule/" + id }
func storeKey(id string) string    { return "store/" + id }
func devicesKey(id string) string  { return "devices/" + id }

// signRecord makes the signed record of body (nil: a tombstone) at the transaction's revision.
func signRecord(key ed25519.PrivateKey, tenant, k string, rev uint64, body any) (crdt.Record, error) {
	rec := crdt.Record{Key: k, Tenant: tenant, Rev: rev, Deleted: body == nil}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return rec, err
		}
		rec.Body = b
	}
	rec.Sig = ed25519.Sign(key, rec.SigningBytes())
	return rec, nil
}

// publisher signs catalog records with origin's key; the server and transcode workers (FinishIngest) use it.
type publisher struct{ key ed25519.PrivateKey }

// putRecord signs body under k at the transaction's next revision and stores it in scope.
func (p publisher) putRecord(tx catalog.Tx, k, scope string, body any) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	rec, err := signRecord(p.key, tx.TenantID(), k, rev, body)
	if err != nil {
		return err
	}
	return tx.PutRecord(rec, scope)
}

// scheduleScope: tenant-wide schedules travel to every store; store and zone schedules to their store only.
func scheduleScope(sc catalog.Schedule) string {
	if sc.StoreID == "" {
		return catalog.TenantScope
	}
	return sc.StoreID
}

// timeSigner signs origin's time at most once per millisecond-resolution tick it is asked for, caching the last
// signature for timeReuse: a signed time is a floor under the devices' trusted time, so handing out one that is a
// few milliseconds old is harmless, and it saves an ed25519 signature per sync. Safe for concurrent use.
type timeSigner struct {
	key  ed25519.PrivateKey
	mu   sync.Mutex
	last crdt.SignedTime
	at   time.Time
}

// timeReuse bounds the age of a cached signed time.
const timeReuse = 50 * time.Millisecond

func (t *timeSigner) sign(now time.Time) api.SignedTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last.Sig == nil || now.Sub(t.at) >= timeReuse || now.Before(t.at) {
		st := crdt.SignedTime{UnixMilli: now.UnixMilli()}
		st.Sig = ed25519.Sign(t.key, st.SigningBytes())
		t.last, t.at = st, now
	}
	return api.SignedTime{UnixMS: t.last.UnixMilli, Sig: t.last.Sig}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// assetBody is the record body of a ready asset: the delivery rendition's identity and the playback metadata.
func assetBody(a catalog.Asset) api.Asset {
	return api.Asset{
		ID: a.ID, Kind: string(a.Kind), Title: a.Title, Artist: a.Artist, ISRC: a.ISRC,
		SHA256: a.RenditionSHA256, Size: a.RenditionSize, MD5: renditionMD5(a),
		DurationMS: a.DurationMS, Codec: a.Codec, LoudnessLUFS: a.LoudnessLUFS,
		CueInMS: a.CueInMS, CueOutMS: a.CueOutMS,
		ValidFrom: timePtr(a.ValidFrom), ValidUntil: timePtr(a.ValidUntil), EmergencyEligible: a.EmergencyEligible,
	}
}

// renditionMD5 is the master's md5 when the rendition is the master itself, else unknown (empty).
func renditionMD5(a catalog.Asset) string {
	if a.RenditionSHA256 == a.SHA256 {
		return a.MD5
	}
	return ""
}

// assetToWire is the admin view of an asset.
func assetToWire(a catalog.Asset) api.Asset {
	w := assetBody(a)
	w.SHA256, w.Size, w.MD5 = a.RenditionSHA256, a.RenditionSize, renditionMD5(a)
	w.Status, w.Error, w.MasterSHA256 = string(a.State), a.FailReason, a.SHA256
	return w
}

func playlistToWire(p catalog.Playlist) api.Playlist {
	ids := p.AssetIDs
	if ids == nil {
		ids = []string{}
	}
	return api.Playlist{ID: p.ID, Name: p.Name, AssetIDs: ids}
}

func scheduleToWire(sc catalog.Schedule) api.Schedule {
	w := api.Schedule{ID: sc.ID, Scope: api.ScopeTenant, StoreID: sc.StoreID, ZoneID: sc.ZoneID,
		PlaylistID: sc.PlaylistID, Priority: sc.Priority, DateFrom: sc.DateFrom, DateTo: sc.DateTo,
		Weekdays: sc.Weekdays, Start: sc.Start, End: sc.End}
	switch {
	case sc.ZoneID != "":
		w.Scope = api.ScopeZone
	case sc.StoreID != "":
		w.Scope = api.ScopeStore
	}
	for _, r := range sc.SpotRules {
		w.SpotRules = append(w.SpotRules, api.SpotRule{PlaylistID: r.PlaylistID, EveryNTracks: r.EveryNTracks,
			EveryNMinutes: r.EveryNMinutes, At: r.At})
	}
	return w
}

// publishStore re-signs the store/<id> record from the transaction's view of the store.
func (p publisher) publishStore(tx catalog.Tx, storeID string) error {
	st, err := tx.GetStore(storeID)
	if err != nil {
		return err
	}
	return p.putRecord(tx, storeKey(storeID), storeID, api.StoreInfo{ID: st.ID, Name: st.Name,
		TimeZone: st.TimeZone, TargetLUFS: st.Settings.TargetLUFS, CrossfadeMS: st.Settings.CrossfadeMS})
}

// publishDeviceKeys re-signs the devices/<store> record: the enrolled, unrevoked devices of the store.
func (p publisher) publishDeviceKeys(tx catalog.Tx, storeID string) error {
	devs, err := tx.ListDevices(catalog.DeviceFilter{StoreID: storeID})
	if err != nil {
		return err
	}
	body := api.DeviceKeys{StoreID: storeID, Devices: []api.DeviceKey{}}
	for _, d := range devs {
		if d.RevokedAt.IsZero() {
			body.Devices = append(body.Devices, api.DeviceKey{DeviceID: d.ID, ZoneID: d.ZoneID, PeerPublicKey: d.PublicKey})
		}
	}
	sort.Slice(body.Devices, func(i, j int) bool { return body.Devices[i].DeviceID < body.Devices[j].DeviceID })
	return p.putRecord(tx, devicesKey(storeID), storeID, body)
}

// publishAsset writes the asset row and its record: the record when ready, a tombstone when it stops being
// playable (a failed re-ingest), nothing for an asset never published.
func (p publisher) publishAsset(tx catalog.Tx, a catalog.Asset, wasReady bool) error {
	if err := tx.PutAsset(a); err != nil {
		return err
	}
	switch {
	case a.State == catalog.AssetReady:
		return p.putRecord(tx, assetKey(a.ID), catalog.TenantScope, assetBody(a))
	case wasReady:
		return p.putRecord(tx, assetKey(a.ID), catalog.TenantScope, nil)
	}
	return nil
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
