package schedule

import (
	"time"
	_ "time/tzdata" // day-parts must resolve the same on a device without a system zoneinfo
)

// Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian), so that resolution does not
// build time.Time values on the hot path. Algorithms from H. Hinnant, "chrono-compatible low-level date algorithms".

func daysFromCivil(y int, m time.Month, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (int, time.Month, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func dayNumber(d Date) int64 { return daysFromCivil(d.Year, d.Month, d.Day) }

// weekdayOf gives the weekday of a day number; 1970-01-01 was a Thursday.
func weekdayOf(day int64) time.Weekday {
	w := (day + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// local is an instant read on the store's wall clock.
type local struct {
	day    int64 // day number of the local date
	minute int   // minutes after local midnight, 0..1439
}

func toLocal(t time.Time, loc *time.Location) local {
	lt := t.In(loc)
	y, m, d := lt.Date()
	return local{day: daysFromCivil(y, m, d), minute: lt.Hour()*60 + lt.Minute()}
}

// instantOf returns the first instant at which the store's wall clock reads the given local date and time or later.
// It differs from time.Date, which leaves the choice unspecified: a time repeated when clocks go back gives its
// first occurrence, and a time skipped when they go forward gives the end of the gap.
func instantOf(day int64, minute int, loc *time.Location) time.Time {
	y, m, d := civilFromDays(day)
	naive := time.Date(y, m, d, minute/60, minute%60, 0, 0, time.UTC).Unix() // the wall reading, as if UTC
	// Zone transitions are months apart, so the offsets a day either side are the two that can apply.
	_, offA := time.Unix(naive-86400, 0).In(loc).Zone()
	_, offB := time.Unix(naive+86400, 0).In(loc).Zone()
	best := int64(0)
	found := false
	for _, off := range [2]int{offA, offB} {
		u := naive - int64(off)
		if _, o := time.Unix(u, 0).In(loc).Zone(); o == off && (!found || u < best) {
			best, found = u, true
		}
	}
	if found {
		return time.Unix(best, 0)
	}
	// In a gap (offB > offA): the transition lies in [naive-offB, naive-offA]; find its first second.
	lo, hi := naive-int64(offB), naive-int64(offA)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if _, o := time.Unix(mid, 0).In(loc).Zone(); o == offB {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return time.Unix(lo, 0)
}
