package panel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/lomuz/lomuz/origin/api"
)

// maxFieldBytes bounds one text field of the upload form.
const maxFieldBytes = 8 << 10

// assetForm is what the user typed in the upload form; it is shown again, unchanged, when a save fails.
type assetForm struct {
	MasterSHA256 string // set once the file is stored, so a corrected form does not upload it again
	Kind         string
	Title        string
	Artist       string
	ISRC         string
	ValidFrom    string
	ValidUntil   string
	Emergency    bool
}

type libraryData struct {
	Assets []api.Asset
	Q      string
	Cursor string
	Next   string // cursor of the next page, browsing or searching
	Form   assetForm
}

// searchCalls bounds the origin calls that fill one page of search results: a catalog that scans bounds each
// call (catalog.MaxSearchScan rows) and may answer a short page, so the panel asks again, from its cursor, until
// the page is full. Eight calls cover 160,000 assets of the embedded catalog; PostgreSQL answers in one.
const searchCalls = 8

// findAssets returns a page of assets from cursor: those whose title, artist or ISRC contain q, ignoring case and
// accents (origin's search; "" for all), or the one asset whose id q is. next continues the listing.
func (p *Panel) findAssets(ctx context.Context, c *api.Client, q, cursor string) (out []api.Asset, next string, err error) {
	if id, err := api.ParseID("q", q); err == nil {
		var a api.Asset
		err := c.Do(ctx, http.MethodGet, "/v1/assets/"+id.String(), nil, &a)
		var prob *api.Problem
		if errors.As(err, &prob) && prob.Status == http.StatusNotFound {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		return []api.Asset{a}, "", nil
	}
	for range searchCalls {
		pg, err := c.SearchAssets(ctx, q, cursor, p.cfg.PageSize-len(out))
		if err != nil {
			return nil, "", err
		}
		out, cursor = append(out, pg.Items...), pg.Next
		if cursor == "" || len(out) >= p.cfg.PageSize {
			break
		}
	}
	return out, cursor, nil
}

// loadLibrary fills the list part of the library page from the query (search or browsing, by origin's cursors).
func (p *Panel) loadLibrary(ctx context.Context, rq *request, q url.Values, data *libraryData) (err error) {
	data.Q = strings.TrimSpace(q.Get("q"))
	if len(data.Q) > 200 {
		data.Q = data.Q[:200]
	}
	data.Cursor = q.Get("cursor")
	data.Assets, data.Next, err = p.findAssets(ctx, rq.api, data.Q, data.Cursor)
	return err
}

func (p *Panel) library(w http.ResponseWriter, r *http.Request, rq *request) {
	data := libraryData{Form: assetForm{Kind: "music"}}
	if err := p.loadLibrary(r.Context(), rq, r.URL.Query(), &data); err != nil {
		p.render(w, r, rq, http.StatusBadGateway, "library", data, explain(rq.lang, err))
		return
	}
	p.render(w, r, rq, http.StatusOK, "library", data, "")
}

// createAsset handles the upload form (multipart): the file is streamed to a temporary file while its sha256 is
// computed, uploaded to origin content-addressed, and the asset is created from it. The form's fields come before
// the file, as browsers send them in document order.
func (p *Panel) createAsset(w http.ResponseWriter, r *http.Request, rq *request) {
	var form assetForm
	fail := func(status int, why string) {
		data := libraryData{Form: form}
		if err := p.loadLibrary(r.Context(), rq, url.Values{}, &data); err != nil {
			why += " " + explain(rq.lang, err)
		}
		p.render(w, r, rq, status, "library", data, why)
	}
	if !rq.id.Director() {
		fail(http.StatusForbidden, msg(rq.lang, "err.forbidden"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.cfg.MaxUploadBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, msg(rq.lang, "err.form"))
		return
	}
	var up *api.Upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(uploadStatus(err), uploadMsg(rq.lang, err))
			return
		}
		if part.FormName() == "file" {
			if part.FileName() == "" {
				continue // no file chosen: the kept master_sha256 may stand for it
			}
			u, err := p.stashAndUpload(r.Context(), rq.api, part)
			if err != nil {
				fail(uploadStatus(err), uploadMsg(rq.lang, err))
				return
			}
			up = &u
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil || len(b) > maxFieldBytes {
			fail(http.StatusBadRequest, msg(rq.lang, "err.form"))
			return
		}
		v := strings.TrimSpace(string(b))
		switch part.FormName() {
		case "master_sha256":
			form.MasterSHA256 = v
		case "kind":
			form.Kind = v
		case "title":
			form.Title = v
		case "artist":
			form.Artist = v
		case "isrc":
			form.ISRC = v
		case "valid_from":
			form.ValidFrom = v
		case "valid_until":
			form.ValidUntil = v
		case "emergency":
			form.Emergency = v != ""
		}
	}
	if up != nil {
		form.MasterSHA256 = up.SHA256
	}
	if form.MasterSHA256 == "" {
		fail(http.StatusBadRequest, msg(rq.lang, "err.nofile"))
		return
	}
	in := api.AssetInput{MasterSHA256: form.MasterSHA256, Kind: form.Kind, Title: form.Title, Artist: form.Artist,
		ISRC: form.ISRC, EmergencyEligible: form.Emergency}
	if in.ValidFrom, err = parseDT(form.ValidFrom); err == nil {
		in.ValidUntil, err = parseDT(form.ValidUntil)
	}
	if err != nil {
		fail(http.StatusBadRequest, msg(rq.lang, "err.time"))
		return
	}
	if _, err := rq.api.CreateAsset(r.Context(), in); err != nil {
		fail(http.StatusUnprocessableEntity, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/library?ok=asset", http.StatusSeeOther)
}

var errTooLarge = errors.New("upload too large")

// stashAndUpload copies the file part to a temporary file (removed before returning), hashing it, then uploads it
// to origin under its sha256.
func (p *Panel) stashAndUpload(ctx context.Context, c *api.Client, part io.Reader) (api.Upload, error) {
	f, err := os.CreateTemp(p.cfg.TempDir, "lomuz-panel-upload-*")
	if err != nil {
		return api.Upload{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(part, p.cfg.MaxUploadBytes+1))
	if err != nil {
		return api.Upload{}, err
	}
	if n > p.cfg.MaxUploadBytes {
		return api.Upload{}, errTooLarge
	}
	if n == 0 {
		return api.Upload{}, errEmpty
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return api.Upload{}, err
	}
	return c.Upload(ctx, hex.EncodeToString(h.Sum(nil)), n, f)
}

var errEmpty = errors.New("empty file")

func uploadStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func uploadMsg(lang string, err error) string {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		return msg(lang, "err.toolarge")
	case errors.Is(err, errEmpty):
		return msg(lang, "err.nofile")
	}
	var pr *api.Problem
	if errors.As(err, &pr) {
		return explain(lang, err)
	}
	return msg(lang, "err.form")
}

type assetData struct {
	A    api.Asset
	Form assetForm
}

func formOf(a api.Asset) assetForm {
	return assetForm{Kind: a.Kind, Title: a.Title, Artist: a.Artist, ISRC: a.ISRC, ValidFrom: dtLocal(a.ValidFrom),
		ValidUntil: dtLocal(a.ValidUntil), Emergency: a.EmergencyEligible}
}

func getAsset(ctx context.Context, c *api.Client, id string) (api.Asset, error) {
	var a api.Asset
	err := c.Do(ctx, http.MethodGet, "/v1/assets/"+url.PathEscape(id), nil, &a)
	return a, err
}

// asset shows one asset with its metadata form (validity window, emergency flag, kind, titles).
func (p *Panel) asset(w http.ResponseWriter, r *http.Request, rq *request) {
	a, err := getAsset(r.Context(), rq.api, r.PathValue("id"))
	if err != nil {
		p.render(w, r, rq, http.StatusNotFound, "asset", assetData{}, explain(rq.lang, err))
		return
	}
	p.render(w, r, rq, http.StatusOK, "asset", assetData{A: a, Form: formOf(a)}, "")
}

// updateAsset saves the metadata form. Cue points are not on the form: the asset's current ones are sent back.
func (p *Panel) updateAsset(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	a, err := getAsset(ctx, rq.api, r.PathValue("id"))
	if err != nil {
		p.render(w, r, rq, http.StatusNotFound, "asset", assetData{}, explain(rq.lang, err))
		return
	}
	pf := r.PostForm
	f := assetForm{Kind: pf.Get("kind"), Title: strings.TrimSpace(pf.Get("title")), Artist: strings.TrimSpace(pf.Get("artist")),
		ISRC: strings.TrimSpace(pf.Get("isrc")), ValidFrom: pf.Get("valid_from"), ValidUntil: pf.Get("valid_until"),
		Emergency: pf.Get("emergency") != ""}
	in := api.AssetInput{Kind: f.Kind, Title: f.Title, Artist: f.Artist, ISRC: f.ISRC, CueInMS: a.CueInMS,
		CueOutMS: a.CueOutMS, EmergencyEligible: f.Emergency}
	if in.ValidFrom, err = parseDT(f.ValidFrom); err == nil {
		in.ValidUntil, err = parseDT(f.ValidUntil)
	}
	if err != nil {
		p.render(w, r, rq, http.StatusBadRequest, "asset", assetData{A: a, Form: f}, msg(rq.lang, "err.time"))
		return
	}
	if err := rq.api.Do(ctx, http.MethodPut, "/v1/assets/"+url.PathEscape(a.ID), &in, nil); err != nil {
		p.render(w, r, rq, http.StatusUnprocessableEntity, "asset", assetData{A: a, Form: f}, explain(rq.lang, err))
		return
	}
	http.Redirect(w, r, p.cfg.Prefix+"/library/"+url.PathEscape(a.ID)+"?ok=saved", http.StatusSeeOther)
}
