package crdt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Catalog is the map of origin-signed records, keyed by Key. Merge keeps the winning record per key (recordWins);
// deletions are tombstones. Beside the records it tracks:
//   - the watermark W: the catalog is complete through revision W, meaning it holds the current version of every
//     key whose current version (at origin, now) has a revision <= W. Keys only ever move to higher revisions, so
//     the claim stays true as origin moves on. W rises when origin sends every change since a revision at or below
//     W, or when a peer complete through a higher W sends every record above ours (a covering delta). A record of
//     revision <= W for a key not held here is therefore outdated (its key moved on, or was deleted); when its
//     deletion may have been forgotten (revision <= H) it is ignored as stale.
//   - the horizon H: the highest revision up to which this replica may have forgotten deletions (a pruned
//     tombstone, or an origin full resync, which lists live records only). A peer whose watermark is below H may
//     still hold what was deleted, so it gets a reset (the fingerprints of every key held here) and drops its
//     records of revision <= H whose key is not among them (see CatalogDelta).
//
// The zero Catalog is not usable; it lives inside a State.
type Catalog struct {
	recs       map[string]Record
	byRev      revIndex
	hash       StateHash
	watermark  uint64
	horizon    uint64
	tombstones int
}

func newCatalog() *Catalog { return &Catalog{recs: make(map[string]Record)} }

// Get returns the record held for key, tombstone or not.
func (c *Catalog) Get(key string) (Record, bool) { r, ok := c.recs[key]; return r, ok }

// Len returns the number of records held, tombstones included.
func (c *Catalog) Len() int { return len(c.recs) }

// Tombstones returns the number of tombstones held.
func (c *Catalog) Tombstones() int { return c.tombstones }

// Watermark returns the revision through which the catalog is complete.
func (c *Catalog) Watermark() uint64 { return c.watermark }

// Horizon returns the highest revision of a forgotten deletion.
func (c *Catalog) Horizon() uint64 { return c.horizon }

// StateHash returns the StateHash over the live (non-tombstone) records.
func (c *Catalog) StateHash() StateHash { return c.hash }

// Records returns every record held (tombstones too) whose key starts with prefix ("" for all, "asset/" for one
// kind), sorted by key. The records share their byte slices with the catalog: read-only.
func (c *Catalog) Records(prefix string) []Record {
	out := make([]Record, 0)
	for k, r := range c.recs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// KeyRev names one version of a record.
type KeyRev struct {
	Key string
	Rev uint64
}

// CatalogSummary says what a replica's catalog holds: complete through Watermark, plus the records above it
// (Extras, sorted by key; at most Config.MaxSummaryExtras of them, Truncated when there were more).

type CatalogSummary struct {
	Watermark uint64
	// Horizon is the replica's horizon: it holds no record deleted at or below it, so it needs no reset up to there.
	Horizon   uint64
	Extras    []KeyRev
	Truncated bool
}

// CatalogDelta carries records and, optionally, two claims about them:
//   - coverage: when To > From, the delta holds every record of the sender with a revision in (From, To] except
//     those listed in Held, and the sender is complete through To; a receiver complete through From or more, and
//     holding the Held records, becomes complete through To. The claim checks itself, so a delta made for one
//     replica's summary may be given to any other.
//   - reset: Horizon is the sender's horizon. When Reset (sent only by a sender complete through its horizon,
//     applied only when Complete >= Horizon), Survivors holds the sorted fingerprints (keyFingerprint) of every
//     key the sender holds; the receiver drops its records of revision <= Horizon whose key is not a
//     survivor (deleted, or outdated by a newer version above Horizon), and adopts Horizon. A receiver that has
//     not done so (its own horizon and watermark below Horizon) ignores the coverage claim: the sender cannot
//     vouch for deletions it forgot. It stays behind the sender's horizon and gets the reset again: a delta split
//     into parts cannot lose the reset and keep the claim.
//
// Records are sorted by (Rev, Key), unique by key.
type CatalogDelta struct {
	From, To uint64
	// Complete is the sender's watermark (0 when unknown, as in Changes.Fresh). A receiver takes a record of
	// revision <= its own horizon for a key it does not hold only from a sender complete through that horizon:
	// a peer behind it may be offering a record whose deletion the receiver has forgotten.
	Complete  uint64
	Reset     bool
	Horizon   uint64
	Survivors []uint64
	Records   []Record
	// Held lists the records left out because the summary said the receiver holds them (key, and the sender's
	// revision), sorted by key: the coverage claim applies only to a receiver that holds each at that revision or
	// newer. It makes the claim safe for any receiver, not only the summary's owner.
	Held []KeyRev
}

func (d *CatalogDelta) empty() bool { return len(d.Records) == 0 && d.To <= d.From && !d.Reset }

// keyFingerprint is 64 bits of sha256 of the key: enough to tell a store's keys apart (a collision only keeps a
// deleted record alive until the next origin sync), and an eighth of the key's size on the wire.
func keyFingerprint(key string) uint64 {
	s := sha256.Sum256([]byte("lomuz/key/v1" + key))
	return binary.BigEndian.Uint64(s[:8])
}

func compareRecordOrder(a, b Record) int {
	if a.Rev != b.Rev {
		if a.Rev < b.Rev {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Key, b.Key)
}

// summary builds the catalog part of a Summary.
func (c *Catalog) summary(maxExtras int) CatalogSummary {
	s := CatalogSummary{Watermark: c.watermark, Horizon: c.horizon}
	c.byRev.above(c, c.watermark, func(r Record) bool {
		if len(s.Extras) == maxExtras {
			s.Truncated = true // the lowest revisions are listed
			return false
		}
		s.Extras = append(s.Extras, KeyRev{Key: r.Key, Rev: r.Rev})
		return true
	})
	slices.SortFunc(s.Extras, func(a, b KeyRev) int { return strings.Compare(a.Key, b.Key) })
	return s
}

// revIndex lists (rev, key) of the records in revision order, so that "every record above revision R" costs what
// it returns, not the catalog's size. Entries whose record has since moved on are skipped and, once they are
// half the index, swept. Sorting is lazy: records mostly arrive in revision order, and pdqsort is near linear on
// nearly sorted input.
type revIndex struct {
	list   []KeyRev
	sorted bool
	stale  int
}

func (x *revIndex) add(r Record) {
	if n := len(x.list); n > 0 && x.sorted {
		last := x.list[n-1]
		x.sorted = last.Rev < r.Rev || last.Rev == r.Rev && last.Key < r.Key
	}
	if len(x.list) == 0 {
		x.sorted = true
	}
	x.list = append(x.list, KeyRev{Key: r.Key, Rev: r.Rev})
}

// above calls fn, in (rev, key) order, for each record above rev until fn returns false.
func (x *revIndex) above(c *Catalog, rev uint64, fn func(Record) bool) {
	if x.stale > len(x.list)/2 {
		live := x.list[:0]
		seen := make(map[KeyRev]struct{}, len(c.recs))
		for _, kr := range x.list {
			if _, dup := seen[kr]; dup {
				continue
			}
			if r, ok := c.recs[kr.Key]; ok && r.Rev == kr.Rev {
				live = append(live, kr)
				seen[kr] = struct{}{}
			}
		}
		clear(x.list[len(live):])
		x.list, x.stale = live, 0
	}
	if !x.sorted {
		slices.SortFunc(x.list, func(a, b KeyRev) int {
			if c := cmpU64(a.Rev, b.Rev); c != 0 {
				return c
			}
			return strings.Compare(a.Key, b.Key)
		})
		x.sorted = true
	}
	i, _ := slices.BinarySearchFunc(x.list, rev+1, func(kr KeyRev, t uint64) int { return cmpU64(kr.Rev, t) })
	var prev KeyRev
	for _, kr := range x.list[i:] {
		if kr == prev {
			continue // a record dropped and merged again at the same revision: listed twice, adjacent
		}
		prev = kr
		if r, ok := c.recs[kr.Key]; ok && r.Rev == kr.Rev {
			if !fn(r) {
				return
			}
		}
	}
}

// deltaFor returns what a replica with summary s lacks: every record above its watermark that it does not hold at
// that revision or newer, a coverage claim up to our watermark, and a reset when it is behind our horizon.
func (c *Catalog) deltaFor(s CatalogSummary) CatalogDelta {
	d := CatalogDelta{Complete: c.watermark}
	has := make(map[string]uint64, len(s.Extras))
	for _, e := range s.Extras {
		has[e.Key] = e.Rev
	}
	c.byRev.above(c, s.Watermark, func(r Record) bool {
		if rev, ok := has[r.Key]; ok && rev >= r.Rev {
			d.Held = append(d.Held, KeyRev{Key: r.Key, Rev: r.Rev})
		} else {
			d.Records = append(d.Records, r)
		}
		return true
	})
	slices.SortFunc(d.Held, func(a, b KeyRev) int { return strings.Compare(a.Key, b.Key) })
	if c.watermark > s.Watermark {
		d.From, d.To, d.Horizon = s.Watermark, c.watermark, c.horizon
	}
	// Only a replica complete through its horizon knows every key that survives it.
	if c.horizon > s.Watermark && c.horizon > s.Horizon && c.watermark >= c.horizon {
		d.Reset, d.Horizon = true, c.horizon
		d.Survivors = make([]uint64, 0, len(c.recs))
		for k := range c.recs {
			d.Survivors = append(d.Survivors, keyFingerprint(k))
		}
		slices.Sort(d.Survivors)
		d.Survivors = slices.Compact(d.Survivors)
	}
	return d
}

// catalogResult collects what a merge changed.
type catalogResult struct {
	entered  []Record // records that entered (new key or a winning version)
	rejected int      // failed verification or another tenant's
	stale    int      // at or below the watermark for a key not held
	removed  int      // dropped by a reset or a full resync
}

// put merges one verified record; it reports whether the record entered. complete is the sender's watermark;
// fromOrigin skips the staleness check: origin only ever sends current versions.
func (c *Catalog) put(r Record, complete uint64, fromOrigin bool, res *catalogResult) bool {
	old, ok := c.recs[r.Key]
	if !ok && !fromOrigin {
		// At or below the horizon a record for a key not held may be one whose deletion was forgotten: refuse it
		// when this replica is complete past it (the key moved on, or was deleted), or when the sender may not
		// know of the deletion. Above the horizon an outdated record is harmless: the current version is above
		// the watermark and will replace it, so merge stays a plain join.
		if r.Rev <= c.horizon && (r.Rev <= c.watermark || complete < c.horizon) {
			res.stale++
			return false
		}
	} else if !recordWins(r, old) {
		return false
	}
	if ok {
		c.drop(old)
	}
	if !ok || old.Rev != r.Rev { // at equal revision the index entry still names the key
		c.byRev.add(r)
	}
	c.recs[r.Key] = r
	if r.Deleted {
		c.tombstones++
	} else {
		c.hash.Add(r.Key, r.Rev)
	}
	res.entered = append(res.entered, r)
	return true
}

// drop removes a held record from the map and the counters.
func (c *Catalog) drop(r Record) {
	delete(c.recs, r.Key)
	c.byRev.stale++
	if r.Deleted {
		c.tombstones--
	} else {
		c.hash.Remove(r.Key, r.Rev)
	}
}

func (c *Catalog) merge(d *CatalogDelta, tenant string, verify Verifier, res *catalogResult) {
	if d.Reset && d.Complete >= d.Horizon {
		keep := make(map[uint64]struct{}, len(d.Survivors))
		for _, f := range d.Survivors {
			keep[f] = struct{}{}
		}
		for k, r := range c.recs {
			if r.Rev > d.Horizon {
				continue
			}
			if _, ok := keep[keyFingerprint(k)]; !ok {
				c.drop(r)
				res.removed++
			}
		}
		c.horizon = max(c.horizon, d.Horizon)
	}
	rejected, stale := 0, res.stale
	for _, r := range d.Records {
		if held, ok := c.recs[r.Key]; ok && sameRecord(held, r) {
			// Byte for byte the record this replica verified when it entered: anti-entropy resends whole states,
			// and checking the same signature again would dominate a merge.
			c.put(r, d.Complete, false, res)
			continue
		}
		if r.Tenant != tenant || verify == nil || !verify(r) {
			rejected++
			continue
		}
		c.put(r, d.Complete, false, res)
	}
	res.rejected += rejected
	stale = res.stale - stale
	// A covering delta with a rejected record does not cover: the genuine record may be missing.
	// The sender forgot deletions up to its horizon: its claim covers us only once its reset has (our horizon is
	// as high), or when we are already past its horizon. Otherwise stay where the reset will be sent again.
	behindReset := d.Horizon > c.horizon && d.Horizon > c.watermark
	if rejected == 0 && stale == 0 && d.To > d.From && d.From <= c.watermark && !behindReset && c.holds(d.Held) {
		c.watermark = max(c.watermark, d.To)
	}
}

// holds reports whether every listed record is held here at its revision or newer.
func (c *Catalog) holds(krs []KeyRev) bool {
	for _, kr := range krs {
		if r, ok := c.recs[kr.Key]; !ok || r.Rev < kr.Rev {
			return false
		}
	}
	return true
}

// OriginUpdate is what origin's sync answer says about the catalog: Records are every change in (From, To], or,
// when Full, the complete set of live records at revision To (tombstones optional).
type OriginUpdate struct {
	From, To uint64
	Full     bool
	Records  []Record
}

func (c *Catalog) applyOrigin(u *OriginUpdate, tenant string, verify Verifier, res *catalogResult) error {
	if u.To < u.From {
		return fmt.Errorf("crdt: origin update from revision %d to %d: goes backwards", u.From, u.To)
	}
	// Everything is checked before anything changes: origin's answer is applied whole or not at all.
	for _, r := range u.Records {
		if err := r.Validate(); err != nil {
			return err
		}
		if r.Rev > u.To || (!u.Full && r.Rev <= u.From) {
			return fmt.Errorf("crdt: origin update (%d, %d]: record %s has revision %d", u.From, u.To, r.Key, r.Rev)
		}
		if r.Tenant != tenant {
			return fmt.Errorf("crdt: origin update: record %s of tenant %q in tenant %q's state", r.Key, clip(r.Tenant), tenant)
		}
		if verify == nil || !verify(r) {
			return fmt.Errorf("crdt: origin update: record %s revision %d: signature does not verify", r.Key, r.Rev)
		}
	}
	if u.Full {
		sent := make(map[string]struct{}, len(u.Records))
		for _, r := range u.Records {
			sent[r.Key] = struct{}{}
		}
		for k, r := range c.recs {
			if _, ok := sent[k]; !ok && r.Rev <= u.To {
				c.drop(r)
				res.removed++
			}
		}
		// A full answer lists live records: the deletions up to To are not known here, so a peer behind To may
		// hold records this replica cannot tell it to drop except by a reset.
		c.horizon = max(c.horizon, u.To)
	}
	for _, r := range u.Records {
		c.put(r, 0, true, res)
	}
	if (u.Full || u.From <= c.watermark) && u.To > c.watermark {
		c.watermark = u.To
	}
	return nil
}

// prune forgets tombstones of revision <= upTo (and never above the watermark: a tombstone above it may still be
// needed to know that the record is not merely missing). It returns how many it forgot.
func (c *Catalog) prune(upTo uint64) int {
	upTo = min(upTo, c.watermark)
	n := 0
	for _, r := range c.recs {
		if r.Deleted && r.Rev <= upTo {
			c.drop(r)
			n++
			if r.Rev > c.horizon {
				c.horizon = r.Rev
			}
		}
	}
	return n
}

// sameRecord reports whether a and b are the same version with the same bytes and signature.
func sameRecord(a, b Record) bool {
	return a.Key == b.Key && a.Tenant == b.Tenant && a.Rev == b.Rev && a.Deleted == b.Deleted &&
		bytes.Equal(a.Body, b.Body) && bytes.Equal(a.Sig, b.Sig)
}
