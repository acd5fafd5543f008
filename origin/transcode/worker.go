package transcode

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/jobs"
)

// JobKind is the job kind of a transcode.
const JobKind = "transcode"

// Codec is the rendition's codec name as the catalog records it.
const Codec = "vorbis"

// ContentType is served with renditions (presigned S3 GETs).
const ContentType = "audio/ogg"

// Result describes a stored rendition: the blob devices download, under blob.ContentKey(SHA256).
type Result struct {
	MasterKey    string
	SHA256       string // lower-case hex of the rendition
	MD5          string // lower-case hex of the rendition (S3's ETag for single-part objects, the seed's hash)
	Size         int64  // bytes
	Codec        string // "vorbis"
	BitrateKbps  int    // nominal
	DurationMS   int64
	LoudnessLUFS float64 // EBU R128 integrated
	CueInMS      int64   // end of leading silence; 0 when none
	CueOutMS     int64   // start of trailing silence; 0 when the audio runs to the end
}

// Completer records the outcome of an asset's transcode; origin implements it over its catalog (marking the asset
// ready and publishing its record, or failed with the reason).
//
// FinishTranscode is called from job workers, possibly concurrently for different assets and possibly more than
// once for one asset (a retried job): it must be idempotent. failure nil means r describes the stored rendition;
// otherwise r is zero and failure says why the master cannot be transcoded. An error makes the job retry.
type Completer interface {
	FinishTranscode(ctx context.Context, tenantID, assetID string, r Result, failure error) error
}

// CompleterFunc adapts a function to Completer.
type CompleterFunc func(ctx context.Context, tenantID, assetID string, r Result, failure error) error

// FinishTranscode implements Completer.
func (f CompleterFunc) FinishTranscode(ctx context.Context, tenantID, assetID string, r Result, failure error) error {
	return f(ctx, tenantID, assetID, r, failure)
}

// payload is a transcode job's input: ids only, the master lives in the blob store.
type payload struct {
	TenantID  string `json:"tenant_id"`
	AssetID   string `json:"asset_id"`
	MasterKey string `json:"master_key"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func (p payload) check() error {
	if !idRE.MatchString(p.TenantID) || !idRE.MatchString(p.AssetID) {
		return fmt.Errorf("transcode: tenant %q / asset %q are not ids", p.TenantID, p.AssetID)
	}
	if err := blob.CheckKey(p.MasterKey); err != nil {
		return fmt.Errorf("transcode: master key: %w", err)
	}
	return nil
}

// Ingester enqueues a transcode job for each uploaded master; it is origin's ingest step when a transcoder is
// deployed. Safe for concurrent use. Ingesting the same asset and master again while its job is unfinished adds
// nothing.
type Ingester struct {
	Queue jobs.Enqueuer
}

// Ingest enqueues the transcode of the master at masterKey for the asset.
func (in Ingester) Ingest(ctx context.Context, tenantID, assetID, masterKey string) error {
	p := payload{TenantID: tenantID, AssetID: assetID, MasterKey: masterKey}
	if err := p.check(); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = in.Queue.Enqueue(ctx, JobKind, jobKey(p), b)
	return err
}

// jobKey deduplicates transcodes of one master for one asset. Long master keys are hashed to fit jobs.MaxKeyLen.
func jobKey(p payload) string {
	k := p.TenantID + "/" + p.AssetID + "/" + p.MasterKey
	if len(k) > jobs.MaxKeyLen {
		sum := sha256.Sum256([]byte(p.MasterKey))
		k = p.TenantID + "/" + p.AssetID + "/" + hex.EncodeToString(sum[:])
	}
	return k
}

// WorkerConfig configures the job handler.
type WorkerConfig struct {
	Transcode Config
	// Blobs holds masters and receives renditions. Required.
	Blobs blob.Store
	// Completer receives each outcome. Required.
	Completer Completer
	// TempDir holds each job's master and rendition while it runs (removed after); empty means os.TempDir().
	// It needs room for the largest master plus its rendition.
	TempDir string
	// MaxMaster bounds the master fetched, in bytes.
	MaxMaster int64
}

// Worker is the jobs.Handler of JobKind. Safe for concurrent use.
type Worker struct {
	cfg WorkerConfig
	tc  *Transcoder
}

var _ jobs.Handler = (*Worker)(nil)

// NewWorker checks the configuration and the tools.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Blobs == nil || cfg.Completer == nil {
		return nil, errors.New("transcode: worker needs Blobs and a Completer")
	}
	if cfg.MaxMaster <= 0 {
		cfg.MaxMaster = blob.DefaultMaxSize
	}
	tc, err := NewTranscoder(cfg.Transcode)
	if err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, tc: tc}, nil
}

// Handlers is the handler map to give a queue.
func (w *Worker) Handlers() map[string]jobs.Handler { return map[string]jobs.Handler{JobKind: w} }

// Work implements jobs.Handler: fetch the master, encode, analyse, store the rendition, report. Every step is
// idempotent (the rendition is content-addressed and bit-exact), so a job cut short anywhere can run again.
func (w *Worker) Work(ctx context.Context, j jobs.Job) error {
	var p payload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("transcode: payload: %w", err))
	}
	if err := p.check(); err != nil {
		return jobs.Permanent(err)
	}
	res, err := w.transcode(ctx, p)
	if err == nil {
		return w.cfg.Completer.FinishTranscode(ctx, p.TenantID, p.AssetID, res, nil)
	}
	if ctx.Err() != nil {
		return err // shutdown or the job timeout: not the master's fault, and not final
	}
	err = permanentIfMaster(err)
	if errors.Is(err, jobs.ErrPermanent) || j.Attempt >= j.MaxAttempts {
		// Final: tell origin, so the asset shows as failed rather than pending forever.
		if ferr := w.cfg.Completer.FinishTranscode(ctx, p.TenantID, p.AssetID, Result{}, err); ferr != nil {
			return fmt.Errorf("%w (and reporting it failed: %v)", err, ferr)
		}
	}
	return err
}

func (w *Worker) transcode(ctx context.Context, p payload) (Result, error) {
	dir, err := os.MkdirTemp(w.cfg.TempDir, "lomuz-transcode-*")
	if err != nil {
		return Result{}, fmt.Errorf("transcode: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	master := filepath.Join(dir, "master")
	if err := w.fetch(ctx, p.MasterKey, master); err != nil {
		return Result{}, err
	}
	if _, err := w.tc.Probe(ctx, master); err != nil {
		return Result{}, err
	}
	out := filepath.Join(dir, "rendition.ogg")
	if err := w.tc.Encode(ctx, master, out); err != nil {
		return Result{}, err
	}
	a, err := w.tc.Analyze(ctx, out)
	if err != nil {
		return Result{}, err
	}
	res := Result{MasterKey: p.MasterKey, Codec: Codec, BitrateKbps: w.tc.cfg.BitrateKbps,
		DurationMS: a.DurationMS, LoudnessLUFS: a.LoudnessLUFS, CueInMS: a.CueInMS, CueOutMS: a.CueOutMS}
	if res.SHA256, res.MD5, res.Size, err = hashFile(out); err != nil {
		return Result{}, err
	}
	if err := w.store(ctx, out, res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// fetch copies the master to path, bounded by MaxMaster.
func (w *Worker) fetch(ctx context.Context, key, path string) error {
	rc, info, err := w.cfg.Blobs.Get(ctx, key, 0, -1)
	if errors.Is(err, blob.ErrNotFound) {
		return jobs.Permanent(fmt.Errorf("transcode: master %s is gone: %w", key, err))
	}
	if err != nil {
		return fmt.Errorf("transcode: fetch master: %w", err)
	}
	defer rc.Close()
	if info.Size > w.cfg.MaxMaster {
		return jobs.Permanent(fmt.Errorf("transcode: master of %d bytes, limit %d", info.Size, w.cfg.MaxMaster))
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, w.cfg.MaxMaster+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("transcode: fetch master: %w", err)
	}
	if n != info.Size {
		return fmt.Errorf("transcode: fetch master: got %d of %d bytes", n, info.Size)
	}
	return nil
}

func hashFile(path string) (sha, md string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", 0, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	hs, hm := sha256.New(), md5.New()
	size, err = io.Copy(io.MultiWriter(hs, hm), f)
	if err != nil {
		return "", "", 0, fmt.Errorf("transcode: hash rendition: %w", err)
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), size, nil
}

// store puts the rendition under its content key unless a retry already did.
func (w *Worker) store(ctx context.Context, path string, res Result) error {
	key := blob.ContentKey(res.SHA256)
	if info, err := w.cfg.Blobs.Stat(ctx, key); err == nil && info.Size == res.Size {
		return nil // content-addressed: same key and size is the same bytes, verified when first stored
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	_, err = w.cfg.Blobs.Put(ctx, key, f, blob.PutOptions{SHA256: res.SHA256, Size: res.Size, ContentType: ContentType})
	if err != nil {
		return fmt.Errorf("transcode: store rendition: %w", err)
	}
	return nil
}
