package origin_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lomuz/lomuz/internal/testenv"
	"github.com/lomuz/lomuz/origin"
	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob/s3blob"
)

// TestS3PresignedDownloads runs origin on an S3 blob store (versitygw on loopback) with presigning: uploads land
// in the bucket, download URLs in the manifest are presigned GETs that serve the bytes (and a range), and
// /v1/blobs/ redirects to them.
func TestS3PresignedDownloads(t *testing.T) {
	srv := testenv.S3(t)
	cfg := s3blob.DefaultConfig("lomuz-" + testenv.RandomHex(6))
	cfg.Endpoint, cfg.Region, cfg.UsePathStyle = srv.Endpoint, srv.Region, true
	cfg.AccessKey, cfg.SecretKey = srv.AccessKey, srv.SecretKey
	bs, err := s3blob.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.CreateBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, postgresBackend().open(t), bs, newKey(t), func(c *origin.Config) {
		c.StateCacheTTL, c.AuthCacheTTL, c.Presign = -1, -1, true
	})
	f := e.fixture(e.admin)
	d := e.enroll(e.admin, f.store.ID, f.zone.ID)
	m := d.sync(t)
	if len(m.Downloads) != 1 || !strings.HasPrefix(m.Downloads[0].URL, srv.Endpoint+"/") ||
		!strings.Contains(m.Downloads[0].URL, "X-Amz-Signature=") {
		t.Fatalf("download URL is not a presigned S3 URL: %+v", m.Downloads)
	}
	if got := readAll(t, mustOpen(t, d, m.Downloads[0].URL, 0)); !bytes.Equal(got, f.wav) {
		t.Fatal("presigned download differs from the upload")
	}
	if got := readAll(t, mustOpen(t, d, m.Downloads[0].URL, 44)); !bytes.Equal(got, f.wav[44:]) {
		t.Fatal("presigned range differs")
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.url + "/v1/blobs/" + f.asset.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), srv.Endpoint+"/") {
		t.Fatalf("/v1/blobs/: %d to %q, want a redirect to the bucket", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestCDNPrefix points download URLs and /v1/blobs/ at a CDN in front of origin.
func TestCDNPrefix(t *testing.T) {
	e := newEnv(t, postgresBackend().open(t), func(c *origin.Config) { c.CDNPrefix = "https://cdn.example.com/b" })
	f := e.fixture(e.admin)
	d := e.enroll(e.admin, f.store.ID, f.zone.ID)
	m := d.sync(t)
	if len(m.Downloads) != 1 || m.Downloads[0].URL != "https://cdn.example.com/b/"+f.asset.SHA256 {
		t.Fatalf("downloads %+v", m.Downloads)
	}
}

// TestSniffRealFiles recognises files ffmpeg makes in every format players decode, and refuses one they do not.
func TestSniffRealFiles(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	cases := []struct {
		file, codec string
		args        []string
		durationMS  int64 // 0: not read from the header
	}{
		{"a.ogg", "vorbis", []string{"-c:a", "libvorbis"}, 0},
		{"a.mp3", "mp3", []string{"-c:a", "libmp3lame"}, 0},
		{"a.flac", "flac", []string{"-c:a", "flac"}, 2000},
		{"a.wav", "pcm", []string{"-c:a", "pcm_s16le"}, 2000},
		{"a.m4a", "", []string{"-c:a", "aac"}, 0},
	}
	for _, c := range cases {
		out := filepath.Join(dir, c.file)
		args := append([]string{"-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2"}, c.args...)
		if b, err := exec.Command(ff, append(args, out)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", c.file, err, b)
		}
		head, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		codec, dur := origin.Sniff(head[:min(len(head), 64<<10)])
		if codec != c.codec || (c.durationMS != 0 && (dur < c.durationMS-50 || dur > c.durationMS+50)) {
			t.Errorf("%s: codec %q duration %d ms, want %q ~%d ms", c.file, codec, dur, c.codec, c.durationMS)
		}
	}
}

// TestUploadNotPlayableFails: without a transcoder, a master players cannot decode makes a failed asset that is
// never published to devices.
func TestUploadNotPlayableFails(t *testing.T) {
	e := newEnv(t, postgresBackend().open(t), nil)
	ctx := context.Background()
	data := []byte("this is not audio at all")
	up, err := e.admin.Upload(ctx, sha(data), int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.admin.CreateAsset(ctx, api.AssetInput{MasterSHA256: up.SHA256, Kind: "music", Title: "Noise"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != api.AssetFailed || a.Error == "" {
		t.Fatalf("asset %+v, want failed with a reason", a)
	}
	if rev, _ := e.cat.Revision(ctx, e.tenant); rev != 0 {
		t.Fatalf("a failed asset took revision %d", rev)
	}
}
