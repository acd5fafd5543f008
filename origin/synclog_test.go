package origin_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
)

// TestEveryAnsweredSyncIsLogged fires concurrent syncs (so the sync-log writer groups them into batches) and checks
// that every answered sync has its durable log row and the device's telemetry moved.
func TestEveryAnsweredSyncIsLogged(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), func(c *origin.Config) { c.SyncLogFlushers = 2 })
			f := e.fixture(e.admin)
			const devices, perDevice = 4, 15
			var devs []*device
			for i := 0; i < devices; i++ {
				devs = append(devs, e.enroll(e.admin, f.store.ID, f.zone.ID))
			}
			var wg sync.WaitGroup
			errs := make(chan error, devices*perDevice)
			for _, d := range devs {
				for j := 0; j < perDevice; j++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := d.c.Sync(ctx(t), api.SyncRequest{AppVersion: "2.0", Inventory: api.Inventory{CachedAssets: j}})
						errs <- err
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range devs {
				var logs api.Page[api.SyncLog]
				if err := e.admin.Do(ctx(t), http.MethodGet, "/v1/devices/"+d.id+"/sync-logs", nil, &logs); err != nil {
					t.Fatal(err)
				}
				if len(logs.Items) != perDevice {
					t.Errorf("device %s: %d sync logs for %d answered syncs", d.id, len(logs.Items), perDevice)
				}
			}
			ds, err := e.admin.ListDevices(ctx(t), f.store.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.AppVersion != "2.0" || d.LastSyncAt == nil {
					t.Errorf("telemetry of %s not written: %+v", d.ID, d)
				}
			}
		})
	}
}
