package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Admin client calls. Each returns a *Problem for a 4xx/5xx answer.

// Do sends an admin request: JSON in (nil for none), JSON out (nil to discard). path starts with /v1/.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, MaxAdminResponse, out)
}

// Tenant returns the caller's tenant.
func (c *Client) Tenant(ctx context.Context) (Tenant, error) {
	var t Tenant
	return t, c.Do(ctx, http.MethodGet, "/v1/tenant", nil, &t)
}

// CreateStore creates a store.
func (c *Client) CreateStore(ctx context.Context, in StoreInput) (Store, error) {
	var s Store
	return s, c.Do(ctx, http.MethodPost, "/v1/stores", &in, &s)
}

// ListStores lists the tenant's stores with their zones.
func (c *Client) ListStores(ctx context.Context) ([]Store, error) {
	var p Page[Store]
	return p.Items, c.Do(ctx, http.MethodGet, "/v1/stores", nil, &p)
}

// CreateZone creates a zone in a store.
func (c *Client) CreateZone(ctx context.Context, storeID string, in ZoneInput) (ZoneInfo, error) {
	var z ZoneInfo
	return z, c.Do(ctx, http.MethodPost, "/v1/stores/"+url.PathEscape(storeID)+"/zones", &in, &z)
}

// CreateAsset creates an asset from an uploaded master (in.MasterSHA256) and starts its ingest.
func (c *Client) CreateAsset(ctx context.Context, in AssetInput) (Asset, error) {
	var a Asset
	return a, c.Do(ctx, http.MethodPost, "/v1/assets", &in, &a)
}

// ListAssets returns one page of assets (cursor "" for the first).
func (c *Client) ListAssets(ctx context.Context, cursor string, limit int) (Page[Asset], error) {
	return c.SearchAssets(ctx, "", cursor, limit)
}

// SearchAssets returns one page of the assets whose title, artist or ISRC contain text, ignoring case and
// accents (text "" lists all). A page may hold fewer than limit assets and still have a Next: keep paging.
func (c *Client) SearchAssets(ctx context.Context, text, cursor string, limit int) (Page[Asset], error) {
	q := url.Values{}
	if text != "" {
		q.Set("q", text)
	}
	return c.listAssets(ctx, q, cursor, limit)
}

// EmergencyAssets returns one page of the emergency-eligible assets. Like a search, a page may hold fewer than
// limit assets and still have a Next: keep paging.
func (c *Client) EmergencyAssets(ctx context.Context, cursor string, limit int) (Page[Asset], error) {
	return c.listAssets(ctx, url.Values{"emergency": {"true"}}, cursor, limit)
}

func (c *Client) listAssets(ctx context.Context, q url.Values, cursor string, limit int) (Page[Asset], error) {
	var p Page[Asset]
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	return p, c.Do(ctx, http.MethodGet, "/v1/assets?"+q.Encode(), nil, &p)
}

// MaxAssetIDs is how many ids origin answers in one GET /v1/assets?ids= (catalog.MaxAssetIDs).
const MaxAssetIDs = 100

// AssetsByIDs reads the assets among ids, MaxAssetIDs per call, in id order. Unknown ids (and ids of another
// tenant, which origin does not tell apart) are left out.
func (c *Client) AssetsByIDs(ctx context.Context, ids []string) ([]Asset, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []Asset
	for chunk := range slices.Chunk(ids, MaxAssetIDs) {
		var p Page[Asset]
		q := url.Values{"ids": {strings.Join(chunk, ",")}}
		if err := c.Do(ctx, http.MethodGet, "/v1/assets?"+q.Encode(), nil, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
	}
	return out, nil
}

// Upload streams a master file (size bytes, sha256 declared) to origin, which verifies the digest and stores it
// content-addressed; create the asset with CreateAsset and MasterSHA256 next. The body is sent once: it is not
// retried on another base URL.
func (c *Client) Upload(ctx context.Context, sha256 string, size int64, body io.Reader) (Upload, error) {
	var u Upload
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.BaseURL()+"/v1/uploads/"+url.PathEscape(sha256), body)
	if err != nil {
		return u, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	raw, err := c.send(req, MaxAdminResponse)
	if err != nil {
		return u, err
	}
	return u, UnmarshalLenient(raw, &u)
}

// CreatePlaylist creates a playlist.
func (c *Client) CreatePlaylist(ctx context.Context, in PlaylistInput) (Playlist, error) {
	var p Playlist
	return p, c.Do(ctx, http.MethodPost, "/v1/playlists", &in, &p)
}

// CreateSchedule creates a schedule.
func (c *Client) CreateSchedule(ctx context.Context, in ScheduleInput) (Schedule, error) {
	var s Schedule
	return s, c.Do(ctx, http.MethodPost, "/v1/schedules", &in, &s)
}

// CreateEnrollmentToken issues a one-time enrollment token; its secret is in Token.
func (c *Client) CreateEnrollmentToken(ctx context.Context, in EnrollmentTokenInput) (EnrollmentToken, error) {
	var t EnrollmentToken
	return t, c.Do(ctx, http.MethodPost, "/v1/enrollment-tokens", &in, &t)
}

// ListDevices lists devices (storeID "" for all) with telemetry.
func (c *Client) ListDevices(ctx context.Context, storeID string) ([]Device, error) {
	var p Page[Device]
	path := "/v1/devices"
	if storeID != "" {
		path += "?store_id=" + url.QueryEscape(storeID)
	}
	return p.Items, c.Do(ctx, http.MethodGet, path, nil, &p)
}

// RevokeDevice revokes a device; its store's mesh key rotates.
func (c *Client) RevokeDevice(ctx context.Context, deviceID string) (Device, error) {
	var d Device
	return d, c.Do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(deviceID)+"/revoke", nil, &d)
}

// UnmarshalLenient decodes an answer, ignoring fields this client does not know (forward compatible).
func UnmarshalLenient(raw []byte, v any) error {
	return jsonUnmarshal(raw, v)
}
