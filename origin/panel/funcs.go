package panel

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// funcs are the template helpers. Every user-visible word goes through t or tf (the message catalogs).
var funcs = template.FuncMap{
	"t":  msg,
	"tf": func(lang, key string, args ...any) string { return fmt.Sprintf(msg(lang, key), args...) },
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return "—"
	},
	"local": func(t time.Time) string { return t.Format("Mon 2006-01-02 15:04:05 MST") },
	"ms": func(ms int64) string {
		if ms <= 0 {
			return "—"
		}
		d := time.Duration(ms) * time.Millisecond
		return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	},
	"dur": func(d time.Duration) string {
		if d >= time.Hour {
			return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
		}
		return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	},
	"bytes": humanBytes,
	"lufs": func(v float64) string {
		if v == 0 {
			return "—"
		}
		return strconv.FormatFloat(v, 'f', 1, 64) + " LUFS"
	},
	// query "k1" v1 "k2" v2 ... -> "k1=v1&k2=v2", empty values dropped. It is typed as a URL so html/template
	// keeps its = and & (the values are escaped here).
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(q.Encode())
	},
	"add":     func(a, b int) int { return a + b },
	"has":     func(list []string, v string) bool { return contains(list, v) },
	"hasInt":  func(list []int, v int) bool { return containsInt(list, v) },
	"join":    strings.Join,
	"days":    func() []int { return []int{1, 2, 3, 4, 5, 6, 0} },
	"hours":   func() []int { return hoursOfDay },
	"dayKey":  func(d int) string { return "day." + strconv.Itoa(d) },
	"itoa":    strconv.Itoa,
	"short":   func(id string) string { return shortID(id) },
	"dtlocal": dtLocal,
}

var hoursOfDay = func() []int {
	h := make([]int, 24)
	for i := range h {
		h[i] = i
	}
	return h
}()

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func containsInt(list []int, v int) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// dtLocal formats a time for an <input type="datetime-local"> (UTC, minutes).
func dtLocal(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(dtLayout)
}

const dtLayout = "2006-01-02T15:04"

// parseDT reads an <input type="datetime-local"> value as UTC; "" is no time.
func parseDT(v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{dtLayout, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("bad time %q", v)
}

// pageOf reads the 1-based page number of a list, bounded so a crafted URL cannot ask for a huge skip.
func pageOf(q url.Values) int {
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 100_000)
}

// pager is the model of the pagination controls.
type pager struct {
	Page       int
	HasPrev    bool
	HasNext    bool
	PrevQuery  template.URL
	NextQuery  template.URL
	FirstQuery template.URL
}

// newPager builds the controls of a page-numbered list; base holds the other query parameters.
func newPager(base url.Values, page int, hasNext bool) pager {
	with := func(n int) template.URL {
		q := url.Values{}
		for k, v := range base {
			if len(v) > 0 && v[0] != "" {
				q.Set(k, v[0])
			}
		}
		q.Set("page", strconv.Itoa(n))
		return template.URL(q.Encode())
	}
	return pager{Page: page, HasPrev: page > 1, HasNext: hasNext, PrevQuery: with(page - 1), NextQuery: with(page + 1),
		FirstQuery: with(1)}
}
