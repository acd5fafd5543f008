package api

import "time"

// DeviceStatus is what a device reports about itself with each sync (SyncRequest.Status), kept by origin as the
// device's last status and shown to admins (Device.Status): what it plays, how it falls back, whether its clock is
// believed, how far ahead its cache covers the schedule, and its disk. Every field is optional.
type DeviceStatus struct {
	NowPlayingAssetID string `json:"now_playing_asset_id,omitempty"`
	NowPlayingTitle   string `json:"now_playing_title,omitempty"`
	// Fallback is the fallback level of what plays now: scheduled, spot, emergency, builtin, silence.
	Fallback string `json:"fallback,omitempty"`
	// ClockProblem is empty when the device's wall clock is believed, else why not (wall clock behind the trusted
	// floor, ahead of the bound proven by a sync, no upper bound, unknown). ClockOffsetMS is by how much.
	ClockProblem  string `json:"clock_problem,omitempty"`
	ClockOffsetMS int64  `json:"clock_offset_ms,omitempty"`
	// CoveredUntil is when the zone's schedule would first fall back to emergency or built-in content with what the
	// device holds (within the next day).
	CoveredUntil *time.Time `json:"covered_until,omitempty"`
	// FreeDiskBytes is free space on the device's data disk; -1 unknown.
	FreeDiskBytes int64 `json:"free_disk_bytes,omitempty"`
	// DeadAir counts silence reports of the output watchdog since the device started.
	DeadAir int `json:"dead_air,omitempty"`
	// DecodeFailures counts tracks the device could not decode (skipped) since it started.
	DecodeFailures int `json:"decode_failures,omitempty"`
	// PendingPlays counts the device's proof-of-play events origin has not acknowledged.
	PendingPlays int `json:"pending_plays,omitempty"`
	// MutedByOverride: the zone's override mutes it now (a wanted silence, not dead air).
	MutedByOverride bool `json:"muted_by_override,omitempty"`
}

// Validate bounds every field.
func (s *DeviceStatus) Validate() error {
	if err := checkID("status.now_playing_asset_id", s.NowPlayingAssetID, false); err != nil {
		return err
	}
	if err := checkLen("status.now_playing_title", s.NowPlayingTitle, MaxNameLen, false); err != nil {
		return err
	}
	switch s.Fallback {
	case "", "scheduled", "spot", "emergency", "builtin", "silence":
	default:
		return BadField("status.fallback", "fallback %q is not a fallback level", s.Fallback)
	}
	if err := checkLen("status.clock_problem", s.ClockProblem, 64, false); err != nil {
		return err
	}
	if s.DeadAir < 0 || s.DecodeFailures < 0 || s.PendingPlays < 0 || s.FreeDiskBytes < -1 {
		return BadField("status", "status counts must be >= 0")
	}
	return nil
}
