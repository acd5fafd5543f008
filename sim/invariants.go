package sim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lomuz/lomuz/crdt"
	"github.com/lomuz/lomuz/node"
	"github.com/lomuz/lomuz/origin/api"
)

// Invariant names, as they appear in reports.
const (
	RuleWindow      = "played-outside-window"
	RuleUnverified  = "unverified-blob-played"
	RuleDeadAir     = "dead-air-with-eligible-blob"
	RuleUplink      = "blob-crossed-uplink-twice"
	RuleConvergence = "catalog-not-converged"
	RulePlayLost    = "play-event-lost"
	// RuleState: a node's whole state no longer encodes, so it has neither a snapshot nor a push/pull state.
	RuleState = "state-not-encodable"
	// RuleInventory: at the end of heal, a node's view of which blobs a peer holds differs from what that peer's
	// cache holds (peers would fetch from a node that lacks the blob, or never from one that has it).
	RuleInventory = "inventory-not-converged"
)

// Violation is one broken invariant.
type Violation struct {
	At     time.Duration `json:"at_ns"`
	Node   string        `json:"node,omitempty"`
	Rule   string        `json:"rule"`
	Detail string        `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("at %v %s %s: %s", v.At, v.Node, v.Rule, v.Detail)
}

func (w *world) violate(n *simNode, rule, format string, args ...any) {
	v := Violation{At: w.now, Node: nameOf(n), Rule: rule, Detail: fmt.Sprintf(format, args...)}
	if n == nil {
		v.Node = ""
	}
	w.met.violations++
	w.tracef("VIOLATION %s", v)
	if len(w.violations) < w.opts.MaxViolations {
		w.violations = append(w.violations, v)
	}
}

func (w *world) undecodable(sha string) bool {
	a := w.cat.bySHA[sha]
	return a != nil && a.undecodable
}

func (w *world) assetName(id string) string {
	if a := w.cat.byID[id]; a != nil {
		return a.name
	}
	if id == "" {
		return "-"
	}
	return id
}

func (w *world) blobName(sha string) string {
	if a := w.cat.bySHA[sha]; a != nil {
		return a.name
	}
	return sha[:min(12, len(sha))]
}

// checkCommand runs when the core hands a track to the sink: an asset must be a verified blob on this node, and
// a fallback to the jingle or silence must not happen while an eligible blob is held.
func (w *world) checkCommand(n *simNode, cmd node.PlayCommand) {
	if cmd.Builtin || cmd.Kind == node.PlayStop {
		if a := w.eligibleHeld(n); a != nil {
			w.violate(n, RuleDeadAir, "fell back to %s while holding eligible %s", levelName(cmd), a.name)
		}
		return
	}
	if !n.disk.cache[cmd.Asset.SHA256] {
		w.violate(n, RuleUnverified, "asked to play %s whose blob is not verified in its cache",
			w.blobName(cmd.Asset.SHA256))
	}
}

// checkStart runs when a track starts: its whole play must lie inside the window origin holds for the asset,
// measured in true time, to the second.
func (w *world) checkStart(n *simNode, cmd node.PlayCommand, length time.Duration) {
	if cmd.Builtin {
		return
	}
	a := w.cat.byID[cmd.Asset.ID]
	if a == nil {
		return
	}
	start := w.trueTime()
	end := start.Add(length)
	if a.from != nil && start.Truncate(time.Second).Before(*a.from) {
		w.violate(n, RuleWindow, "%s started at %s before valid_from %s", a.name, start.Format(time.RFC3339),
			a.from.Format(time.RFC3339))
	}
	if a.until != nil && end.Truncate(time.Second).After(*a.until) {
		w.violate(n, RuleWindow, "%s plays until %s after valid_until %s", a.name, end.Format(time.RFC3339),
			a.until.Format(time.RFC3339))
	}
}

func levelName(cmd node.PlayCommand) string {
	if cmd.Kind == node.PlayStop {
		return crdt.FallbackSilence
	}
	return crdt.FallbackBuiltin
}

// eligibleHeld returns an asset the node could play whatever its clock says: an undated, decodable blob it holds
// verified, whose signed record it knows, and which is emergency-eligible or in the scheduled playlist as the node
// knows it. Nil when there is none.
func (w *world) eligibleHeld(n *simNode) *simAsset {
	cat := n.core.State().Catalog()
	var scheduled map[string]bool
	if _, ok := live(cat, "schedule/"); ok {
		if r, ok := cat.Get("playlist/" + w.cat.musicPL); ok && !r.Deleted {
			var p api.Playlist
			if json.Unmarshal(r.Body, &p) == nil {
				scheduled = map[string]bool{}
				for _, id := range p.AssetIDs {
					scheduled[id] = true
				}
			}
		}
	}
	shas := make([]string, 0, len(n.disk.cache))
	for sha := range n.disk.cache {
		shas = append(shas, sha)
	}
	slices.Sort(shas)
	for _, sha := range shas {
		a := w.cat.bySHA[sha]
		if a == nil || a.undecodable || a.from != nil || a.until != nil {
			continue
		}
		if r, ok := cat.Get("asset/" + a.id); !ok || r.Deleted {
			continue
		}
		if a.emergency || scheduled[a.id] {
			return a
		}
	}
	return nil
}

// live reports whether the catalog holds any live record under prefix.
func live(cat *crdt.Catalog, prefix string) (crdt.Record, bool) {
	for _, r := range cat.Records(prefix) {
		if !r.Deleted {
			return r, true
		}
	}
	return crdt.Record{}, false
}

// checkConvergence runs every 5 s of the heal phase: a store has converged when all its nodes are up and hold
// origin's newest revision with origin's state hash.
func (w *world) checkConvergence() {
	pending := false
	for _, st := range w.stores {
		if st.healConvAt >= 0 {
			continue
		}
		if w.storeConverged(st) {
			st.healConvAt = w.now - w.healAt
			w.tracef("store %d converged %v after heal", st.idx, st.healConvAt)
			continue
		}
		pending = true
	}
	if pending {
		w.after(5*time.Second, w.checkConvergence)
	}
}

func (w *world) storeConverged(st *simStore) bool {
	for _, n := range st.nodes {
		if !n.up {
			return false
		}
		c := n.core.State().Catalog()
		h := c.StateHash()
		if c.Watermark() != w.met.maxRev || h.Hex() != w.met.maxHash {
			return false
		}
	}
	return true
}

// finalChecks runs after the heal phase: convergence within the bound, and every persisted play event at origin.
func (w *world) finalChecks() {
	for _, st := range w.stores {
		if st.healConvAt < 0 || st.healConvAt > w.sc.ConvergeWithin {
			var behind []string
			for _, n := range st.nodes {
				if !n.up || n.core.State().Catalog().Watermark() != w.met.maxRev {
					behind = append(behind, n.name)
				}
			}
			w.violate(nil, RuleConvergence, "store %d not converged within %v of heal (converged after %v; behind: %v)",
				st.idx, w.sc.ConvergeWithin, st.healConvAt, behind)
		}
	}
	w.checkInventories()
	have, err := w.org.plays(w.ctx)
	if err != nil {
		w.violate(nil, "internal", "reading origin's play log: %v", err)
		return
	}
	for _, n := range w.nodes {
		var missing []uint64
		due := 0
		for _, ev := range w.met.events[n.id] {
			if ev.at > w.healAt {
				continue // played during the heal phase: may still be on its way
			}
			due++
			if !have[n.id][ev.seq] {
				missing = append(missing, ev.seq)
			}
		}
		if len(missing) > 0 {
			w.violate(n, RulePlayLost, "origin lacks %d of the %d play events persisted before heal (first seq %d)",
				len(missing), due, missing[0])
		}
	}
}

// checkInventories compares, at the end of heal, every up node's view of each up peer's held blobs (and the
// peer's own) with the blobs in the peer's cache.
func (w *world) checkInventories() {
	for _, st := range w.stores {
		for _, o := range st.nodes {
			if !o.up {
				continue
			}
			for _, n := range st.nodes {
				if !n.up {
					continue
				}
				inv := n.core.State().Inventory()
				var wrong []string
				for _, it := range inv.Items(o.id) {
					if sha := hex.EncodeToString(it.SHA[:]); it.State == crdt.BlobHeld && !o.disk.cache[sha] {
						wrong = append(wrong, sha[:8]+" held, not cached")
					}
				}
				for sha := range o.disk.cache {
					if h, err := crdt.ParseSHA256(sha); err == nil {
						if it, ok := inv.Blob(o.id, h); !ok || it.State != crdt.BlobHeld {
							wrong = append(wrong, sha[:8]+" cached, not held")
						}
					}
				}
				if len(wrong) > 0 {
					slices.Sort(wrong)
					w.violate(n, RuleInventory, "%s's view of %s: %d blobs differ from its cache (%v)", n.name, o.name,
						len(wrong), wrong)
				}
			}
		}
	}
}
