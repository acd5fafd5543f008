package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lomuz/lomuz/origin/blob"
)

// Factory returns a fresh, empty store whose size bound is maxSize bytes. It registers its own cleanup on t.
type Factory func(t *testing.T, maxSize int64) blob.Store

// MaxSize is the bound the suite asks its stores for: large enough for a multipart upload (parts are at least
// 5 MiB on S3), small enough to test the bound quickly.
const MaxSize = 24 << 20

// LargeSize is the size of the suite's "large" blobs: more than one 8 MiB part, so S3 backends take their multipart
// path.
const LargeSize = 9<<20 + 12345

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGetRoundTrip", testPutGet},
		{"PutEmpty", testPutEmpty},
		{"PutLarge", testPutLarge},
		{"DigestMismatchStoresNothing", testDigestMismatch},
		{"LargeDigestMismatchStoresNothing", testLargeDigestMismatch},
		{"SizeMismatch", testSizeMismatch},
		{"TooLarge", testTooLarge},
		{"ReaderErrorStoresNothing", testReaderError},
		{"CanceledPutStoresNothing", testCanceledPut},
		{"Overwrite", testOverwrite},
		{"Ranges", testRanges},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"List", testList},
		{"ConcurrentWritersOneKey", testConcurrentWriters},
	}
	// Presigning is optional: stores that offer it are held to it.
	if _, ok := newStore(t, MaxSize).(blob.Presigner); ok {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, s blob.Store)
		}{"Presign", testPresign})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t, MaxSize))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustPut(t *testing.T, s blob.Store, key string, b []byte) blob.Info {
	t.Helper()
	info, err := s.Put(ctxT(t), key, bytes.NewReader(b), blob.PutOptions{SHA256: digest(b), Size: int64(len(b))})
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return info
}

func readAll(t *testing.T, s blob.Store, key string, off, n int64) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(ctxT(t), key, off, n)
	if err != nil {
		t.Fatalf("Get(%s, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, info
}

func assertAbsent(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if _, err := s.Stat(ctxT(t), key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat(%s) after a failed Put = %v, want ErrNotFound", key, err)
	}
	for info, err := range s.List(ctxT(t), "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if info.Key == key {
			t.Fatalf("List shows %s after a failed Put", key)
		}
	}
}

func testPutGet(t *testing.T, s blob.Store) {
	b := payload(1, 100_000)
	key := blob.ContentKey(digest(b))
	before := time.Now().Add(-2 * time.Second)
	info := mustPut(t, s, key, b)
	if info.Key != key || info.Size != int64(len(b)) || info.SHA256 != digest(b) {
		t.Fatalf("Put info = %+v, want key %s size %d sha %s", info, key, len(b), digest(b))
	}
	got, ginfo := readAll(t, s, key, 0, -1)
	if !bytes.Equal(got, b) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(b))
	}
	if ginfo.Size != int64(len(b)) || ginfo.Key != key {
		t.Fatalf("Get info = %+v", ginfo)
	}
	st, err := s.Stat(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(b)) || st.Key != key || st.ModTime.Before(before) || st.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("Stat = %+v", st)
	}
	// Without expectations the store still reports the digest of what it stored.
	info, err = s.Put(ctxT(t), "plain/one", bytes.NewReader(b), blob.PutOptions{})
	if err != nil || info.SHA256 != digest(b) || info.Size != int64(len(b)) {
		t.Fatalf("Put without expectations = %+v, %v", info, err)
	}
	if ok, err := blob.Exists(ctxT(t), s, "plain/one"); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
}

func testPutEmpty(t *testing.T, s blob.Store) {
	info := mustPut(t, s, "empty/blob", nil)
	if info.Size != 0 || info.SHA256 != digest(nil) {
		t.Fatalf("empty Put info = %+v", info)
	}
	got, _ := readAll(t, s, "empty/blob", 0, -1)
	if len(got) != 0 {
		t.Fatalf("empty blob read %d bytes", len(got))
	}
}

func testPutLarge(t *testing.T, s blob.Store) {
	b := payload(2, LargeSize)
	key := blob.ContentKey(digest(b))
	// Hide the length from the backend: a master arrives as a stream.
	info, err := s.Put(ctxT(t), key, struct{ io.Reader }{bytes.NewReader(b)}, blob.PutOptions{SHA256: digest(b)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(b)) {
		t.Fatalf("size %d, want %d", info.Size, len(b))
	}
	got, _ := readAll(t, s, key, 0, -1)
	if !bytes.Equal(got, b) {
		t.Fatal("large blob differs after round trip")
	}
	mid, _ := readAll(t, s, key, 8<<20-10, 20)
	if !bytes.Equal(mid, b[8<<20-10:8<<20+10]) {
		t.Fatal("range across the 8 MiB part boundary differs")
	}
}

func testDigestMismatch(t *testing.T, s blob.Store) {
	b := payload(3, 5000)
	wrong := digest([]byte("something else"))
	_, err := s.Put(ctxT(t), blob.ContentKey(wrong), bytes.NewReader(b), blob.PutOptions{SHA256: wrong})
	if !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("Put with wrong digest = %v, want ErrDigestMismatch", err)
	}
	assertAbsent(t, s, blob.ContentKey(wrong))
	// A failed replacement leaves the old blob in place.
	old := mustPut(t, s, "keep/me", b)
	_, err = s.Put(ctxT(t), "keep/me", bytes.NewReader(payload(4, 6000)), blob.PutOptions{SHA256: wrong})
	if !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("replacing Put with wrong digest = %v", err)
	}
	got, _ := readAll(t, s, "keep/me", 0, -1)
	if !bytes.Equal(got, b) || old.Size != int64(len(b)) {
		t.Fatal("failed replacement changed the stored blob")
	}
	// A malformed expected digest is a key-grammar error, not a mismatch.
	_, err = s.Put(ctxT(t), "bad/digest", bytes.NewReader(b), blob.PutOptions{SHA256: "XYZ"})
	if !errors.Is(err, blob.ErrInvalidKey) {
		t.Fatalf("Put with malformed digest = %v, want ErrInvalidKey", err)
	}
	assertAbsent(t, s, "bad/digest")
}

func testLargeDigestMismatch(t *testing.T, s blob.Store) {
	b := payload(5, LargeSize)
	wrong := digest(b[1:])
	_, err := s.Put(ctxT(t), "large/wrong", struct{ io.Reader }{bytes.NewReader(b)}, blob.PutOptions{SHA256: wrong})
	if !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatalf("large Put with wrong digest = %v, want ErrDigestMismatch", err)
	}
	assertAbsent(t, s, "large/wrong")
}

func testSizeMismatch(t *testing.T, s blob.Store) {
	b := payload(6, 3000)
	for _, declared := range []int64{2999, 3001} {
		_, err := s.Put(ctxT(t), "size/x", bytes.NewReader(b), blob.PutOptions{Size: declared})
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Fatalf("Put of 3000 bytes declared %d = %v, want ErrSizeMismatch", declared, err)
		}
		assertAbsent(t, s, "size/x")
	}
}

func testTooLarge(t *testing.T, s blob.Store) {
	_, err := s.Put(ctxT(t), "big/x", io.LimitReader(zeroReader{}, MaxSize+1), blob.PutOptions{})
	if !errors.Is(err, blob.ErrTooLarge) {
		t.Fatalf("Put of MaxSize+1 bytes = %v, want ErrTooLarge", err)
	}
	assertAbsent(t, s, "big/x")
	_, err = s.Put(ctxT(t), "big/y", bytes.NewReader(nil), blob.PutOptions{Size: MaxSize + 1})
	if !errors.Is(err, blob.ErrTooLarge) {
		t.Fatalf("Put declaring MaxSize+1 bytes = %v, want ErrTooLarge", err)
	}
	assertAbsent(t, s, "big/y")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

var errBroken = errors.New("broken pipe from the uploader")

type failingReader struct {
	r    io.Reader
	left int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errBroken
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= n
	return n, err
}

func testReaderError(t *testing.T, s blob.Store) {
	for _, n := range []int{1000, LargeSize - 100} {
		b := payload(7, LargeSize)
		_, err := s.Put(ctxT(t), "broken/x", &failingReader{bytes.NewReader(b), n}, blob.PutOptions{})
		if !errors.Is(err, errBroken) {
			t.Fatalf("Put from a reader failing after %d bytes = %v, want the reader's error", n, err)
		}
		assertAbsent(t, s, "broken/x")
	}
}

func testCanceledPut(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	b := payload(8, 1000)
	_, err := s.Put(ctx, "canceled/x", bytes.NewReader(b), blob.PutOptions{})
	if err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	assertAbsent(t, s, "canceled/x")
}

func testOverwrite(t *testing.T, s blob.Store) {
	mustPut(t, s, "over/x", payload(9, 4000))
	b := payload(10, 123)
	mustPut(t, s, "over/x", b)
	got, info := readAll(t, s, "over/x", 0, -1)
	if !bytes.Equal(got, b) || info.Size != 123 {
		t.Fatalf("after overwrite got %d bytes, info %+v", len(got), info)
	}
}

func testRanges(t *testing.T, s blob.Store) {
	b := payload(11, 10_000)
	mustPut(t, s, "range/x", b)
	for _, tc := range []struct{ off, n, wantFrom, wantTo int64 }{
		{0, -1, 0, 10_000},
		{0, 1, 0, 1},
		{500, 1000, 500, 1500},
		{9_000, -1, 9_000, 10_000},
		{9_000, 5_000, 9_000, 10_000}, // cut at the end
		{9_999, 1, 9_999, 10_000},
		{10_000, -1, 10_000, 10_000}, // empty, not an error
		{10_000, 10, 10_000, 10_000},
		{100, 0, 100, 100},
	} {
		got, info := readAll(t, s, "range/x", tc.off, tc.n)
		if !bytes.Equal(got, b[tc.wantFrom:tc.wantTo]) {
			t.Fatalf("Get(off %d, n %d): %d bytes, want b[%d:%d]", tc.off, tc.n, len(got), tc.wantFrom, tc.wantTo)
		}
		if info.Size != 10_000 {
			t.Fatalf("Get(off %d, n %d) info size %d, want the whole blob's 10000", tc.off, tc.n, info.Size)
		}
		// The same range through io.Copy, which takes a reader's WriteTo or a writer's ReadFrom when they exist.
		rc, _, err := s.Get(ctxT(t), "range/x", tc.off, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, rc); err != nil || !bytes.Equal(buf.Bytes(), b[tc.wantFrom:tc.wantTo]) {
			t.Fatalf("io.Copy of Get(off %d, n %d): %d bytes, %v", tc.off, tc.n, buf.Len(), err)
		}
		rc.Close()
	}
	for _, off := range []int64{-1, 10_001} {
		if _, _, err := s.Get(ctxT(t), "range/x", off, 10); !errors.Is(err, blob.ErrInvalidRange) {
			t.Fatalf("Get(off %d) = %v, want ErrInvalidRange", off, err)
		}
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	if _, _, err := s.Get(ctxT(t), "no/such", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}
	if _, err := s.Stat(ctxT(t), "no/such"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat missing = %v", err)
	}
	if ok, err := blob.Exists(ctxT(t), s, "no/such"); ok || err != nil {
		t.Fatalf("Exists missing = %v, %v", ok, err)
	}
	// A parent "directory" of stored keys is not a blob.
	mustPut(t, s, "dir/child", []byte("x"))
	if _, err := s.Stat(ctxT(t), "dir"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of a key prefix = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Get(ctxT(t), "dir", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of a key prefix = %v, want ErrNotFound", err)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	mustPut(t, s, "del/x", []byte("bye"))
	mustPut(t, s, "del/y", []byte("stay"))
	if err := s.Delete(ctxT(t), "del/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctxT(t), "del/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v", err)
	}
	if err := s.Delete(ctxT(t), "del/x"); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	if err := s.Delete(ctxT(t), "never/was"); err != nil {
		t.Fatalf("Delete of a missing key = %v, want nil", err)
	}
	if got, _ := readAll(t, s, "del/y", 0, -1); string(got) != "stay" {
		t.Fatalf("Delete touched a sibling: %q", got)
	}
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	bad := []string{"", "/abs", "trailing/", "a//b", "../up", "a/../b", "a/./b", ".", "..", "sp ace", "uni/çode",
		"q?x", "pct%2F", "back\\slash", "nul\x00", string(bytes.Repeat([]byte("k"), blob.MaxKeyLen+1))}
	for _, key := range bad {
		_, err := s.Put(ctxT(t), key, bytes.NewReader([]byte("x")), blob.PutOptions{})
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Fatalf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.Get(ctxT(t), key, 0, -1); !errors.Is(err, blob.ErrInvalidKey) {
			t.Fatalf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctxT(t), key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Fatalf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctxT(t), key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Fatalf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/abs", "a//", "../", "sp ace"} {
		for _, err := range s.List(ctxT(t), prefix) {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Fatalf("List(%q) = %v, want ErrInvalidKey", prefix, err)
			}
		}
	}
	// Nothing was created by the attempts.
	for info, err := range s.List(ctxT(t), "") {
		t.Fatalf("store not empty after invalid keys: %+v %v", info, err)
	}
}

func listKeys(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	var keys []string
	for info, err := range s.List(ctxT(t), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func testList(t *testing.T, s blob.Store) {
	keys := []string{"m/t1/b", "m/t1/a", "m/t2/a", "m/t1-x/a", "m/t1.y", "r/z", "m/t10/a"}
	for i, k := range keys {
		mustPut(t, s, k, payload(uint64(100+i), 10+i))
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	if got := listKeys(t, s, ""); !slices.Equal(got, sorted) {
		t.Fatalf("List(\"\") = %v, want %v", got, sorted)
	}
	for prefix, want := range map[string][]string{
		"m/t1/":         {"m/t1/a", "m/t1/b"},
		"m/t1":          {"m/t1-x/a", "m/t1.y", "m/t1/a", "m/t1/b", "m/t10/a"},
		"m/t":           {"m/t1-x/a", "m/t1.y", "m/t1/a", "m/t1/b", "m/t10/a", "m/t2/a"},
		"r/":            {"r/z"},
		"nope/":         nil,
		"m/t1/a/deeper": nil,
	} {
		if got := listKeys(t, s, prefix); !slices.Equal(got, want) {
			t.Fatalf("List(%q) = %v, want %v", prefix, got, want)
		}
	}
	for info, err := range s.List(ctxT(t), "m/t2/") {
		if err != nil || info.Size != 12 || info.ModTime.IsZero() {
			t.Fatalf("List info = %+v, %v", info, err)
		}
	}
	n := 0
	for range s.List(ctxT(t), "") {
		n++
		if n == 2 {
			break // stopping early must be safe
		}
	}
}

func testConcurrentWriters(t *testing.T, s blob.Store) {
	const writers = 4
	versions := make([][]byte, writers)
	for i := range versions {
		versions[i] = payload(uint64(200+i), 200_000+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for i := range writers {
		wg.Go(func() {
			for range 2 {
				if _, err := s.Put(ctxT(t), "race/x", bytes.NewReader(versions[i]), blob.PutOptions{SHA256: digest(versions[i])}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	got, _ := readAll(t, s, "race/x", 0, -1)
	for _, v := range versions {
		if bytes.Equal(got, v) {
			return
		}
	}
	t.Fatalf("after concurrent writers the blob (%d bytes) is none of the versions written", len(got))
}

func testPresign(t *testing.T, s blob.Store) {
	p := s.(blob.Presigner)
	b := payload(12, 50_000)
	key := blob.ContentKey(digest(b))
	mustPut(t, s, key, b)
	u, err := p.PresignGet(ctxT(t), key, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, b[100:200]) {
		t.Fatalf("presigned ranged GET: status %d, %d bytes", resp.StatusCode, len(got))
	}
	// The signature covers the key: the same URL for another key is refused.
	tampered := bytes.Replace([]byte(u), []byte(key), []byte(blob.ContentKey(digest(nil))), 1)
	resp, err = http.Get(string(tampered))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered presigned URL: status %d, want 403", resp.StatusCode)
	}
	if _, err := p.PresignGet(ctxT(t), "../bad", time.Minute); !errors.Is(err, blob.ErrInvalidKey) {
		t.Fatalf("PresignGet(bad key) = %v", err)
	}
}
