package schedule

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Config sets up a Selector for one zone. Build it with DefaultConfig; NewSelector validates it.
type Config struct {
	// Store gives the time zone in which day-parts and fixed times are read, and the store id for schedule scope.
	Store StoreSettings
	// Zone is the id of the sound zone this selector chooses for; schedules scoped to other zones are ignored.
	Zone string
	// Rand drives the emergency pick, so that a run is reproducible from its seed. Required.
	Rand rand.Source
	// FixedWindow is how long after its time a fixed-time spot may still be inserted, at the first track boundary.
	// Bounds: 1 minute .. 2 hours.
	FixedWindow time.Duration
	// ArtistLookahead bounds how many eligible same-artist candidates are passed over looking for another artist,
	// so a one-artist playlist costs O(ArtistLookahead log) per call rather than a walk of the whole playlist.
	// Bounds: 1 .. 100,000.
	ArtistLookahead int
	// EmergencyTries is how many random draws the emergency pick makes before it counts the eligible emergency
	// assets (a linear pass, only on that fallback). Bounds: 1 .. 1,000.
	EmergencyTries int
	// NoBuiltin: the binary has no built-in jingle, so the last level is silence.
	NoBuiltin bool
	// BuiltinLength and SilenceLength are how long Plan assumes the built-in jingle and a silence last before the
	// next choice. Bounds: 1 second .. 1 hour.
	BuiltinLength, SilenceLength time.Duration
	// MinPlayLength is the shortest step Plan takes, for assets with no known duration. Bounds: 1 s .. 1 hour.
	MinPlayLength time.Duration
	// PlanSeed seeds the random source of Plan's private copy, so that a preview is stable.
	PlanSeed uint64
	// MaxPlanEntries bounds Plan's output. Bounds: 1 .. 10,000,000.
	MaxPlanEntries int
}

// DefaultConfig returns the contract's values for a zone; the caller sets Store, Zone and Rand.
func DefaultConfig() Config {
	return Config{
		FixedWindow:     15 * time.Minute,
		ArtistLookahead: 64,
		EmergencyTries:  32,
		BuiltinLength:   30 * time.Second,
		SilenceLength:   30 * time.Second,
		MinPlayLength:   time.Second,
		PlanSeed:        1,
		MaxPlanEntries:  100_000,
	}
}

func (c *Config) validate() (*time.Location, error) {
	d := DefaultConfig()
	fill := func(v *time.Duration, def, lo, hi time.Duration, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("schedule: %s %v outside %v..%v", name, *v, lo, hi)
		}
		return nil
	}
	fillN := func(v *int, def, lo, hi int, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("schedule: %s %d outside %d..%d", name, *v, lo, hi)
		}
		return nil
	}
	if err := errors.Join(
		fill(&c.FixedWindow, d.FixedWindow, time.Minute, 2*time.Hour, "FixedWindow"),
		fill(&c.BuiltinLength, d.BuiltinLength, time.Second, time.Hour, "BuiltinLength"),
		fill(&c.SilenceLength, d.SilenceLength, time.Second, time.Hour, "SilenceLength"),
		fill(&c.MinPlayLength, d.MinPlayLength, time.Second, time.Hour, "MinPlayLength"),
		fillN(&c.ArtistLookahead, d.ArtistLookahead, 1, 100_000, "ArtistLookahead"),
		fillN(&c.EmergencyTries, d.EmergencyTries, 1, 1000, "EmergencyTries"),
		fillN(&c.MaxPlanEntries, d.MaxPlanEntries, 1, 10_000_000, "MaxPlanEntries"),
	); err != nil {
		return nil, err
	}
	if c.Rand == nil {
		return nil, errors.New("schedule: Config.Rand is required (the emergency pick must be reproducible)")
	}
	if c.Store.TimeZone == "" {
		return nil, errors.New("schedule: store time zone is required")
	}
	loc, err := time.LoadLocation(c.Store.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("schedule: store time zone: %w", err)
	}
	return loc, nil
}

// Asset states in the selector's index.
const (
	stAbsent  uint8 = iota // blob not present: in no heap
	stActive               // blob present: in every heap of its playlists
	stFuture               // blob present, ValidFrom after Lo: parked in the from-heap until Lo reaches it
	stExpired              // blob present, cannot fit its window again unless Lo goes back: parked
)

type rec struct {
	a        Asset
	fromSec  int64 // ValidFrom in whole seconds; MinInt64 when open
	untilSec int64 // the last whole second at which a play may start: ValidUntil - PlayLength; MaxInt64 when open
	rank     uint64
	lastAt   time.Time
	gen      uint32 // bumped whenever the asset leaves its heaps, so parked entries can be recognised as stale
	emerg    int32  // index in Selector.emerg, -1 when not there
	state    uint8
	live     bool
}

type ref struct{ pl, m int32 }

type plist struct {
	p       Playlist // AssetIDs deduplicated
	members []int32  // slot per member position; -1 while the asset is unknown
	heap    lruHeap
}

type compiled struct {
	s              Schedule
	spec           int // scope specificity: zone 2, store 1, tenant 0
	fromDay, toDay int64
	days           uint8 // weekday mask, bit w for time.Weekday w
}

func (c *compiled) activeAt(lt local) bool {
	day := lt.day
	switch {
	case c.s.Start == c.s.End:
	case c.s.Start < c.s.End:
		if lt.minute < int(c.s.Start) || lt.minute >= int(c.s.End) {
			return false
		}
	default: // crosses midnight: the part after midnight belongs to the day before
		if lt.minute < int(c.s.End) {
			day--
		} else if lt.minute < int(c.s.Start) {
			return false
		}
	}
	return day >= c.fromDay && day <= c.toDay && c.days&(1<<weekdayOf(day)) != 0
}

// zoneHistory is the play history of the zone; History exports it.
type zoneHistory struct {
	lastArtist      string
	tracksSinceSpot int
	lastSpotAt      time.Time
	fixedDone       []FixedMark
}

// Selector chooses the next track of one zone. See the package documentation for its contract.
type Selector struct {
	cfg Config
	loc *time.Location
	rnd *rand.Rand

	recs     []rec
	free     []int32
	byID     map[string]int32
	bySHA    map[string][]int32
	present  map[string]struct{}
	memberOf map[string][]ref // asset id -> its positions in playlists, known asset or not
	pls      []*plist
	plFree   []int32
	plByID   map[string]int32
	scheds   []compiled // the schedules in this zone's scope, in resolution order
	allSched map[string]Schedule
	emerg    []int32
	future   fromHeap
	expired  []fromEnt
	parkLo   int64 // the Lo under which assets were last parked as expired
	rankSeq  uint64
	pending  map[string]PlayMark // history of assets not known yet, with their rank in Rank
	h        zoneHistory

	w        walker
	park     []int32
	instants map[int64]time.Time // see instant
	visits   int                 // candidates looked at by the last Next, for the test that bounds the work
}

// NewSelector builds an empty selector for one zone.
func NewSelector(cfg Config) (*Selector, error) {
	loc, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Selector{
		cfg: cfg, loc: loc, rnd: rand.New(cfg.Rand),
		byID: map[string]int32{}, bySHA: map[string][]int32{}, present: map[string]struct{}{},
		memberOf: map[string][]ref{}, plByID: map[string]int32{}, allSched: map[string]Schedule{},
		pending: map[string]PlayMark{}, parkLo: math.MinInt64,
	}, nil
}

// Location is the store's time zone.
func (s *Selector) Location() *time.Location { return s.loc }

func secsOr(t time.Time, open int64) int64 {
	if t.IsZero() {
		return open
	}
	return t.Unix()
}

// UpsertAsset adds an asset or replaces the one with its id. A malformed asset is rejected and changes nothing.
func (s *Selector) UpsertAsset(a Asset) error {
	if err := a.validate(); err != nil {
		return err
	}
	sl, ok := s.byID[a.ID]
	if ok {
		r := &s.recs[sl]
		s.detach(sl)
		s.unindexSHA(sl, r.a.SHA256)
		if r.a.EmergencyEligible && !a.EmergencyEligible {
			s.emergRemove(sl)
		}
	} else {
		if n := len(s.free); n > 0 {
			sl = s.free[n-1]
			s.free = s.free[:n-1]
		} else {
			s.recs = append(s.recs, rec{})
			sl = int32(len(s.recs) - 1)
		}
		gen := s.recs[sl].gen
		s.recs[sl] = rec{gen: gen, emerg: -1, live: true}
		s.byID[a.ID] = sl
		for _, rf := range s.memberOf[a.ID] {
			s.pls[rf.pl].members[rf.m] = sl
		}
		if pm, ok := s.pending[a.ID]; ok {
			s.recs[sl].rank, s.recs[sl].lastAt = pm.rank, pm.At
			delete(s.pending, a.ID)
		}
	}
	r := &s.recs[sl]
	r.a = a
	r.fromSec = secsOr(a.ValidFrom, math.MinInt64)
	r.untilSec = math.MaxInt64
	if !a.ValidUntil.IsZero() {
		r.untilSec = a.ValidUntil.Add(-a.PlayLength()).Unix()
	}
	s.bySHA[a.SHA256] = append(s.bySHA[a.SHA256], sl)
	if a.EmergencyEligible && r.emerg < 0 {
		r.emerg = int32(len(s.emerg))
		s.emerg = append(s.emerg, sl)
	}
	s.attach(sl)
	return nil
}

// RemoveAsset forgets an asset and its play history; unknown ids are ignored.
func (s *Selector) RemoveAsset(id string) {
	sl, ok := s.byID[id]
	if !ok {
		return
	}
	r := &s.recs[sl]
	s.detach(sl)
	s.unindexSHA(sl, r.a.SHA256)
	s.emergRemove(sl)
	for _, rf := range s.memberOf[id] {
		s.pls[rf.pl].members[rf.m] = -1
	}
	delete(s.byID, id)
	gen := r.gen
	*r = rec{gen: gen, emerg: -1}
	s.free = append(s.free, sl)
}

func (s *Selector) unindexSHA(sl int32, sha string) {
	l := s.bySHA[sha]
	if i := slices.Index(l, sl); i >= 0 {
		l = slices.Delete(l, i, i+1)
	}
	if len(l) == 0 {
		delete(s.bySHA, sha)
	} else {
		s.bySHA[sha] = l
	}
}

func (s *Selector) emergRemove(sl int32) {
	i := s.recs[sl].emerg
	if i < 0 {
		return
	}
	last := int32(len(s.emerg) - 1)
	if i != last {
		moved := s.emerg[last]
		s.emerg[i] = moved
		s.recs[moved].emerg = i
	}
	s.emerg = s.emerg[:last]
	s.recs[sl].emerg = -1
}

// SetPresent records whether the blob with this sha256 is present and verified in the cache. It may be called
// before the assets that use the blob are known.
func (s *Selector) SetPresent(sha256 string, present bool) {
	if present {
		s.present[sha256] = struct{}{}
	} else {
		delete(s.present, sha256)
	}
	for _, sl := range s.bySHA[sha256] {
		if present {
			if s.recs[sl].state == stAbsent {
				s.attach(sl)
			}
		} else {
			s.detach(sl)
		}
	}
}

// attach puts an asset whose blob is present into its playlists' heaps; whether its window admits it is checked
// when a walk reaches it.
func (s *Selector) attach(sl int32) {
	r := &s.recs[sl]
	if _, ok := s.present[r.a.SHA256]; !ok {
		r.state = stAbsent
		return
	}
	r.state = stActive
	for _, rf := range s.memberOf[r.a.ID] {
		s.pls[rf.pl].heap.push(rf.m, r.rank)
	}
}

// detach takes an asset out of every heap and invalidates its parked entries.
func (s *Selector) detach(sl int32) {
	r := &s.recs[sl]
	if r.state == stActive {
		for _, rf := range s.memberOf[r.a.ID] {
			s.pls[rf.pl].heap.remove(rf.m)
		}
	}
	r.state = stAbsent
	r.gen++
}

func (s *Selector) parkAs(sl int32, st uint8, lo int64) {
	s.detach(sl)
	r := &s.recs[sl]
	r.state = st
	e := fromEnt{from: r.fromSec, s: sl, gen: r.gen}
	if st == stFuture {
		s.future.push(e)
	} else {
		s.expired = append(s.expired, e)
		s.parkLo = max(s.parkLo, lo)
	}
}

// advance brings parked assets back when Lo has reached their ValidFrom, or when Lo went back below the value under
// which others were found expired (trustedtime never does that, but a caller's Plan from an earlier instant does).
func (s *Selector) advance(lo int64) {
	if lo < s.parkLo {
		for _, e := range s.expired {
			if r := &s.recs[e.s]; r.gen == e.gen && r.state == stExpired {
				s.attach(e.s)
			}
		}
		s.expired = s.expired[:0]
		s.parkLo = math.MinInt64
	}
	for len(s.future) > 0 && s.future[0].from <= lo {
		e := s.future.pop()
		if r := &s.recs[e.s]; r.gen == e.gen && r.state == stFuture {
			s.attach(e.s)
		}
	}
}

// UpsertPlaylist adds a playlist or replaces the one with its id.
func (s *Selector) UpsertPlaylist(p Playlist) error {
	if p.ID == "" {
		return errors.New("schedule: playlist without id")
	}
	if len(p.AssetIDs) > MaxPlaylistLen {
		return fmt.Errorf("schedule: playlist %s: %d assets, at most %d", p.ID, len(p.AssetIDs), MaxPlaylistLen)
	}
	seen := make(map[string]struct{}, len(p.AssetIDs))
	ids := make([]string, 0, len(p.AssetIDs))
	for _, id := range p.AssetIDs {
		if id == "" {
			return fmt.Errorf("schedule: playlist %s: empty asset id", p.ID)
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	p.AssetIDs = ids
	idx, ok := s.plByID[p.ID]
	if ok {
		s.dropRefs(idx)
	} else if n := len(s.plFree); n > 0 {
		idx = s.plFree[n-1]
		s.plFree = s.plFree[:n-1]
	} else {
		s.pls = append(s.pls, nil)
		idx = int32(len(s.pls) - 1)
	}
	pl := &plist{p: p, members: make([]int32, len(ids)), heap: newLRUHeap(len(ids))}
	s.pls[idx] = pl
	s.plByID[p.ID] = idx
	for m, id := range ids {
		s.memberOf[id] = append(s.memberOf[id], ref{pl: idx, m: int32(m)})
		sl, ok := s.byID[id]
		if !ok {
			pl.members[m] = -1
			continue
		}
		pl.members[m] = sl
		if s.recs[sl].state == stActive {
			pl.heap.push(int32(m), s.recs[sl].rank)
		}
	}
	return nil
}

// RemovePlaylist forgets a playlist; unknown ids are ignored.
func (s *Selector) RemovePlaylist(id string) {
	idx, ok := s.plByID[id]
	if !ok {
		return
	}
	s.dropRefs(idx)
	s.pls[idx] = nil
	delete(s.plByID, id)
	s.plFree = append(s.plFree, idx)
}

func (s *Selector) dropRefs(idx int32) {
	for _, id := range s.pls[idx].p.AssetIDs {
		l := slices.DeleteFunc(s.memberOf[id], func(r ref) bool { return r.pl == idx })
		if len(l) == 0 {
			delete(s.memberOf, id)
		} else {
			s.memberOf[id] = l
		}
	}
}

// UpsertSchedule adds a schedule or replaces the one with its id. Schedules scoped to another store or zone are kept
// (so that a later removal finds them) but never resolve.
func (s *Selector) UpsertSchedule(sc Schedule) error {
	if err := sc.validate(); err != nil {
		return err
	}
	// Copy the slices: the caller may reuse its record.
	sc.Weekdays = slices.Clone(sc.Weekdays)
	sc.Spots = slices.Clone(sc.Spots)
	for i := range sc.Spots {
		sc.Spots[i].At = slices.Clone(sc.Spots[i].At)
	}
	s.allSched[sc.ID] = sc
	s.compile()
	return nil
}

// RemoveSchedule forgets a schedule; unknown ids are ignored.
func (s *Selector) RemoveSchedule(id string) {
	if _, ok := s.allSched[id]; ok {
		delete(s.allSched, id)
		s.compile()
	}
}

func (s *Selector) compile() {
	s.scheds = s.scheds[:0]
	for _, sc := range s.allSched {
		c := compiled{s: sc, fromDay: math.MinInt64, toDay: math.MaxInt64, days: 0x7f}
		switch {
		case sc.Store == "":
		case sc.Store != s.cfg.Store.StoreID:
			continue
		case sc.Zone == "":
			c.spec = 1
		case sc.Zone != s.cfg.Zone:
			continue
		default:
			c.spec = 2
		}
		if !sc.DateFrom.IsZero() {
			c.fromDay = dayNumber(sc.DateFrom)
		}
		if !sc.DateTo.IsZero() {
			c.toDay = dayNumber(sc.DateTo)
		}
		if len(sc.Weekdays) > 0 {
			c.days = 0
			for _, w := range sc.Weekdays {
				c.days |= 1 << w
			}
		}
		s.scheds = append(s.scheds, c)
	}
	slices.SortFunc(s.scheds, func(a, b compiled) int {
		switch {
		case a.s.Priority != b.s.Priority:
			return cmp.Compare(b.s.Priority, a.s.Priority)
		case a.spec != b.spec:
			return cmp.Compare(b.spec, a.spec)
		}
		return cmp.Compare(a.s.ID, b.s.ID)
	})
}

// ScheduledPlaylists returns the ids of the playlists the zone's schedules name (each schedule's playlist and its
// spot rules'), sorted, each once: with the emergency-eligible assets, the only assets Next can choose from. A
// caller that loads a catalog piecemeal (the director's panel preview) loads these playlists' assets.
func (s *Selector) ScheduledPlaylists() []string {
	var out []string
	for i := range s.scheds {
		out = append(out, s.scheds[i].s.PlaylistID)
		for _, sp := range s.scheds[i].s.Spots {
			out = append(out, sp.PlaylistID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Active returns the schedule that resolves at instant t (the schedule "now"), or false when none does.
func (s *Selector) Active(t time.Time) (Schedule, bool) {
	if c := s.resolve(toLocal(t, s.loc)); c != nil {
		return c.s, true
	}
	return Schedule{}, false
}

func (s *Selector) resolve(lt local) *compiled {
	for i := range s.scheds {
		if s.scheds[i].activeAt(lt) {
			return &s.scheds[i]
		}
	}
	return nil
}
