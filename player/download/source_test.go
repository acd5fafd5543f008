package download

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHTTPSourceAnswers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		status        int
		contentRange  string
		retryAfter    string
		body          string
		offset        int64
		want          string
		wantStatus    int
		wantRetryWait time.Duration
	}{
		{name: "range honoured", status: 206, contentRange: "bytes 4-9/10", body: "456789", offset: 4, want: "456789"},
		{name: "range ignored", status: 200, body: "0123456789", offset: 4, want: "456789"},
		{name: "range from elsewhere", status: 206, contentRange: "bytes 0-9/10", body: "0123456789", offset: 4, wantStatus: -1},
		{name: "not a byte range", status: 206, contentRange: "items 4-9/10", body: "456789", offset: 4, wantStatus: -1},
		{name: "full answer too short to skip", status: 200, body: "012", offset: 4, wantStatus: -1},
		{name: "not found", status: 404, wantStatus: 404},
		{name: "shedding load", status: 429, retryAfter: "7", wantStatus: 429, wantRetryWait: 7 * time.Second},
		{name: "absurd retry-after", status: 503, retryAfter: "99999999", wantStatus: 503, wantRetryWait: maxRetryAfter},
		{name: "date retry-after", status: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotRange string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotRange = r.Header.Get("Range")
				if tc.contentRange != "" {
					w.Header().Set("Content-Range", tc.contentRange)
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			var out bytes.Buffer
			n, err := NewHTTPSource(srv.Client(), srv.URL+"/v1/blobs/").Fetch(context.Background(), "abc", tc.offset, &out)
			if tc.offset > 0 && gotRange != "bytes=4-" {
				t.Fatalf("Range header %q", gotRange)
			}
			var he *HTTPError
			switch {
			case tc.wantStatus == 0:
				if err != nil || out.String() != tc.want || n != int64(len(tc.want)) {
					t.Fatalf("got %q (%d), %v; want %q", out.String(), n, err, tc.want)
				}
			case tc.wantStatus == -1:
				if err == nil || out.Len() != 0 {
					t.Fatalf("accepted: %q, %v", out.String(), err)
				}
			default:
				if !errors.As(err, &he) || he.Status != tc.wantStatus || he.RetryAfter != tc.wantRetryWait {
					t.Fatalf("error %#v, want status %d retry %v", err, tc.wantStatus, tc.wantRetryWait)
				}
			}
		})
	}
}
