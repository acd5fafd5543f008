package loadgen

import (
	"slices"
	"testing"
	"time"
)

func TestRangesRoundTrip(t *testing.T) {
	seqs := []uint64{9, 1, 2, 3, 7, 5, 6, 10}
	d := DeviceResult{AckedSeqs: ranges(slices.Clone(seqs))}
	want := [][2]uint64{{1, 3}, {5, 7}, {9, 10}}
	if !slices.Equal(d.AckedSeqs, want) {
		t.Fatalf("ranges = %v, want %v", d.AckedSeqs, want)
	}
	slices.Sort(seqs)
	if got := d.AckedIDs(); !slices.Equal(got, seqs) {
		t.Fatalf("AckedIDs = %v, want %v", got, seqs)
	}
	if r := ranges(nil); r == nil || len(r) != 0 {
		t.Fatalf("ranges(nil) = %#v, want an empty list (JSON [])", r)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.N != 100 || p.P50 != 51 || p.P99 != 100 || p.Max != 100 {
		t.Fatalf("percentiles = %+v", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Fatal("percentiles of nothing must be zero")
	}
}
