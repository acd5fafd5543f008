package panel

import (
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

func TestStatusAlerts(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	synced := now.Add(-time.Minute)
	thin, ample := now.Add(time.Hour), now.Add(20*time.Hour)
	kinds := func(st *api.DeviceStatus) map[string]bool {
		out := map[string]bool{}
		for _, a := range statusAlerts(deviceRow{D: api.Device{LastSyncAt: &synced, Status: st}}, now) {
			out[a.Kind] = true
		}
		return out
	}
	if got := kinds(&api.DeviceStatus{FreeDiskBytes: 50 << 30, CoveredUntil: &ample}); len(got) != 0 {
		t.Fatalf("a healthy device raised %v", got)
	}
	got := kinds(&api.DeviceStatus{ClockProblem: "wall-behind", FreeDiskBytes: 10 << 20, DeadAir: 3, CoveredUntil: &thin})
	for _, k := range []string{"alerts.clock", "alerts.disk", "alerts.silent", "alerts.coverage"} {
		if !got[k] {
			t.Errorf("missing %s in %v", k, got)
		}
	}
	if got := kinds(&api.DeviceStatus{FreeDiskBytes: -1}); got["alerts.disk"] {
		t.Fatal("unknown free disk raised a disk alert")
	}
	if got := kinds(nil); len(got) != 0 {
		t.Fatal("a device without a report raised alerts")
	}
}
