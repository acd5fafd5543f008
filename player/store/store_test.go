package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no dir":          func(c *Config) { c.Dir = "" },
		"tiny memtable":   func(c *Config) { c.MemTableSize = 512 << 10 },
		"one compactor":   func(c *Config) { c.NumCompactors = 1 },
		"stall <= l0":     func(c *Config) { c.NumLevelZeroTablesStall = c.NumLevelZeroTables },
		"huge vlog files": func(c *Config) { c.ValueLogFileSize = 4 << 30 },
	} {
		c := DefaultConfig(t.TempDir())
		mut(&c)
		if _, err := Open(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
	}
	c := Config{Dir: t.TempDir()}
	if err := c.validate(); err != nil || c.MemTableSize != DefaultConfig("").MemTableSize {
		t.Fatalf("zero config not filled: %v %+v", err, c)
	}
}

func TestCatalogRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if rev, err := s.CatalogRevision(); err != nil || rev != 0 {
		t.Fatalf("fresh revision = %d, %v", rev, err)
	}
	recs := []Record{
		{Key: "asset/a", Rev: 3, Data: []byte(`{"id":"a"}`)},
		{Key: "asset/b", Rev: 4, Data: []byte(`{"id":"b"}`)},
		{Key: "playlist/p", Rev: 4, Data: []byte(`{"id":"p"}`)},
	}
	if err := s.ApplyCatalog(4, recs, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyCatalog(5, []Record{{Key: "asset/c", Rev: 5, Data: []byte("c")}}, []string{"asset/a"}); err != nil {
		t.Fatal(err)
	}
	// A rejected delta changes nothing: one bad record in the batch.
	bad := []Record{{Key: "asset/d", Rev: 6, Data: []byte("d")}, {Key: "", Rev: 6}}
	if err := s.ApplyCatalog(6, bad, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad delta: %v", err)
	}
	if err := s.ApplyCatalog(6, []Record{{Key: "asset/e", Data: make([]byte, MaxRecordLen+1)}}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized record: %v", err)
	}
	s.Close()

	s = openT(t, dir)
	defer s.Close()
	if rev, _ := s.CatalogRevision(); rev != 5 {
		t.Fatalf("revision = %d, want 5", rev)
	}
	if _, err := s.CatalogRecord("asset/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if _, err := s.CatalogRecord("asset/d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record of rejected delta is present: %v", err)
	}
	r, err := s.CatalogRecord("asset/b")
	if err != nil || r.Rev != 4 || string(r.Data) != `{"id":"b"}` {
		t.Fatalf("asset/b = %+v, %v", r, err)
	}
	var keys []string
	if err := s.CatalogRecords("asset/", func(r Record) error { keys = append(keys, r.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[asset/b asset/c]" {
		t.Fatalf("asset keys = %v", keys)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestLargeCatalogDelta(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	// 3,000 records of 2 KiB (6 MiB) exceed one transaction: the store must still apply them.
	recs := make([]Record, 3000)
	for i := range recs {
		recs[i] = Record{Key: fmt.Sprintf("asset/%05d", i), Rev: 9, Data: bytes.Repeat([]byte{byte(i)}, 2048)}
	}
	if err := s.ApplyCatalog(9, recs, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = s.CatalogRecords("asset/", func(r Record) error { n++; return nil })
	if rev, _ := s.CatalogRevision(); n != 3000 || rev != 9 {
		t.Fatalf("got %d records at rev %d", n, rev)
	}
}

func TestHistoryAndBlobs(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC)
	must(t, s.SetPlayed("zone-1", "a", t0))
	must(t, s.SetPlayed("zone-1", "b", t0.Add(time.Minute)))
	must(t, s.SetPlayed("zone-1", "a", t0.Add(2*time.Minute)))
	must(t, s.SetPlayed("zone-10", "x", t0)) // a zone whose id extends another's must not leak into it
	if _, err := s.TrustedTime(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fresh trusted time: %v", err)
	}
	must(t, s.SetTrustedTime([]byte("tt")))
	must(t, s.SetEnrollment([]byte("creds")))
	if err := s.SetEnrollment(make([]byte, MaxBlobLen+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized enrollment: %v", err)
	}
	if err := s.SetPlayed("", "a", t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty zone: %v", err)
	}
	s.Close()

	s = openT(t, dir)
	defer s.Close()
	h, err := s.LastPlayed("zone-1")
	if err != nil || len(h) != 2 || !h["a"].Equal(t0.Add(2*time.Minute)) || !h["b"].Equal(t0.Add(time.Minute)) {
		t.Fatalf("history = %v, %v", h, err)
	}
	if v, _ := s.TrustedTime(); string(v) != "tt" {
		t.Fatalf("trusted time = %q", v)
	}
	if v, _ := s.Enrollment(); string(v) != "creds" {
		t.Fatalf("enrollment = %q", v)
	}
	must(t, s.ClearEnrollment())
	if _, err := s.Enrollment(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cleared enrollment: %v", err)
	}
}

func TestPlayOutbox(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := 1; i <= 25; i++ {
		seq, err := s.AppendPlay([]byte(fmt.Sprintf("ev%d", i)))
		if err != nil || seq != uint64(i) {
			t.Fatalf("append %d: seq %d, %v", i, seq, err)
		}
	}
	if _, err := s.AppendPlay(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty event: %v", err)
	}
	if _, err := s.AppendPlay(make([]byte, MaxPlayLen+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized event: %v", err)
	}
	p, err := s.PendingPlays(0, 10)
	if err != nil || len(p) != 10 || p[0].Seq != 1 || string(p[9].Data) != "ev10" {
		t.Fatalf("first page = %v, %v", p, err)
	}
	p, _ = s.PendingPlays(10, 0)
	if len(p) != 15 || p[0].Seq != 11 {
		t.Fatalf("second page = %v", p)
	}
	must(t, s.AckPlays(20))
	must(t, s.AckPlays(3)) // already gone: no error
	s.Close()

	s = openT(t, dir)
	defer s.Close()
	p, _ = s.PendingPlays(0, 0)
	if len(p) != 5 || p[0].Seq != 21 {
		t.Fatalf("after ack: %v", p)
	}
	must(t, s.AckPlays(25))
	// Sequence numbers are never reused, even with an empty outbox.
	seq, err := s.AppendPlay([]byte("next"))
	if err != nil || seq != 26 {
		t.Fatalf("seq after empty outbox = %d, %v", seq, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	const workers, each = 4, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := s.AppendPlay([]byte("x")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		must(t, <-errs)
	}
	p, _ := s.PendingPlays(0, 0)
	if len(p) != workers*each || p[len(p)-1].Seq != workers*each {
		t.Fatalf("got %d events, last seq %d", len(p), p[len(p)-1].Seq)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsCorruptTable flips bytes in the middle of every table file: the boot check (or Open itself) must
// notice rather than serve damaged records.
func TestCheckFindsCorruptTable(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	recs := make([]Record, 2000)
	for i := range recs {
		recs[i] = Record{Key: fmt.Sprintf("asset/%05d", i), Rev: 1, Data: bytes.Repeat([]byte{'r'}, 300)}
	}
	must(t, s.ApplyCatalog(1, recs[:400], nil))
	must(t, s.ApplyCatalog(1, recs[400:800], nil))
	s.Close() // flushes the memtable into a table file
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table file written")
	}
	for _, p := range tables {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 4; i < len(b)/2; i += 512 {
			b[i] ^= 0xff
		}
		os.WriteFile(p, b, 0o644)
	}
	s, err := Open(DefaultConfig(dir))
	if err != nil {
		t.Logf("Open refused the damaged database: %v", err)
		return
	}
	defer s.Close()
	if err := s.Check(); err == nil {
		t.Fatal("Check passed a database with damaged tables")
	}
}
