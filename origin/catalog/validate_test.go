package catalog

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"0f8fad5b-d9cb-469f-a165-70867728950e": true,
		"0F8FAD5B-D9CB-469F-A165-70867728950E": false, // one canonical spelling, so ids compare as strings
		"0f8fad5bd9cb469fa16570867728950e":     false,
		"0f8fad5b-d9cb-469f-a165-70867728950":  false,
		"0f8fad5b-d9cb-469f-a165_70867728950e": false,
		"":                                     false,
	} {
		if ValidID(s) != want {
			t.Errorf("ValidID(%q) = %v", s, !want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	ok := Schedule{ID: id, PlaylistID: id, Start: "22:00", End: "02:00", Weekdays: []int{0, 6},
		SpotRules: []SpotRule{{PlaylistID: id, At: []string{"09:00", "18:30"}}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid schedule: %v", err)
	}
	for name, mut := range map[string]func(*Schedule){
		"unsorted weekdays": func(s *Schedule) { s.Weekdays = []int{3, 1} },
		"hour 24":           func(s *Schedule) { s.Start = "24:00" },
		"H:MM":              func(s *Schedule) { s.End = "9:00" },
		"unsorted times":    func(s *Schedule) { s.SpotRules[0].At = []string{"18:30", "09:00"} },
		"bad date":          func(s *Schedule) { s.DateFrom = "2026-02-30" },
		"priority":          func(s *Schedule) { s.Priority = 5000 },
	} {
		s := ok
		s.SpotRules = []SpotRule{{PlaylistID: id, At: []string{"09:00", "18:30"}}}
		mut(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestAssetWindow(t *testing.T) {
	a := Asset{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Kind: KindSpot, Title: "promo", State: AssetPending,
		SHA256: fmt.Sprintf("%064x", 1), ValidFrom: time.Unix(100, 0), ValidUntil: time.Unix(100, 0)}
	if err := a.Validate(); err != nil {
		t.Fatalf("a one-instant window is valid (inclusive bounds): %v", err)
	}
	a.ValidUntil = time.Unix(99, 0)
	if err := a.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("inverted window: %v", err)
	}
}

func TestSumHashesIsUnion(t *testing.T) {
	var a, b, all crdt.StateHash
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("asset/%d", i)
		if i%3 == 0 {
			a.Add(k, uint64(i+1))
		} else {
			b.Add(k, uint64(i+1))
		}
		all.Add(k, uint64(i+1))
	}
	if SumHashes(a, b) != all || SumHashes(b, a) != all {
		t.Fatal("SumHashes is not the hash of the union")
	}
	if SumHashes(all, crdt.StateHash{}) != all {
		t.Fatal("the empty set is not neutral")
	}
}

func TestHashText(t *testing.T) {
	var h Hash
	h[0], h[31] = 0xab, 0x01
	b, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(b); err != nil || back != h {
		t.Fatalf("round trip: %x, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("zz")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short hash: %v", err)
	}
}

func FuzzCursors(f *testing.F) {
	f.Add("12 asset/0f8fad5b")
	f.Add("1730000000000000 0f8fad5b-d9cb-469f-a165-70867728950e 7")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		if rev, key, err := ParseRevCursor(c); err == nil {
			if c != "" {
				r2, k2, err := ParseRevCursor(RevCursor(rev, key))
				if err != nil || r2 != rev || k2 != key {
					t.Fatalf("rev cursor %q: (%d, %q) re-parses to (%d, %q), %v", c, rev, key, r2, k2, err)
				}
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("rev cursor error %v is not ErrInvalid", err)
		}
		if at, dev, seq, err := ParsePlayCursor(c); err == nil {
			back := PlayCursor(PlayEvent{StartedAt: at, DeviceID: dev, Seq: seq})
			if _, _, _, err := ParsePlayCursor(back); err != nil {
				t.Fatalf("play cursor %q re-encodes to unparsable %q", c, back)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("play cursor error %v is not ErrInvalid", err)
		}
	})
}
