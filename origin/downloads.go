package origin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog"
)

// blobURL is where a device fetches a blob: the CDN, a presigned URL of the blob store, or this origin
// (a path relative to the origin base URL).
func (s *Server) blobURL(ctx context.Context, sha string) (string, error) {
	if s.cfg.CDNPrefix != "" {
		return s.cfg.CDNPrefix + sha, nil
	}
	if p, ok := s.blobs.(blob.Presigner); ok && s.cfg.Presign {
		return p.PresignGet(ctx, blob.ContentKey(sha), s.cfg.PresignTTL)
	}
	return "/v1/blobs/" + sha, nil
}

// addDownloads lists the blobs of the asset records in m, ordered current > emergency > future (then by asset
// id). "Current" is every asset of a playlist, or spot playlist, of a schedule of the device's zone that is
// active now in the store's time zone. The device skips blobs it holds.
func (s *Server) addDownloads(ctx context.Context, d catalog.Device, st catalog.Shop, m *api.SyncManifest,
	now time.Time) error {
	type cand struct {
		dl   api.Download
		rank int
	}
	var cands []cand
	for _, rec := range m.Records {
		if !strings.HasPrefix(rec.Key, "asset/") {
			continue
		}
		var a struct {
			ID                string `json:"id"`
			SHA256            string `json:"sha256"`
			Size              int64  `json:"size"`
			EmergencyEligible bool   `json:"emergency_eligible"`
		}
		if err := json.Unmarshal(rec.Body, &a); err != nil || !api.ValidSHA256(a.SHA256) {
			continue
		}
		rank := 2
		if a.EmergencyEligible {
			rank = 1
		}
		cands = append(cands, cand{api.Download{SHA256: a.SHA256, Size: a.Size, AssetID: a.ID}, rank})
	}
	if len(cands) == 0 {
		return nil
	}
	current, err := s.currentAssets(ctx, d, st, now)
	if err != nil {
		return err
	}
	for i := range cands {
		if current[cands[i].dl.AssetID] {
			cands[i].rank = 0
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].rank != cands[j].rank {
			return cands[i].rank < cands[j].rank
		}
		return cands[i].dl.AssetID < cands[j].dl.AssetID
	})
	seen := make(map[string]bool, len(cands))
	names := [...]string{api.PriorityCurrent, api.PriorityEmergency, api.PriorityFuture}
	for _, c := range cands {
		if seen[c.dl.SHA256] {
			continue
		}
		seen[c.dl.SHA256] = true
		c.dl.Priority = names[c.rank]
		if c.dl.URL, err = s.blobURL(ctx, c.dl.SHA256); err != nil {
			return err
		}
		m.Downloads = append(m.Downloads, c.dl)
	}
	return nil
}

// addMissing re-issues URLs for blobs the device reports missing, first, in the order it gave them.
func (s *Server) addMissing(ctx context.Context, m *api.SyncManifest, missing []string) error {
	have := make(map[string]bool, len(m.Downloads))
	for _, dl := range m.Downloads {
		have[dl.SHA256] = true
	}
	var extra []api.Download
	for _, sha := range missing {
		if have[sha] {
			continue
		}
		have[sha] = true
		u, err := s.blobURL(ctx, sha)
		if err != nil {
			return err
		}
		extra = append(extra, api.Download{SHA256: sha, Priority: api.PriorityCurrent, URL: u})
	}
	m.Downloads = append(extra, m.Downloads...)
	return nil
}

// currentAssets returns the ids of the assets the device's zone plays now: the playlists (and spot playlists) of
// its active schedules. Only download order depends on it; the device resolves schedules itself.
func (s *Server) currentAssets(ctx context.Context, d catalog.Device, st catalog.Shop, now time.Time) (map[string]bool, error) {
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	scheds, err := s.cat.ListSchedules(ctx, d.TenantID, catalog.ScheduleFilter{StoreID: d.StoreID})
	if err != nil {
		return nil, err
	}
	lists := map[string]bool{}
	for _, sc := range scheds {
		if (sc.ZoneID != "" && sc.ZoneID != d.ZoneID) || !activeAt(sc, now.In(loc)) {
			continue
		}
		lists[sc.PlaylistID] = true
		for _, r := range sc.SpotRules {
			lists[r.PlaylistID] = true
		}
	}
	out := map[string]bool{}
	for id := range lists {
		p, err := s.cat.GetPlaylist(ctx, d.TenantID, id)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, a := range p.AssetIDs {
			out[a] = true
		}
	}
	return out, nil
}

// activeAt reports whether schedule sc covers the store-local instant t: date range, weekday, day-part (a
// day-part crossing midnight belongs to the day it starts). Download ordering only; playback uses player/schedule.
func activeAt(sc catalog.Schedule, t time.Time) bool {
	mins := t.Hour()*60 + t.Minute()
	start, end := clockMinutes(sc.Start), clockMinutes(sc.End)
	day := t
	switch {
	case start == end:
	case start < end:
		if mins < start || mins >= end {
			return false
		}
	default: // crosses midnight
		if mins < start && mins >= end {
			return false
		}
		if mins < end {
			day = t.AddDate(0, 0, -1)
		}
	}
	date := day.Format(time.DateOnly)
	if (sc.DateFrom != "" && date < sc.DateFrom) || (sc.DateTo != "" && date > sc.DateTo) {
		return false
	}
	if len(sc.Weekdays) == 0 {
		return true
	}
	for _, wd := range sc.Weekdays {
		if wd == int(day.Weekday()) {
			return true
		}
	}
	return false
}

func clockMinutes(hhmm string) int {
	if len(hhmm) != 5 {
		return 0
	}
	return int(hhmm[0]-'0')*600 + int(hhmm[1]-'0')*60 + int(hhmm[3]-'0')*10 + int(hhmm[4]-'0')
}

// handleBlob serves a content-addressed blob: immutable, with Range, or a redirect to the CDN or a presigned URL.
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	if !api.ValidSHA256(sha) {
		writeProblem(w, api.BadField("sha256", "%q is not a lowercase hex sha256", sha))
		return
	}
	if s.cfg.CDNPrefix != "" || s.cfg.Presign {
		if _, ok := s.blobs.(blob.Presigner); ok || s.cfg.CDNPrefix != "" {
			u, err := s.blobURL(r.Context(), sha)
			if err != nil {
				writeError(w, r, err)
				return
			}
			// A presigned URL expires: the redirect must not outlive it in a cache.
			w.Header().Set("Cache-Control", "private, max-age=60")
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
	}
	key := blob.ContentKey(sha)
	info, err := s.blobs.Stat(r.Context(), key)
	if err != nil {
		writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+sha+`"`)
	h.Set("Content-Type", "application/octet-stream")
	rs := &blobSeeker{ctx: r.Context(), store: s.blobs, key: key, size: info.Size}
	defer rs.Close()
	http.ServeContent(w, r, "", info.ModTime, rs)
}

// blobSeeker adapts blob.Store.Get to the io.ReadSeeker http.ServeContent wants: Seek is free (it only moves the
// offset), and the first Read after a Seek opens the blob from that offset.
type blobSeeker struct {
	ctx   context.Context
	store blob.Store
	key   string
	size  int64
	off   int64
	rc    io.ReadCloser
}

func (b *blobSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.size + offset
	}
	if abs < 0 || abs > b.size {
		return 0, errors.New("origin: seek outside the blob")
	}
	if abs != b.off {
		b.Close()
	}
	b.off = abs
	return abs, nil
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, _, err := b.store.Get(b.ctx, b.key, b.off, -1)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	return n, err
}

func (b *blobSeeker) Close() error {
	if b.rc == nil {
		return nil
	}
	err := b.rc.Close()
	b.rc = nil
	return err
}
