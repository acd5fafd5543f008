package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Source is where a blob's bytes come from.
//
// Fetch writes the bytes of blob sha256 from offset up to its end into w and returns how many it wrote. It blocks on
// the network and must return promptly once ctx ends. It is called from several goroutines at once (different blobs,
// different writers). w is only valid during the call; the source never keeps it. Fetch returning nil means the
// source believes it sent everything; the cache's hash check decides. A source that sends more than the blob's size
// gets an error from w.
type Source interface {
	Fetch(ctx context.Context, sha256 string, offset int64, w io.Writer) (int64, error)
}

// HTTPError is a non-success HTTP answer. RetryAfter is the server's Retry-After (0 if absent), which the manager
// honours as the minimum wait before the next attempt.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string { return fmt.Sprintf("download: HTTP %d", e.Status) }

// maxRetryAfter bounds a server's Retry-After so a hostile or broken server cannot park a download for days.
const maxRetryAfter = 30 * time.Minute

// HTTPSource fetches blobs over HTTP(S) with Range requests: from origin (GET /v1/blobs/<sha256>), a CDN in front of
// it, or presigned S3 URLs. Safe for concurrent use.
type HTTPSource struct {
	// Client performs the requests; nil means http.DefaultClient. Its timeout, if any, bounds a whole transfer: leave
	// it 0 and rely on the manager's stall watchdog.
	Client *http.Client
	// URL maps a blob to the address to GET.
	URL func(sha256 string) string
}

// NewHTTPSource fetches blob <sha256> at prefix + sha256 (e.g. "https://origin.example/v1/blobs/").
func NewHTTPSource(client *http.Client, prefix string) *HTTPSource {
	return &HTTPSource{Client: client, URL: func(sha string) string { return prefix + sha }}
}

// Fetch implements Source. A server that ignores Range (200 instead of 206) is handled by discarding the first
// offset bytes; a 206 whose Content-Range does not start at offset is an error.
func (h *HTTPSource) Fetch(ctx context.Context, sha string, offset int64, w io.Writer) (int64, error) {
	if h.URL == nil {
		return 0, errors.New("download: HTTPSource without URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL(sha), nil)
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				return 0, fmt.Errorf("download: skipping %d bytes of a full answer: %w", offset, err)
			}
		}
	case http.StatusPartialContent:
		start, err := contentRangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != offset {
			return 0, fmt.Errorf("download: Content-Range %q does not start at %d", resp.Header.Get("Content-Range"), offset)
		}
	default:
		return 0, &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download: body: %w", err)
	}
	return n, nil
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(v string) (int64, error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, errors.New("not a byte range")
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, errors.New("no dash")
	}
	return strconv.ParseInt(s, 10, 64)
}

// retryAfter parses Retry-After in seconds (the form origin sends); dates and garbage count as absent.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}
