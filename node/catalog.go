package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/player/schedule"
	"github.com/lomuz/lomuz/player/wire"
)

// catalogView is the catalog decoded from the crdt records into selection's domain types: the wire types of
// origin/api stop here. It remembers what it fed the selector, so a selector rebuilt for a new time zone is
// replayed from it.
type catalogView struct {
	assets    map[string]schedule.Asset
	playlists map[string]schedule.Playlist
	// schedules are every schedule of this store (tenant-wide or store/zone scoped here) with the revision of its
	// record; active holds the revision of each one the selector has. A schedule enters the selector only once
	// every file it plays is here (or when the zone has no active schedule at all, so there is nothing to keep
	// playing instead): until then the previous version, or whatever was active, goes on.
	schedules map[string]versioned
	active    map[string]uint64
	store     api.StoreInfo
	devices   api.DeviceKeys
	// changed is set when assets, playlists or schedules changed: needs and pins are recomputed on the next tick.
	changed bool
	// changedAt is the trusted time the catalog last changed here (from origin or a peer), for status: across the
	// store's nodes it shows how long a change took to spread.
	changedAt time.Time
	// devicesChanged is set when the device-key list changed: the transfer layer's allow list is sent out.
	devicesChanged bool
	// pendingCheck is set when a blob arrived: pending schedules may now be complete.
	pendingCheck bool
}

func (v *catalogView) init() {
	v.assets = map[string]schedule.Asset{}
	v.playlists = map[string]schedule.Playlist{}
	v.schedules = map[string]versioned{}
	v.active = map[string]uint64{}
}

// versioned is a schedule with the revision of the record it came from.
type versioned struct {
	s   schedule.Schedule
	rev uint64
}

// replay feeds everything known into a fresh selector.
func (v *catalogView) replay(sel *schedule.Selector) {
	for _, a := range v.assets {
		_ = sel.UpsertAsset(a)
	}
	for _, p := range v.playlists {
		_ = sel.UpsertPlaylist(p)
	}
	for id, rev := range v.active {
		if vs, ok := v.schedules[id]; ok && vs.rev == rev {
			_ = sel.UpsertSchedule(vs.s)
		}
	}
}

// applyRecords updates the view and the selector from records that entered the crdt catalog.
// Schedules are activated after the whole batch: a schedule record may come before the playlist and assets it
// plays, and judged alone it would look complete.
func (c *Core) applyRecords(recs []crdt.Record) {
	schedules := false
	for _, r := range recs {
		if err := c.applyRecord(r); err != nil {
			// A record origin signed but this build cannot read (a newer schema) is skipped, not fatal.
			c.counters.BadRecords++
			c.logf(levelWarn, "catalog record skipped", "key", r.Key, "err", err)
		}
		schedules = schedules || strings.HasPrefix(r.Key, "schedule/")
	}
	if schedules {
		c.activateSchedules()
	}
}

func (c *Core) applyRecord(r crdt.Record) error {
	kind, id, _ := strings.Cut(r.Key, "/")
	v := &c.cat
	switch kind {
	case "asset":
		if r.Deleted {
			delete(v.assets, id)
			c.sel.RemoveAsset(id)
			v.changed = true
			return nil
		}
		var w api.Asset
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return err
		}
		a, err := wire.Asset(w)
		if err != nil {
			return err
		}
		if c.cfg.AssetHook != nil {
			c.cfg.AssetHook(&a)
		}
		if err := c.sel.UpsertAsset(a); err != nil {
			return err
		}
		v.assets[id], v.changed = a, true
	case "playlist":
		if r.Deleted {
			delete(v.playlists, id)
			c.sel.RemovePlaylist(id)
			v.changed = true
			return nil
		}
		var w api.Playlist
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return err
		}
		p := wire.Playlist(w)
		if err := c.sel.UpsertPlaylist(p); err != nil {
			return err
		}
		v.playlists[id], v.changed = p, true
	case "schedule":
		if r.Deleted {
			delete(v.schedules, id)
			delete(v.active, id)
			c.sel.RemoveSchedule(id)
			v.changed = true
			return nil
		}
		var w api.Schedule
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return err
		}
		if w.StoreID != "" && w.StoreID != c.cfg.Store {
			return nil // another store's schedule relayed by mistake: not ours to play
		}
		s, err := wire.Schedule(w)
		if err != nil {
			return err
		}
		v.schedules[id], v.changed = versioned{s: s, rev: r.Rev}, true
	case "store":
		if r.Deleted || id != c.cfg.Store {
			return nil
		}
		var w api.StoreInfo
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return err
		}
		old := v.store.TimeZone
		v.store = w
		if w.TimeZone != "" && w.TimeZone != old && w.TimeZone != c.sel.Location().String() {
			if err := c.newSelector(w.TimeZone); err != nil {
				return err
			}
		}
	case "devices":
		if r.Deleted || id != c.cfg.Store {
			return nil
		}
		var w api.DeviceKeys
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return err
		}
		v.devices, v.devicesChanged = w, true
	case "override":
		return c.applyOverrideRecord(r)
	default:
		return fmt.Errorf("unknown record kind %q", kind)
	}
	return nil
}

// activateSchedules moves into the selector every schedule version whose files are all here, or every pending one
// when the zone has no active schedule now (first boot: something scheduled beats the built-in jingle).
func (c *Core) activateSchedules() {
	v := &c.cat
	_, playing := c.sel.Active(c.Interval().Now())
	for id, vs := range v.schedules {
		if v.active[id] == vs.rev {
			continue
		}
		if playing && !c.scheduleComplete(vs.s) {
			continue
		}
		if err := c.sel.UpsertSchedule(vs.s); err != nil {
			c.logf(levelWarn, "schedule not usable", "id", id, "err", err)
			continue
		}
		v.active[id] = vs.rev
		c.counters.SchedulesActivated++
	}
}

// scheduleComplete reports whether the schedule's playlist and spot playlists are known and every known asset of
// them is here.
func (c *Core) scheduleComplete(s schedule.Schedule) bool {
	for _, pid := range append([]string{s.PlaylistID}, spotLists(s)...) {
		pl, ok := c.cat.playlists[pid]
		if !ok {
			return false
		}
		for _, aid := range pl.AssetIDs {
			if a, ok := c.cat.assets[aid]; ok && a.SHA256 != "" && !c.blobs.present[a.SHA256] {
				return false
			}
		}
	}
	return true
}

// pendingSchedules counts schedule versions waiting for their files.
func (c *Core) pendingSchedules() int {
	n := 0
	for id, vs := range c.cat.schedules {
		if c.cat.active[id] != vs.rev {
			n++
		}
	}
	return n
}
