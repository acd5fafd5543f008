package origin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/api"
)

func TestDeviceLifecycle(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			f := e.fixture(e.admin)
			d := e.enroll(e.admin, f.store.ID, f.zone.ID)
			if d.enroll.StoreID != f.store.ID || d.enroll.ZoneID != f.zone.ID || d.enroll.TimeZone != "America/Sao_Paulo" ||
				len(d.enroll.Mesh.Key) != 32 || d.enroll.Mesh.ID != f.store.MeshID ||
				!api.VerifyMesh(d.enroll.OriginPublicKey, f.store.MeshID, d.enroll.Mesh) {
				t.Fatalf("enrollment answer: %+v", d.enroll)
			}

			// First sync: everything, with the asset's blob to download.
			m := d.sync(t)
			if !m.Full || m.StateHash == "" || m.Mesh == nil {
				t.Fatalf("first sync: full=%v hash=%q mesh=%v", m.Full, m.StateHash, m.Mesh)
			}
			for _, k := range []string{"asset/" + f.asset.ID, "playlist/" + f.playlist.ID, "schedule/" + f.schedule.ID,
				"store/" + f.store.ID, "devices/" + f.store.ID} {
				if _, ok := d.records[k]; !ok {
					t.Errorf("full manifest lacks %s", k)
				}
			}
			var keys api.DeviceKeys
			if err := json.Unmarshal(d.records["devices/"+f.store.ID].Body, &keys); err != nil || len(keys.Devices) != 1 ||
				keys.Devices[0].DeviceID != d.id {
				t.Fatalf("device-key record: %+v %v", keys, err)
			}
			if len(m.Downloads) != 1 || m.Downloads[0].SHA256 != f.asset.SHA256 || m.Downloads[0].Priority != api.PriorityCurrent {
				t.Fatalf("downloads: %+v", m.Downloads)
			}

			// The blob: whole, then a range, with immutable caching.
			whole := readAll(t, mustOpen(t, d, m.Downloads[0].URL, 0))
			if !bytes.Equal(whole, f.wav) {
				t.Fatal("blob bytes differ from the upload")
			}
			if tail := readAll(t, mustOpen(t, d, m.Downloads[0].URL, 100)); !bytes.Equal(tail, f.wav[100:]) {
				t.Fatal("range read differs")
			}
			resp, err := http.Get(d.c.ResolveURL(m.Downloads[0].URL))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("blob Cache-Control %q", cc)
			}

			// Nothing changed: a tiny answer.
			m = d.sync(t)
			if m.Full || len(m.Records)+len(m.Tombstones)+len(m.Downloads) != 0 || m.Mesh != nil || !m.Time.Verify(d.enroll.OriginPublicKey) {
				t.Fatalf("no-change sync: %+v", m)
			}

			// A change: only the playlist travels.
			a2, _ := e.uploadWAV(e.admin, "Track two", 500)
			if err := e.admin.Do(ctx(t), http.MethodPut, "/v1/playlists/"+f.playlist.ID,
				api.PlaylistInput{Name: "Day", AssetIDs: []string{f.asset.ID, a2.ID}}, nil); err != nil {
				t.Fatal(err)
			}
			m = d.sync(t)
			var got []string
			for _, r := range m.Records {
				got = append(got, r.Key)
			}
			slices.Sort(got)
			want := []string{"asset/" + a2.ID, "playlist/" + f.playlist.ID}
			slices.Sort(want)
			if m.Full || !slices.Equal(got, want) || len(m.Downloads) != 1 || m.Downloads[0].SHA256 != a2.SHA256 {
				t.Fatalf("delta: full=%v records=%v downloads=%+v", m.Full, got, m.Downloads)
			}

			// Deleting a schedule travels as a tombstone.
			if err := e.admin.Do(ctx(t), http.MethodDelete, "/v1/schedules/"+f.schedule.ID, nil, nil); err != nil {
				t.Fatal(err)
			}
			m = d.sync(t)
			if len(m.Tombstones) != 1 || m.Tombstones[0].Key != "schedule/"+f.schedule.ID {
				t.Fatalf("tombstones: %+v", m.Tombstones)
			}

			// A wrong state hash at the current revision gets a full resync.
			bad, err := d.c.Sync(ctx(t), api.SyncRequest{Revision: d.rev, StateHash: strings.Repeat("0", 64)})
			if err != nil || !bad.Full {
				t.Fatalf("mismatched hash: full=%v err=%v", bad != nil && bad.Full, err)
			}

			// Proof of play, delivered twice, is stored once and acknowledged both times.
			ev := api.PlayEvent{DeviceID: d.id, Seq: 1, AssetID: f.asset.ID, StartedAt: time.Now().UTC().Truncate(time.Millisecond),
				DurationMS: 1500, Fallback: "scheduled"}
			m = d.sync(t, ev)
			if len(m.Acks) != 1 || m.Acks[0] != (api.PlayAck{DeviceID: d.id, Seq: 1}) {
				t.Fatalf("acks %+v", m.Acks)
			}
			acks, err := d.c.UploadPlays(ctx(t), []api.PlayEvent{ev})
			if err != nil || len(acks) != 1 {
				t.Fatalf("replayed plays: %v %v", acks, err)
			}
			var plays api.Page[api.Play]
			if err := e.admin.Do(ctx(t), http.MethodGet, "/v1/plays?device_id="+d.id, nil, &plays); err != nil {
				t.Fatal(err)
			}
			if len(plays.Items) != 1 || plays.Items[0].ZoneID != f.zone.ID || plays.Items[0].StoreID != f.store.ID {
				t.Fatalf("plays %+v", plays.Items)
			}

			// Every sync left an audit row, and telemetry.
			var logs api.Page[api.SyncLog]
			if err := e.admin.Do(ctx(t), http.MethodGet, "/v1/devices/"+d.id+"/sync-logs", nil, &logs); err != nil {
				t.Fatal(err)
			}
			if len(logs.Items) != 6 {
				t.Fatalf("%d sync logs, want 6", len(logs.Items))
			}
			devs, err := e.admin.ListDevices(ctx(t), f.store.ID)
			if err != nil || len(devs) != 1 || devs[0].LastSyncAt == nil || devs[0].AppVersion != "1.0" {
				t.Fatalf("devices %+v %v", devs, err)
			}
		})
	}
}

func mustOpen(t *testing.T, d *device, url string, off int64) interface {
	Read([]byte) (int, error)
	Close() error
} {
	t.Helper()
	rc, err := d.c.OpenBlob(ctx(t), url, off)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestRevokeRotatesMeshKey(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			f := e.fixture(e.admin)
			d1 := e.enroll(e.admin, f.store.ID, f.zone.ID)
			d2 := e.enroll(e.admin, f.store.ID, f.zone.ID)
			d1.sync(t)
			if _, err := e.admin.RevokeDevice(ctx(t), d2.id); err != nil {
				t.Fatal(err)
			}
			m := d1.sync(t)
			if m.Mesh == nil || m.Mesh.Epoch != d1.enroll.Mesh.Epoch+1 || bytes.Equal(m.Mesh.Key, d1.enroll.Mesh.Key) ||
				!api.VerifyMesh(d1.enroll.OriginPublicKey, f.store.MeshID, *m.Mesh) {
				t.Fatalf("mesh after revoke: %+v", m.Mesh)
			}
			var keys api.DeviceKeys
			if err := json.Unmarshal(d1.records["devices/"+f.store.ID].Body, &keys); err != nil || len(keys.Devices) != 1 ||
				keys.Devices[0].DeviceID != d1.id {
				t.Fatalf("device keys after revoke: %+v", keys)
			}
			// Nothing changed since: the mesh is sent only to a device that asks for it (after a boot, or a
			// revocation it saw on a peer's list).
			if m := d1.sync(t); m.Mesh != nil {
				t.Fatalf("a no-change answer carries the mesh unasked: %+v", m.Mesh)
			}
			m, err := d1.c.Sync(ctx(t), api.SyncRequest{Revision: d1.rev, StateHash: d1.hash(), WantMesh: true})
			if err != nil || len(m.Records) != 0 || m.Mesh == nil || m.Mesh.Epoch != d1.enroll.Mesh.Epoch+1 ||
				!api.VerifyMesh(d1.enroll.OriginPublicKey, f.store.MeshID, *m.Mesh) {
				t.Fatalf("a no-change answer to a device that wants the mesh: %+v, %v", m, err)
			}
			_, err = d2.c.Sync(ctx(t), api.SyncRequest{})
			var p *api.Problem
			if !errors.As(err, &p) || p.Status != http.StatusForbidden {
				t.Fatalf("revoked device sync: %v", err)
			}
		})
	}
}

// TestAdminTokens: a director issues a manager token that may read but not write, and a revoked token stops
// working.
func TestAdminTokens(t *testing.T) {
	e := newEnv(t, postgresBackend().open(t), nil)
	f := e.fixture(e.admin)
	var mgr api.AdminToken
	if err := e.admin.Do(ctx(t), http.MethodPost, "/v1/admin-tokens",
		api.AdminTokenInput{Name: "store manager", Role: "manager", StoreID: f.store.ID}, &mgr); err != nil {
		t.Fatal(err)
	}
	m := e.client(mgr.Token, nil)
	if _, err := m.ListStores(ctx(t)); err != nil {
		t.Fatalf("manager read: %v", err)
	}
	var p *api.Problem
	if _, err := m.CreateStore(ctx(t), api.StoreInput{Name: "x", TimeZone: "UTC"}); !errors.As(err, &p) || p.Status != 403 {
		t.Fatalf("manager write: %v", err)
	}
	if err := e.admin.Do(ctx(t), http.MethodPost, "/v1/admin-tokens/"+mgr.ID+"/revoke", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ListStores(ctx(t)); !errors.As(err, &p) || p.Status != 401 {
		t.Fatalf("revoked token: %v", err)
	}
}

// A device killed after origin enrolled it but before it saved the answer asks again with the same token and key:
// it gets the same device and credential back, while another key, a revoked device or an expired token do not.
func TestEnrollAgainAfterALostAnswer(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), nil)
			f := e.fixture(e.admin)
			c := ctx(t)
			tok, err := e.admin.CreateEnrollmentToken(c, api.EnrollmentTokenInput{StoreID: f.store.ID, ZoneID: f.zone.ID})
			if err != nil {
				t.Fatal(err)
			}
			pk := newPeerKey(t)
			enroll := func(key []byte) (api.EnrollResponse, error) {
				return e.client("", nil).Enroll(c, api.EnrollRequest{Token: tok.Token, PeerPublicKey: key})
			}
			first, err := enroll(pk)
			if err != nil {
				t.Fatal(err)
			}
			again, err := enroll(pk)
			if err != nil {
				t.Fatalf("the same device asking again: %v", err)
			}
			if again.DeviceID != first.DeviceID || again.Credential != first.Credential || again.Mesh.ID != first.Mesh.ID {
				t.Fatalf("second answer %+v differs from the first %+v", again, first)
			}
			d := &device{id: again.DeviceID, enroll: again, c: e.client(again.Credential, again.OriginPublicKey),
				records: map[string]api.Record{}}
			d.sync(t)
			if _, err := enroll(newPeerKey(t)); problemStatus(err) != 409 {
				t.Fatalf("another key with the used token: %v", err)
			}
			if _, err := e.admin.RevokeDevice(c, first.DeviceID); err != nil {
				t.Fatal(err)
			}
			if _, err := enroll(pk); problemStatus(err) != 409 {
				t.Fatalf("a revoked device enrolling again: %v", err)
			}
		})
	}
}

func problemStatus(err error) int {
	var p *api.Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}
