package sim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxScenarioBytes bounds a scenario file: scenarios are short scripts, a larger file is a mistake.
const MaxScenarioBytes = 1 << 20

// Scenario is one simulation script, decoded from YAML. Durations are Go durations ("90s", "2h"); offsets in the
// timeline are from the start of the run. Zero fields take the defaults of DefaultScenario.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Start is the true time at the beginning of the run (UTC, RFC 3339).
	Start time.Time `yaml:"start"`
	// Chaos is how long faults may happen; Heal how long the run goes on after every fault is lifted, within
	// which the store's catalogs must converge (ConvergeWithin) and every play event must reach origin.
	Chaos          time.Duration `yaml:"chaos"`
	Heal           time.Duration `yaml:"heal"`
	ConvergeWithin time.Duration `yaml:"converge_within"`
	Topology       Topology      `yaml:"topology"`
	Content        Content       `yaml:"content"`
	Timeline       []Step        `yaml:"timeline"`
	Swarm          Swarm         `yaml:"swarm"`
}

// Topology is the shape of the chain and its networks.
type Topology struct {
	Stores int `yaml:"stores"`
	// Nodes per store; Zones per store (nodes are spread over zones round-robin).
	Nodes int `yaml:"nodes"`
	Zones int `yaml:"zones"`
	// TimeZone of every store (IANA).
	TimeZone string `yaml:"time_zone"`
	Uplink   Link   `yaml:"uplink"`
	LAN      Link   `yaml:"lan"`
	// AntiEntropy is each node's push/pull period (memberlist's PushPullInterval, 30 s by default).
	AntiEntropy time.Duration `yaml:"anti_entropy"`
	// MemberDetect is how long the membership layer takes to notice a crash or a cut (memberlist's probe cycle
	// and suspicion, a few seconds on a LAN).
	MemberDetect time.Duration `yaml:"member_detect"`
}

// Link is a network path's capacity and quality.
type Link struct {
	// Mbps is the bandwidth in megabits per second, shared by the transfers on the link.
	Mbps float64 `yaml:"mbps"`
	// Latency one way.
	Latency time.Duration `yaml:"latency"`
	// Loss is the probability that one gossip packet is dropped (LAN only), 0..1.
	Loss float64 `yaml:"loss"`
}

// Content is the chain's catalog at the start: one store-wide playlist of music playing all day, a spot
// playlist inserted every SpotEvery tracks, and emergency assets.
type Content struct {
	Music int `yaml:"music"`
	// Track is the length of every asset; SizeKB the size of its delivery rendition.
	Track  time.Duration `yaml:"track"`
	SizeKB int64         `yaml:"size_kb"`
	Spots  int           `yaml:"spots"`
	// SpotEvery inserts a spot every N music tracks (0: no spot rule).
	SpotEvery int `yaml:"spot_every"`
	// SpotUntil, when set, ends the spots' validity window this long after the start: spots expire mid-run.
	SpotUntil time.Duration `yaml:"spot_until"`
	// SpotFrom, when set, opens the spots' window this long after the start.
	SpotFrom  time.Duration `yaml:"spot_from"`
	Emergency int           `yaml:"emergency"`
}

// Step is one timeline entry: at offset At, do Do to the given targets. Do is one of:
// partition (Groups: node indexes per side), heal, crash (Torn: the last snapshot write is torn), restart,
// uplink_down, uplink_up, origin_down, origin_up, origin_5xx (RetryAfter), disk_full, disk_ok,
// clock (Set: "1970" or "+1y"; or DriftPPM), loss (Rate), latency (Latency), bad_bytes, replay (the node gossips
// a state it captured at its first step), undecodable (Asset index of the music), upload (Count new music added to
// the playlist).
type Step struct {
	At         time.Duration `yaml:"at"`
	Do         string        `yaml:"do"`
	Store      int           `yaml:"store"`
	Node       int           `yaml:"node"`
	Groups     [][]int       `yaml:"groups"`
	Torn       bool          `yaml:"torn"`
	RetryAfter time.Duration `yaml:"retry_after"`
	Set        string        `yaml:"set"`
	DriftPPM   float64       `yaml:"drift_ppm"`
	Rate       float64       `yaml:"rate"`
	Latency    time.Duration `yaml:"latency"`
	Asset      int           `yaml:"asset"`
	Count      int           `yaml:"count"`
}

// Swarm draws Faults fault episodes from the seed over the chaos phase, each lasting up to MaxEpisode, of the
// kinds listed (all kinds when empty).
type Swarm struct {
	Faults     int           `yaml:"faults"`
	MaxEpisode time.Duration `yaml:"max_episode"`
	Kinds      []string      `yaml:"kinds"`
}

// SwarmKinds are the fault kinds swarm mode draws from.
var SwarmKinds = []string{"partition", "crash", "uplink", "origin", "origin_5xx", "disk_full", "clock", "loss",
	"bad_bytes", "replay", "upload"}

// DefaultScenario is the base every file overrides.
func DefaultScenario() Scenario {
	return Scenario{
		Name:           "default",
		Start:          time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC),
		Chaos:          time.Hour,
		Heal:           30 * time.Minute,
		ConvergeWithin: 20 * time.Minute,
		Topology: Topology{Stores: 1, Nodes: 3, Zones: 1, TimeZone: "America/Sao_Paulo",
			Uplink:      Link{Mbps: 10, Latency: 40 * time.Millisecond},
			LAN:         Link{Mbps: 100, Latency: 2 * time.Millisecond},
			AntiEntropy: 30 * time.Second, MemberDetect: 3 * time.Second},
		Content:  Content{Music: 12, Track: 3 * time.Minute, SizeKB: 3000, Emergency: 2},
		Swarm:    Swarm{MaxEpisode: 10 * time.Minute},
		Timeline: nil,
	}
}

// LoadScenario reads and validates a scenario file.
func LoadScenario(path string) (Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return Scenario{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxScenarioBytes+1))
	if err != nil {
		return Scenario{}, err
	}
	if len(b) > MaxScenarioBytes {
		return Scenario{}, fmt.Errorf("sim: scenario %s is larger than %d bytes", path, MaxScenarioBytes)
	}
	return ParseScenario(b)
}

// ParseScenario decodes YAML over DefaultScenario and validates the result. Unknown fields are errors.
func ParseScenario(b []byte) (Scenario, error) {
	sc := DefaultScenario()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && err != io.EOF {
		return Scenario{}, fmt.Errorf("sim: scenario: %w", err)
	}
	if err := sc.validate(); err != nil {
		return Scenario{}, err
	}
	return sc, nil
}

var stepKinds = map[string]bool{"partition": true, "heal": true, "crash": true, "restart": true,
	"uplink_down": true, "uplink_up": true, "origin_down": true, "origin_up": true, "origin_5xx": true,
	"disk_full": true, "disk_ok": true, "clock": true, "loss": true, "latency": true, "bad_bytes": true,
	"replay": true, "undecodable": true, "upload": true}

// Bounds keep a scenario inside what one machine simulates.
const (
	maxStores = 200
	maxNodes  = 200
	maxAssets = 10_000
	maxRun    = 60 * 24 * time.Hour
	maxMbps   = 100_000     // 100 Gbit/s: beyond any store's link
	maxDelay  = time.Minute // one-way latency of a link
	maxSizeKB = 1 << 20     // 1 GiB per track
)

// checkLink bounds a link: a positive finite bandwidth, a latency within [0, maxDelay], a loss within [0, 1).
func checkLink(name string, l Link) error {
	switch {
	case !(l.Mbps > 0 && l.Mbps <= maxMbps):
		return fmt.Errorf("sim: %s.mbps %v outside (0, %d]", name, l.Mbps, maxMbps)
	case l.Latency < 0 || l.Latency > maxDelay:
		return fmt.Errorf("sim: %s.latency %v outside [0, %v]", name, l.Latency, maxDelay)
	case !(l.Loss >= 0 && l.Loss < 1):
		return fmt.Errorf("sim: %s.loss %v outside [0, 1)", name, l.Loss)
	}
	return nil
}

func (s *Scenario) validate() error {
	t := &s.Topology
	switch {
	case t.Stores < 1 || t.Stores > maxStores:
		return fmt.Errorf("sim: topology.stores %d outside 1..%d", t.Stores, maxStores)
	case t.Nodes < 1 || t.Nodes > maxNodes:
		return fmt.Errorf("sim: topology.nodes %d outside 1..%d", t.Nodes, maxNodes)
	case t.Zones < 1 || t.Zones > t.Nodes:
		return fmt.Errorf("sim: topology.zones %d outside 1..nodes", t.Zones)
	case t.AntiEntropy < time.Second:
		return fmt.Errorf("sim: anti_entropy %v below 1s", t.AntiEntropy)
	case s.Chaos <= 0 || s.Heal < 0 || s.Chaos+s.Heal > maxRun:
		return fmt.Errorf("sim: chaos %v + heal %v must be positive and at most %v", s.Chaos, s.Heal, maxRun)
	case s.Start.IsZero():
		return fmt.Errorf("sim: start is required")
	}
	if err := checkLink("uplink", t.Uplink); err != nil {
		return err
	}
	if err := checkLink("lan", t.LAN); err != nil {
		return err
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil {
		return fmt.Errorf("sim: time_zone: %w", err)
	}
	c := &s.Content
	// Each count on its own: a negative one would let another exceed the bound through the sum.
	if c.Music < 1 || c.Spots < 0 || c.Emergency < 0 || c.Music > maxAssets || c.Spots > maxAssets ||
		c.Emergency > maxAssets || c.Music+c.Spots+c.Emergency > maxAssets {
		return fmt.Errorf("sim: content needs 1..%d assets (music at least 1, none negative)", maxAssets)
	}
	if c.Track < time.Second || c.Track > maxRun || c.SizeKB < 1 || c.SizeKB > maxSizeKB {
		return fmt.Errorf("sim: content.track must be within 1s..%v and size_kb within 1..%d", maxRun, maxSizeKB)
	}
	if c.SpotEvery < 0 || (c.SpotEvery > 0 && c.Spots == 0) {
		return fmt.Errorf("sim: spot_every needs spots")
	}
	for i, st := range s.Timeline {
		if !stepKinds[st.Do] {
			return fmt.Errorf("sim: timeline[%d]: unknown step %q", i, st.Do)
		}
		if st.At < 0 || st.At > s.Chaos {
			return fmt.Errorf("sim: timeline[%d]: at %v outside the chaos phase 0..%v", i, st.At, s.Chaos)
		}
		if st.Store < 0 || st.Store >= t.Stores || st.Node < 0 || st.Node >= t.Nodes {
			return fmt.Errorf("sim: timeline[%d]: store %d node %d out of range", i, st.Store, st.Node)
		}
		for _, g := range st.Groups {
			for _, n := range g {
				if n < 0 || n >= t.Nodes {
					return fmt.Errorf("sim: timeline[%d]: node %d out of range", i, n)
				}
			}
		}
		if st.Do == "clock" && st.Set != "" && st.Set != "1970" && st.Set != "+1y" {
			return fmt.Errorf("sim: timeline[%d]: clock set %q must be 1970 or +1y", i, st.Set)
		}
		if st.Do == "undecodable" && (st.Asset < 0 || st.Asset >= c.Music) {
			return fmt.Errorf("sim: timeline[%d]: asset %d out of range", i, st.Asset)
		}
		if !(st.Rate >= 0 && st.Rate <= 1) || st.Latency < 0 || st.Latency > maxDelay || st.RetryAfter < 0 ||
			st.RetryAfter > maxRun || !(st.DriftPPM >= -1e6 && st.DriftPPM <= 1e6) {
			return fmt.Errorf("sim: timeline[%d]: rate within [0, 1], latency within [0, %v], retry_after and "+
				"drift_ppm (within ±1e6) out of range", i, maxDelay)
		}
		if st.Do == "upload" && (st.Count < 1 || st.Count > 1000) {
			return fmt.Errorf("sim: timeline[%d]: upload count %d outside 1..1000", i, st.Count)
		}
	}
	if s.Swarm.Faults < 0 || s.Swarm.Faults > 100_000 {
		return fmt.Errorf("sim: swarm.faults %d outside 0..100000", s.Swarm.Faults)
	}
	for _, k := range s.Swarm.Kinds {
		ok := false
		for _, v := range SwarmKinds {
			ok = ok || v == k
		}
		if !ok {
			return fmt.Errorf("sim: swarm kind %q unknown (known: %v)", k, SwarmKinds)
		}
	}
	if s.Swarm.MaxEpisode <= 0 {
		s.Swarm.MaxEpisode = 10 * time.Minute
	}
	if s.ConvergeWithin <= 0 {
		return fmt.Errorf("sim: converge_within must be positive")
	}
	return nil
}
