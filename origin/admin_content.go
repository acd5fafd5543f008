package origin

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lomuz/lomuz/origin/api"
	"github.com/lomuz/lomuz/origin/blob"
	"github.com/lomuz/lomuz/origin/catalog"
)

func (s *Server) contentRoutes(a func(string, http.HandlerFunc)) {
	a("POST /v1/assets", s.createAsset)
	a("GET /v1/assets", s.listAssets)
	a("GET /v1/assets/{id}", s.getAsset)
	a("PUT /v1/assets/{id}", s.updateAsset)
	a("DELETE /v1/assets/{id}", s.deleteAsset)
	a("PUT /v1/uploads/{sha256}", s.upload)
	a("POST /v1/playlists", s.createPlaylist)
	a("GET /v1/playlists", s.listPlaylists)
	a("GET /v1/playlists/{id}", s.getPlaylist)
	a("PUT /v1/playlists/{id}", s.putPlaylist)
	a("DELETE /v1/playlists/{id}", s.deletePlaylist)
	a("POST /v1/schedules", s.createSchedule)
	a("GET /v1/schedules", s.listSchedules)
	a("GET /v1/schedules/{id}", s.getSchedule)
	a("PUT /v1/schedules/{id}", s.putSchedule)
	a("DELETE /v1/schedules/{id}", s.deleteSchedule)
}

func applyAssetInput(a *catalog.Asset, in api.AssetInput) {
	a.Kind, a.Title, a.Artist, a.ISRC = catalog.AssetKind(in.Kind), in.Title, in.Artist, in.ISRC
	a.CueInMS, a.CueOutMS, a.EmergencyEligible = in.CueInMS, in.CueOutMS, in.EmergencyEligible
	a.ValidFrom, a.ValidUntil = derefTime(in.ValidFrom), derefTime(in.ValidUntil)
}

// uploadKey is the blob that records that tenant uploaded the master sha, holding its hex md5 (the seed's file
// hash, and S3's ETag) so an asset carries it without reading the master again. Masters are stored once, by
// content, whoever uploads them; this per-tenant mark is what lets a tenant make an asset of one. Without it,
// a tenant that merely knew the sha256 of another tenant's file could turn it into an asset of its own, and
// tell from the answer (201 rather than 422) that some tenant holds that file.
func uploadKey(tenant, sha string) string { return "uploads/" + tenant + "/" + sha }

// master describes a master the caller's tenant uploaded, or fails with a 422 naming the missing upload.
func (s *Server) master(r *http.Request, sha string) (api.Upload, error) {
	missing := api.NewProblem(http.StatusUnprocessableEntity, api.ProblemBadRequest,
		"master_sha256 %s: no such upload; PUT the file to /v1/uploads/%s first", sha, sha)
	if !api.ValidSHA256(sha) {
		return api.Upload{}, missing
	}
	rc, _, err := s.blobs.Get(r.Context(), uploadKey(tenantOf(r), sha), 0, 32)
	if errors.Is(err, blob.ErrNotFound) {
		return api.Upload{}, missing
	} else if err != nil {
		return api.Upload{}, err
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	info, err := s.blobs.Stat(r.Context(), blob.ContentKey(sha))
	if errors.Is(err, blob.ErrNotFound) {
		return api.Upload{}, missing
	} else if err != nil {
		return api.Upload{}, err
	}
	up := api.Upload{SHA256: sha, Size: info.Size}
	if len(b) == 32 {
		up.MD5 = string(b)
	}
	return up, nil
}

// upload streams a master file into the blob store under its content key, checking the sha256 the caller
// declares in the path and the size bound. Bytes that do not match are not stored.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	if !api.ValidSHA256(sha) {
		writeProblem(w, api.BadField("sha256", "the path must end in the file's lowercase hex sha256, not %q", sha))
		return
	}
	if r.ContentLength > s.cfg.MaxUploadBytes {
		writeProblem(w, api.NewProblem(http.StatusRequestEntityTooLarge, api.ProblemTooLarge,
			"file of %d bytes exceeds the upload limit of %d bytes", r.ContentLength, s.cfg.MaxUploadBytes))
		return
	}
	s.pacedBody(w, r)
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	md := md5.New()
	info, err := s.blobs.Put(r.Context(), blob.ContentKey(sha), io.TeeReader(body, md),
		blob.PutOptions{SHA256: sha, Size: max(r.ContentLength, 0)})
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeProblem(w, api.NewProblem(http.StatusRequestEntityTooLarge, api.ProblemTooLarge,
			"file exceeds the upload limit of %d bytes", s.cfg.MaxUploadBytes))
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	sum := hex.EncodeToString(md.Sum(nil))
	if _, err := s.blobs.Put(r.Context(), uploadKey(tenantOf(r), sha), strings.NewReader(sum), blob.PutOptions{}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, api.Upload{SHA256: info.SHA256, MD5: sum, Size: info.Size})
}

// createAsset creates an asset from an uploaded master and runs the ingest step.
func (s *Server) createAsset(w http.ResponseWriter, r *http.Request) {
	var in api.AssetInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	if in.MasterSHA256 == "" {
		writeProblem(w, api.BadField("master_sha256", "master_sha256 is required: upload the file first"))
		return
	}
	up, err := s.master(r, in.MasterSHA256)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a := catalog.Asset{ID: uuid.NewString(), TenantID: tenantOf(r), State: catalog.AssetPending,
		SHA256: up.SHA256, MD5: up.MD5, Size: up.Size, MasterKey: blob.ContentKey(up.SHA256)}
	applyAssetInput(&a, in)
	if err := s.cat.Update(r.Context(), a.TenantID, func(tx catalog.Tx) error { return tx.PutAsset(a) }); err != nil {
		writeError(w, r, err)
		return
	}
	s.ingestAndAnswer(w, r, a, http.StatusCreated)
}

// ingestAndAnswer runs the ingest step of a's master and answers with the asset as it then is.
func (s *Server) ingestAndAnswer(w http.ResponseWriter, r *http.Request, a catalog.Asset, status int) {
	if err := s.ingester.Ingest(r.Context(), a.TenantID, a.ID, a.MasterKey); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.cat.GetAsset(r.Context(), a.TenantID, a.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, status, assetToWire(a))
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) {
	o, err := listOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	if q.Has("ids") {
		s.assetsByIDs(w, r)
		return
	}
	o.Query = strings.TrimSpace(q.Get("q"))
	if len(o.Query) > catalog.MaxQueryLen || !utf8.ValidString(o.Query) {
		writeProblem(w, api.BadField("q", "q must be valid UTF-8 of at most %d bytes", catalog.MaxQueryLen))
		return
	}
	switch q.Get("emergency") {
	case "", "false":
	case "true":
		o.Emergency = true
	default:
		writeProblem(w, api.BadField("emergency", "emergency must be true or false"))
		return
	}
	page, err := s.cat.ListAssets(r.Context(), tenantOf(r), o)
	writeAssets(w, r, page.Assets, page.Next, err)
}

// writeAssets answers a page of assets, or err.
func writeAssets(w http.ResponseWriter, r *http.Request, as []catalog.Asset, next string, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Asset]{Items: []api.Asset{}, Next: next}
	for _, a := range as {
		out.Items = append(out.Items, assetToWire(a))
	}
	writeJSON(w, r, http.StatusOK, out)
}

// The client's batch size is origin's bound.
const _ = uint(api.MaxAssetIDs-catalog.MaxAssetIDs) + uint(catalog.MaxAssetIDs-api.MaxAssetIDs)

// assetsByIDs answers GET /v1/assets?ids=a,b,..: the tenant's assets among at most catalog.MaxAssetIDs ids, in id
// order, without next. An unknown id and another tenant's id are both simply absent. It takes no other parameter,
// so a caller cannot mistake it for a page of a listing.
func (s *Server) assetsByIDs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q) != 1 || len(q["ids"]) != 1 {
		writeProblem(w, api.BadField("ids", "ids is given once and with no other parameter"))
		return
	}
	raw := q.Get("ids")
	ids := strings.SplitN(raw, ",", catalog.MaxAssetIDs+1) // a longer list fails the check below unsplit
	if err := catalog.CheckAssetIDs(ids); err != nil {
		writeProblem(w, api.BadField("ids", "ids must be at most %d asset ids (UUIDs), separated by commas", catalog.MaxAssetIDs))
		return
	}
	as, err := s.cat.GetAssets(r.Context(), tenantOf(r), ids)
	writeAssets(w, r, as, "", err)
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.cat.GetAsset(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, assetToWire(a))
}

// updateAsset replaces an asset's metadata, republishing its record when it is ready; a new master_sha256
// replaces its file and re-runs the ingest (a ready asset keeps its current rendition until the new one is done).
func (s *Server) updateAsset(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in api.AssetInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	var up api.Upload
	if in.MasterSHA256 != "" {
		if up, err = s.master(r, in.MasterSHA256); err != nil {
			writeError(w, r, err)
			return
		}
	}
	var a catalog.Asset
	var reingest bool
	err = s.cat.Update(r.Context(), tenantOf(r), func(tx catalog.Tx) error {
		if a, err = tx.GetAsset(id); err != nil {
			return err
		}
		applyAssetInput(&a, in)
		if reingest = up.SHA256 != "" && up.SHA256 != a.SHA256; reingest {
			a.SHA256, a.MD5, a.Size, a.MasterKey = up.SHA256, up.MD5, up.Size, blob.ContentKey(up.SHA256)
			if a.State != catalog.AssetReady {
				a.State, a.FailReason = catalog.AssetPending, ""
			}
		}
		return s.publishAsset(tx, a, a.State == catalog.AssetReady)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if reingest {
		s.ingestAndAnswer(w, r, a, http.StatusOK)
		return
	}
	writeJSON(w, r, http.StatusOK, assetToWire(a))
}

func (s *Server) deleteAsset(w http.ResponseWriter, r *http.Request) {
	s.deleteBy(w, r, func(tx catalog.Tx, id string) error {
		a, err := tx.GetAsset(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteAsset(id); err != nil {
			return err
		}
		if a.State == catalog.AssetReady {
			return s.putRecord(tx, assetKey(id), catalog.TenantScope, nil)
		}
		return nil
	})
}

func (s *Server) createPlaylist(w http.ResponseWriter, r *http.Request) {
	s.writePlaylist(w, r, uuid.NewString(), http.StatusCreated)
}

func (s *Server) putPlaylist(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writePlaylist(w, r, id, http.StatusOK)
}

func (s *Server) writePlaylist(w http.ResponseWriter, r *http.Request, id string, status int) {
	var in api.PlaylistInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	p := catalog.Playlist{ID: id, TenantID: tenantOf(r), Name: in.Name, AssetIDs: normIDs(in.AssetIDs)}
	err := s.cat.Update(r.Context(), p.TenantID, func(tx catalog.Tx) error {
		if status == http.StatusOK {
			if _, err := tx.GetPlaylist(id); err != nil {
				return err
			}
		}
		if err := tx.PutPlaylist(p); err != nil {
			return err
		}
		return s.putRecord(tx, playlistKey(id), catalog.TenantScope, playlistToWire(p))
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, status, playlistToWire(p))
}

func (s *Server) listPlaylists(w http.ResponseWriter, r *http.Request) {
	ps, err := s.cat.ListPlaylists(r.Context(), tenantOf(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Playlist]{Items: []api.Playlist{}}
	for _, p := range ps {
		out.Items = append(out.Items, playlistToWire(p))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getPlaylist(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.cat.GetPlaylist(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, playlistToWire(p))
}

func (s *Server) deletePlaylist(w http.ResponseWriter, r *http.Request) {
	s.deleteBy(w, r, func(tx catalog.Tx, id string) error {
		if err := tx.DeletePlaylist(id); err != nil {
			return err
		}
		return s.putRecord(tx, playlistKey(id), catalog.TenantScope, nil)
	})
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) {
	s.writeSchedule(w, r, uuid.NewString(), http.StatusCreated)
}

func (s *Server) putSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeSchedule(w, r, id, http.StatusOK)
}

// writeSchedule stores a schedule and its record. A schedule's scope is fixed at creation: moving it to another
// store would leave its old store's devices holding it.
func (s *Server) writeSchedule(w http.ResponseWriter, r *http.Request, id string, status int) {
	var in api.ScheduleInput
	if err := decode(r, api.MaxAdminBody, &in); err != nil {
		writeError(w, r, err)
		return
	}
	sc := catalog.Schedule{ID: id, TenantID: tenantOf(r), PlaylistID: normID(in.PlaylistID), Priority: in.Priority,
		DateFrom: in.DateFrom, DateTo: in.DateTo, Weekdays: sortedUnique(in.Weekdays), Start: in.Start, End: in.End}
	if in.Scope != api.ScopeTenant {
		sc.StoreID = normID(in.StoreID)
	}
	if in.Scope == api.ScopeZone {
		sc.ZoneID = normID(in.ZoneID)
	}
	for _, sr := range in.SpotRules {
		sc.SpotRules = append(sc.SpotRules, catalog.SpotRule{PlaylistID: normID(sr.PlaylistID),
			EveryNTracks: sr.EveryNTracks, EveryNMinutes: sr.EveryNMinutes, At: sortedUnique(sr.At)})
	}
	err := s.cat.Update(r.Context(), sc.TenantID, func(tx catalog.Tx) error {
		if sc.ZoneID != "" {
			z, err := tx.GetZone(sc.ZoneID)
			if errors.Is(err, catalog.ErrNotFound) {
				return api.BadField("zone_id", "zone %s not found", sc.ZoneID)
			} else if err != nil {
				return err
			}
			if sc.StoreID != "" && sc.StoreID != z.StoreID {
				return api.BadField("zone_id", "zone %s is not a zone of store %s", sc.ZoneID, sc.StoreID)
			}
			sc.StoreID = z.StoreID
		}
		if status == http.StatusOK {
			old, err := tx.GetSchedule(id)
			if err != nil {
				return err
			}
			if scheduleScope(old) != scheduleScope(sc) {
				return api.BadField("scope", "a schedule cannot move to another store; delete it and create another")
			}
		}
		if err := tx.PutSchedule(sc); err != nil {
			return err
		}
		return s.putRecord(tx, scheduleKey(id), scheduleScope(sc), scheduleToWire(sc))
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, status, scheduleToWire(sc))
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	storeID, err := queryID(r, "store_id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	scs, err := s.cat.ListSchedules(r.Context(), tenantOf(r), catalog.ScheduleFilter{StoreID: storeID})
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := api.Page[api.Schedule]{Items: []api.Schedule{}}
	for _, sc := range scs {
		out.Items = append(out.Items, scheduleToWire(sc))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	sc, err := s.cat.GetSchedule(r.Context(), tenantOf(r), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, scheduleToWire(sc))
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	s.deleteBy(w, r, func(tx catalog.Tx, id string) error {
		sc, err := tx.GetSchedule(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteSchedule(id); err != nil {
			return err
		}
		return s.putRecord(tx, scheduleKey(id), scheduleScope(sc), nil)
	})
}

// normID lower-cases a validated UUID so ids compare as the catalog stores them.
func normID(s string) string {
	if id, err := uuid.Parse(s); err == nil {
		return id.String()
	}
	return s
}

func normIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = normID(id)
	}
	return out
}

func sortedUnique[T int | string](v []T) []T {
	if len(v) == 0 {
		return nil
	}
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}
