package embedded

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/catalog"
)

func TestDeviceCodecRoundTrip(t *testing.T) {
	now := catalog.NormTime(time.Now())
	for _, d := range []catalog.Device{
		{},
		{ID: "a", TenantID: "b", StoreID: "c", ZoneID: "d", Name: "e", PublicKey: []byte{1, 2}, PeerID: "p",
			CredentialHash: catalog.Hash{9}, EnrolledAt: now, RevokedAt: now.Add(time.Hour),
			Telemetry: catalog.DeviceTelemetry{LastSyncAt: now, AppVersion: "1.0", CachedAssetsCount: 3, CachedBytes: 1 << 40,
				AckedRevision: 1 << 60, Status: json.RawMessage(`{"ok":true}`)}},
		{Telemetry: catalog.DeviceTelemetry{Status: json.RawMessage{}}},
	} {
		b, err := encodeValue(&d)
		if err != nil {
			t.Fatal(err)
		}
		var back catalog.Device
		if err := decodeValue(b, &back); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if len(d.PublicKey) == 0 {
			d.PublicKey = []byte{}
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, d)
		}
	}
}

func FuzzDecodeDevice(f *testing.F) {
	b, _ := encodeValue(&catalog.Device{ID: "x", PublicKey: []byte("k"), Telemetry: catalog.DeviceTelemetry{Status: json.RawMessage(`{}`)}})
	f.Add(b)
	f.Add([]byte{deviceTag, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d catalog.Device
		if err := decodeValue(append([]byte{deviceTag}, b...), &d); err != nil {
			return
		}
		again, _ := encodeValue(&d)
		var d2 catalog.Device
		if err := decodeValue(again, &d2); err != nil {
			t.Fatalf("re-encoded device does not decode: %v", err)
		}
	})
}
