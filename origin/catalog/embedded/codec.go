package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lomuz/lomuz/origin/catalog"
)

// Rows are stored as JSON, except devices: a device is read on every device request (DeviceByCredential,
// DeviceSyncState), so it has a compact binary form that decodes several times faster. A value starting with
// deviceTag is that form; JSON always starts with '{'.
const deviceTag = 0x01

// encodeValue encodes a row for storage.
func encodeValue(v any) ([]byte, error) {
	switch d := v.(type) {
	case *catalog.Device:
		return encodeDevice(d), nil
	case catalog.Device:
		return encodeDevice(&d), nil
	}
	return json.Marshal(v)
}

// decodeValue decodes what encodeValue wrote into v (a pointer).
func decodeValue(b []byte, v any) error {
	if len(b) > 0 && b[0] == deviceTag {
		d, ok := v.(*catalog.Device)
		if !ok {
			return fmt.Errorf("embedded: a device row decoded as %T", v)
		}
		return decodeDevice(b[1:], d)
	}
	return json.Unmarshal(b, v)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime writes a stored time: unix microseconds (NormTime's precision), the zero time as 0.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, catalog.NormTime(t).UnixMicro())
}

func encodeDevice(d *catalog.Device) []byte {
	tm := d.Telemetry
	b := make([]byte, 0, 256+len(d.PublicKey)+len(tm.Status))
	b = append(b, deviceTag)
	for _, s := range []string{d.ID, d.TenantID, d.StoreID, d.ZoneID, d.Name, string(d.PublicKey), d.PeerID} {
		b = appendStr(b, s)
	}
	b = append(b, d.CredentialHash[:]...)
	b = appendTime(b, d.EnrolledAt)
	b = appendTime(b, d.RevokedAt)
	b = appendTime(b, tm.LastSyncAt)
	b = appendStr(b, tm.AppVersion)
	b = binary.AppendVarint(b, int64(tm.CachedAssetsCount))
	b = binary.AppendVarint(b, tm.CachedBytes)
	b = binary.AppendUvarint(b, tm.AckedRevision)
	if tm.Status == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(tm.Status))+1) // 0 is "no status", so an empty one survives
	return append(b, tm.Status...)
}

var errCorrupt = errors.New("embedded: corrupt device row")

// devReader reads encodeDevice's fields, failing once on any truncation.
type devReader struct {
	b   []byte
	err error
}

func (r *devReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *devReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *devReader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.err, r.b = errCorrupt, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *devReader) str() string { return string(r.bytes(r.uvarint())) }

func (r *devReader) time() time.Time {
	us := r.varint()
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func decodeDevice(b []byte, d *catalog.Device) error {
	r := &devReader{b: b}
	d.ID, d.TenantID, d.StoreID, d.ZoneID, d.Name = r.str(), r.str(), r.str(), r.str(), r.str()
	d.PublicKey = []byte(r.str())
	d.PeerID = r.str()
	copy(d.CredentialHash[:], r.bytes(32))
	d.EnrolledAt, d.RevokedAt = r.time(), r.time()
	tm := &d.Telemetry
	tm.LastSyncAt = r.time()
	tm.AppVersion = r.str()
	tm.CachedAssetsCount = int(r.varint())
	tm.CachedBytes = r.varint()
	tm.AckedRevision = r.uvarint()
	tm.Status = nil
	if n := r.uvarint(); n > 0 {
		if p := r.bytes(n - 1); r.err == nil { // bounds first: n comes from the stored bytes
			tm.Status = append(make(json.RawMessage, 0, len(p)), p...)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	return r.err
}
