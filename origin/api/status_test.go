package api

import (
	"strings"
	"testing"
)

func TestDeviceStatusValidate(t *testing.T) {
	good := SyncRequest{Status: &DeviceStatus{Fallback: "emergency", ClockProblem: "wall-behind", ClockOffsetMS: -5000,
		FreeDiskBytes: -1, DeadAir: 2}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]DeviceStatus{
		"bad fallback":   {Fallback: "loud"},
		"bad asset id":   {NowPlayingAssetID: "not-a-uuid"},
		"long title":     {NowPlayingTitle: strings.Repeat("x", MaxNameLen+1)},
		"negative count": {DeadAir: -1},
	} {
		req := SyncRequest{Status: &st}
		if err := req.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
