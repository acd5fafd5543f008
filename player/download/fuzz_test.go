package download

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzHTTPSource feeds arbitrary status, Content-Range and body to the source: it must never write before the
// requested offset's bytes, never panic, and never report more bytes than it wrote.
func FuzzHTTPSource(f *testing.F) {
	f.Add(206, "bytes 5-9/10", []byte("56789"), int64(5))
	f.Add(200, "", []byte("0123456789"), int64(5))
	f.Add(206, "bytes 4-9/10", []byte("456789"), int64(5))
	f.Add(206, "bytes -1-9/10", []byte("x"), int64(0))
	f.Add(416, "", []byte{}, int64(3))
	f.Add(200, "", []byte("012"), int64(5))
	f.Fuzz(func(t *testing.T, status int, contentRange string, body []byte, offset int64) {
		if status < 200 || status > 599 || offset < 0 || offset > 1<<20 {
			return
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if contentRange != "" {
				w.Header()["Content-Range"] = []string{contentRange}
			}
			w.WriteHeader(status)
			w.Write(body)
		}))
		defer srv.Close()
		var out bytes.Buffer
		n, err := NewHTTPSource(srv.Client(), srv.URL+"/").Fetch(context.Background(), "x", offset, &out)
		if n != int64(out.Len()) {
			t.Fatalf("reported %d bytes, wrote %d", n, out.Len())
		}
		if err == nil && status == 200 && !bytes.Equal(out.Bytes(), body[min(int(offset), len(body)):]) {
			t.Fatalf("200 answer: wrote %q of body %q at offset %d", out.Bytes(), body, offset)
		}
		if err == nil && status != 200 && status != 206 {
			t.Fatalf("status %d accepted", status)
		}
	})
}
