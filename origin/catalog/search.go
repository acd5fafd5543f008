package catalog

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Library search (ListOptions.Query).
const (
	// MaxQueryLen bounds a search text, in bytes.
	MaxQueryLen = 200
	// MaxSearchScan bounds the assets a backend without a text index examines in one ListAssets call: the
	// embedded catalog reads rows in id order and stops there, returning a short page whose Next continues the
	// scan, so one call costs at most this many row reads however rare the matches are.
	MaxSearchScan = 20000
)

// FoldSearch is the form both the query and the searched text are compared in: lower case, with accents and
// other combining marks removed ("São Paulo" and "sao paulo" match). PostgreSQL's catalog does the same with
// lower(unaccent(...)), which also folds a few letters this does not (æ, ø, ß); both agree on the accented
// letters of Portuguese, Spanish, French and German.
func FoldSearch(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// SearchText is the text a query is looked for in: title, artist and ISRC joined by spaces, folded.
func SearchText(title, artist, isrc string) string {
	return FoldSearch(title + " " + artist + " " + isrc)
}

// MaxAssetIDs bounds the ids of one GetAssets call: 100 UUIDs are 3.7 KB, which still fits a URL.
const MaxAssetIDs = 100

// CheckAssetIDs validates the ids of one GetAssets call: at most MaxAssetIDs, each a UUID.
func CheckAssetIDs(ids []string) error {
	if len(ids) > MaxAssetIDs {
		return fmt.Errorf("%w: %d asset ids, at most %d", ErrInvalid, len(ids), MaxAssetIDs)
	}
	for _, id := range ids {
		if !ValidID(id) {
			return fmt.Errorf("%w: asset id %q", ErrInvalid, id)
		}
	}
	return nil
}

// CheckQuery validates a search text.
func CheckQuery(q string) error { return checkText("search query", q, MaxQueryLen, false) }
