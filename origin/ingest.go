package origin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog"
)

// Ingester turns an uploaded master into the delivery rendition devices download. Origin calls Ingest once the
// master is stored under masterKey and the asset row is pending; the ingester must end, now or later, by calling
// FinishIngest (ready with a rendition, or failed with a reason), which publishes the asset to devices.
//
// Ingest must be safe for concurrent use. It may block for a cheap synchronous ingest, but an ingester with real
// work (transcoding) should enqueue it and return: the upload request waits for Ingest. An error from Ingest is
// reported to the uploader; the asset stays pending and the upload may be retried.
type Ingester interface {
	Ingest(ctx context.Context, tenantID, assetID, masterKey string) error
}

// Rendition describes a finished delivery rendition, stored in the blob store under blob.ContentKey(SHA256).
type Rendition struct {
	SHA256       string // lower-case hex
	Size         int64  // bytes
	Codec        string // "vorbis", "mp3", "flac", "pcm"
	DurationMS   int64  // 0 when unknown
	LoudnessLUFS float64
}

// FinishIngest records the outcome of an asset's ingest in one catalog transaction: with failure nil the asset
// becomes ready with r and its signed record is published to devices; otherwise it becomes failed with the reason
// (and its record is withdrawn if an earlier rendition had been published). Transcode workers call it with the
// origin signing key; it does not talk to the blob store.
func FinishIngest(ctx context.Context, cat catalog.Store, key ed25519.PrivateKey, tenantID, assetID string,
	r Rendition, failure error) error {
	p := publisher{key: key}
	return cat.Update(ctx, tenantID, func(tx catalog.Tx) error {
		a, err := tx.GetAsset(assetID)
		if err != nil {
			return err
		}
		wasReady := a.State == catalog.AssetReady
		if failure != nil {
			a.State, a.FailReason = catalog.AssetFailed, clipReason(failure.Error())
		} else {
			a.State, a.FailReason = catalog.AssetReady, ""
			a.RenditionSHA256, a.RenditionSize, a.Codec = r.SHA256, r.Size, r.Codec
			a.DurationMS, a.LoudnessLUFS = r.DurationMS, r.LoudnessLUFS
		}
		return p.publishAsset(tx, a, wasReady)
	})
}

func clipReason(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}

// FinishIngest is the package function bound to this server's catalog and key.
func (s *Server) FinishIngest(ctx context.Context, tenantID, assetID string, r Rendition, failure error) error {
	return FinishIngest(ctx, s.cat, s.key, tenantID, assetID, r, failure)
}

// ErrNeedsTranscode: the master is not in a format players decode, and no transcoding ingester is configured.
var ErrNeedsTranscode = errors.New("origin: master is not ogg, mp3, flac or wav; a transcoder is required")

// DirectIngester is the default ingest: a master that players already decode (Ogg Vorbis, MP3, FLAC, WAV) is its
// own delivery rendition, with its duration read from the header where that is cheap (WAV, FLAC; 0 otherwise).
// Anything else fails with ErrNeedsTranscode. It reads at most the first 64 KiB of the master.
type DirectIngester struct {
	Blobs  blob.Store
	Finish func(ctx context.Context, tenantID, assetID string, r Rendition, failure error) error
}

// sniffBytes is how much of a master DirectIngester reads to recognise it.
const sniffBytes = 64 << 10

// Ingest implements Ingester.
func (d *DirectIngester) Ingest(ctx context.Context, tenantID, assetID, masterKey string) error {
	rc, info, err := d.Blobs.Get(ctx, masterKey, 0, sniffBytes)
	if err != nil {
		return err
	}
	head, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return err
	}
	sha, ok := cutContentKey(masterKey)
	if !ok {
		return fmt.Errorf("origin: master key %q is not content-addressed", masterKey)
	}
	codec, dur := Sniff(head)
	if codec == "" {
		return d.Finish(ctx, tenantID, assetID, Rendition{}, ErrNeedsTranscode)
	}
	return d.Finish(ctx, tenantID, assetID, Rendition{SHA256: sha, Size: info.Size, Codec: codec, DurationMS: dur}, nil)
}

func cutContentKey(k string) (string, bool) {
	sha, ok := bytes.CutPrefix([]byte(k), []byte(blob.ContentPrefix))
	return string(sha), ok && blob.CheckSHA256(string(sha)) == nil
}

// Sniff recognises a playable audio file from its first bytes and returns its codec ("vorbis", "mp3", "flac",
// "pcm") and duration in ms when the header gives it (WAV, FLAC), or "" when it is not one players decode.
func Sniff(head []byte) (codec string, durationMS int64) {
	switch {
	case len(head) >= 36 && bytes.HasPrefix(head, []byte("OggS")) && bytes.Contains(head[:min(len(head), 64)], []byte("\x01vorbis")):
		return "vorbis", 0
	case bytes.HasPrefix(head, []byte("fLaC")):
		return "flac", flacDuration(head)
	case len(head) >= 12 && bytes.HasPrefix(head, []byte("RIFF")) && string(head[8:12]) == "WAVE":
		return "pcm", wavDuration(head)
	case bytes.HasPrefix(head, []byte("ID3")) || (len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0):
		return "mp3", 0
	}
	return "", 0
}

// flacDuration reads STREAMINFO (the first metadata block): sample rate (20 bits) and total samples (36 bits).
func flacDuration(b []byte) int64 {
	if len(b) < 8+18 || b[4]&0x7F != 0 {
		return 0
	}
	si := b[8:]
	rate := int64(si[10])<<12 | int64(si[11])<<4 | int64(si[12])>>4
	total := int64(si[13]&0x0F)<<32 | int64(binary.BigEndian.Uint32(si[14:18]))
	if rate == 0 {
		return 0
	}
	return total * 1000 / rate
}

// wavDuration walks the RIFF chunks for fmt (byte rate) and data (length), within the bytes given.
func wavDuration(b []byte) int64 {
	var byteRate int64
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int64(binary.LittleEndian.Uint32(b[off+4:off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if body+12 <= len(b) {
				byteRate = int64(binary.LittleEndian.Uint32(b[body+8 : body+12]))
			}
		case "data":
			if byteRate > 0 {
				return size * 1000 / byteRate
			}
			return 0
		}
		next := int64(body) + size + size&1
		if next > int64(len(b)) {
			return 0
		}
		off = int(next)
	}
	return 0
}
