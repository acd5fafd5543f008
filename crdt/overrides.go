package crdt

import (
	"fmt"
	"strings"
)

// ZoneSettings are what a store manager may change on site, even offline, for one zone.
type ZoneSettings struct {
	// VolumePct is the zone's volume, 0..100 percent of the configured maximum.
	VolumePct uint8
	// MuteFromMS and MuteUntilMS bound a mute window in unix milliseconds of trusted time, [from, until); both 0
	// for none.
	MuteFromMS, MuteUntilMS int64
}

func (z ZoneSettings) validate() error {
	if z.VolumePct > 100 {
		return fmt.Errorf("crdt: volume %d%% over 100%%", z.VolumePct)
	}
	if (z.MuteFromMS != 0 || z.MuteUntilMS != 0) && z.MuteFromMS >= z.MuteUntilMS {
		return fmt.Errorf("crdt: mute window [%d, %d) is empty", z.MuteFromMS, z.MuteUntilMS)
	}
	return nil
}

func (z ZoneSettings) compare(o ZoneSettings) int {
	if z.VolumePct != o.VolumePct {
		return cmpU64(uint64(z.VolumePct), uint64(o.VolumePct))
	}
	if z.MuteFromMS != o.MuteFromMS {
		return cmpI64(z.MuteFromMS, o.MuteFromMS)
	}
	return cmpI64(z.MuteUntilMS, o.MuteUntilMS)
}

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Override is the last-writer-wins register of one zone's settings. Writer is the node that wrote it on site, or
// "origin" for a director's change (stamped by origin's time).
type Override struct {
	Zone     string
	HLC      HLC
	Writer   string
	Settings ZoneSettings
}

// Validate checks the override's fields.
func (o Override) Validate() error {
	if err := checkID("override zone", o.Zone); err != nil {
		return err
	}
	if err := checkID("override writer", o.Writer); err != nil {
		return err
	}
	return o.Settings.validate()
}

// OverrideStamp orders overrides: HLC, then Writer.
type OverrideStamp struct {
	HLC    HLC
	Writer string
}

func (s OverrideStamp) compare(o OverrideStamp) int {
	if c := s.HLC.Compare(o.HLC); c != 0 {
		return c
	}
	return strings.Compare(s.Writer, o.Writer)
}

func (o Override) stamp() OverrideStamp { return OverrideStamp{HLC: o.HLC, Writer: o.Writer} }

// overrideWins: later HLC, then greater Writer, then greater settings (a total order, so replicas agree even if a
// writer reused a timestamp).
func overrideWins(a, b Override) bool {
	if c := a.stamp().compare(b.stamp()); c != 0 {
		return c > 0
	}
	return a.Settings.compare(b.Settings) > 0
}

// Overrides holds one register per zone. The zero Overrides is not usable; it lives inside a State.
type Overrides struct {
	zones map[string]Override
}

func newOverrides() *Overrides { return &Overrides{zones: make(map[string]Override)} }

// Get returns the zone's current override.
func (o *Overrides) Get(zone string) (Override, bool) { v, ok := o.zones[zone]; return v, ok }

// Zones returns the zones with an override, sorted.
func (o *Overrides) Zones() []string { return sortedKeys(o.zones) }

func (o *Overrides) put(v Override) bool {
	if old, ok := o.zones[v.Zone]; ok && !overrideWins(v, old) {
		return false
	}
	o.zones[v.Zone] = v
	return true
}
