package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/lomuz/lomuz/crdt"
)

// forged is a replayed old state with one record's revision raised without a new signature: a malicious node
// trying to pin an old version. Every receiver must drop the forged record (its signature no longer verifies) and
// ignore the stale ones (lower revisions lose).
func forged(snap []byte) []byte {
	d, err := crdt.DecodeDelta(snap)
	if err != nil || len(d.Catalog.Records) == 0 {
		return snap
	}
	d.Catalog.Records[0].Rev += 1_000_000
	b, err := crdt.EncodeDelta(d)
	if err != nil {
		return snap
	}
	return b
}

func (w *world) scheduleTimeline() {
	for _, st := range w.sc.Timeline {
		st := st
		w.at(st.At, func() { w.apply(st) })
	}
}

// apply performs one timeline step.
func (w *world) apply(s Step) {
	if w.healing {
		return // the heal phase lifts faults; nothing new is injected
	}
	st := w.stores[s.Store]
	n := st.nodes[s.Node]
	w.tracef("fault %s store %d node %d", s.Do, s.Store, s.Node)
	switch s.Do {
	case "partition":
		for _, m := range st.nodes {
			m.side = 0
		}
		for g, members := range s.Groups {
			for _, i := range members {
				st.nodes[i].side = g + 1
			}
		}
		st.sides += len(s.Groups)
		st.membershipSoon()
	case "heal":
		w.healLAN(st)
	case "crash":
		n.crash(s.Torn)
	case "restart":
		if !n.up {
			if err := n.boot(); err != nil {
				w.violate(n, "internal", "restart: %v", err)
			}
		}
	case "uplink_down":
		st.uplinkDown = true
		st.uplink.failAll(errors.New("sim: uplink down"))
	case "uplink_up":
		st.uplinkDown = false
	case "origin_down":
		w.originDown = true
		for _, s := range w.stores {
			s.uplink.failAll(errors.New("sim: origin down"))
		}
	case "origin_up":
		w.originDown, w.origin5xx = false, 0
	case "origin_5xx":
		w.origin5xx = max(s.RetryAfter, time.Second)
	case "disk_full":
		n.disk.full = true
	case "disk_ok":
		n.disk.full = false
	case "clock":
		w.setClock(n, s.Set, s.DriftPPM)
	case "loss":
		st.loss = s.Rate
	case "latency":
		st.latency = s.Latency
	case "bad_bytes":
		if !n.badBytes && !n.wasBad {
			st.sides++ // its own cloud copy is useless to the others: one more crossing is allowed
		}
		n.badBytes, n.wasBad = true, true
	case "replay":
		n.replay = true
	case "undecodable":
		w.cat.byID[w.cat.music[s.Asset]].undecodable = true
	case "upload":
		w.upload(s.Count)
	}
}

func (w *world) setClock(n *simNode, set string, ppm float64) {
	switch set {
	case "1970":
		n.skew = time.Unix(0, 0).Sub(w.trueTime())
	case "+1y":
		n.skew = 365 * 24 * time.Hour
	}
	if ppm != 0 {
		n.driftPPM, n.driftFrom = ppm, w.now
	}
}

func (w *world) healLAN(st *simStore) {
	for _, m := range st.nodes {
		m.side = 0
	}
	st.membershipSoon()
}

// failAll ends every cloud transfer on the uplink with err (the link or origin went away).
func (u *uplink) failAll(err error) {
	u.advance()
	act := u.active
	u.active = nil
	u.reschedule()
	for _, t := range act {
		t.finish(err)
	}
}

// heal ends the chaos phase: every fault is lifted, crashed nodes restart, and the convergence clock starts.
// Clock faults stay: a device's clock is not fixed by the network healing, and trusted time must cope.
func (w *world) heal() {
	w.tracef("heal")
	w.originDown, w.origin5xx = false, 0
	for _, st := range w.stores {
		st.uplinkDown = false
		st.loss, st.latency = w.sc.Topology.LAN.Loss, w.sc.Topology.LAN.Latency
		for _, n := range st.nodes {
			n.disk.full, n.badBytes, n.replay = false, false, false
			if !n.up {
				if err := n.boot(); err != nil {
					w.violate(n, "internal", "restart at heal: %v", err)
				}
			}
		}
		w.healLAN(st)
	}
	w.healing, w.healAt = true, w.now
	w.after(5*time.Second, w.checkConvergence)
}

// scheduleSwarm draws the swarm's fault episodes from the seed and logs each.
func (w *world) scheduleSwarm() {
	sw := w.sc.Swarm
	kinds := sw.Kinds
	if len(kinds) == 0 {
		kinds = SwarmKinds
	}
	r := w.rndFaults
	top := w.sc.Topology
	for range sw.Faults {
		kind := kinds[r.IntN(len(kinds))]
		at := time.Duration(r.Int64N(int64(w.sc.Chaos)))
		dur := time.Second + time.Duration(r.Int64N(int64(sw.MaxEpisode)))
		s := Step{At: at, Store: r.IntN(top.Stores), Node: r.IntN(top.Nodes)}
		var undo *Step
		switch kind {
		case "partition":
			s.Do = "partition"
			cut := 1 + r.IntN(max(top.Nodes-1, 1))
			var a, b []int
			for i := range top.Nodes {
				if i < cut {
					a = append(a, i)
				} else {
					b = append(b, i)
				}
			}
			s.Groups = [][]int{a, b}
			undo = &Step{Do: "heal"}
		case "crash":
			s.Do, s.Torn = "crash", r.IntN(2) == 0
			undo = &Step{Do: "restart"}
		case "uplink":
			s.Do, undo = "uplink_down", &Step{Do: "uplink_up"}
		case "origin":
			s.Do, undo = "origin_down", &Step{Do: "origin_up"}
		case "origin_5xx":
			s.Do, s.RetryAfter, undo = "origin_5xx", time.Duration(1+r.IntN(120))*time.Second, &Step{Do: "origin_up"}
		case "disk_full":
			s.Do, undo = "disk_full", &Step{Do: "disk_ok"}
		case "clock":
			s.Do = "clock"
			switch r.IntN(3) {
			case 0:
				s.Set = "1970"
			case 1:
				s.Set = "+1y"
			default:
				s.DriftPPM = float64(r.IntN(2001) - 1000)
			}
		case "loss":
			s.Do, s.Rate = "loss", r.Float64()*0.5
			undo = &Step{Do: "loss", Rate: top.LAN.Loss}
		case "bad_bytes":
			s.Do = "bad_bytes"
		case "replay":
			s.Do = "replay"
		case "upload":
			s.Do, s.Count = "upload", 1+r.IntN(5)
		}
		w.knob("swarm %s store %d node %d at %v for %v %s", s.Do, s.Store, s.Node, s.At, dur, describe(s))
		st := s
		w.at(st.At, func() { w.apply(st) })
		if undo != nil && at+dur < w.sc.Chaos {
			u := *undo
			u.At, u.Store, u.Node = at+dur, s.Store, s.Node
			w.at(u.At, func() { w.apply(u) })
		}
	}
}

func describe(s Step) string {
	switch s.Do {
	case "partition":
		return fmt.Sprintf("groups %v", s.Groups)
	case "crash":
		return fmt.Sprintf("torn %v", s.Torn)
	case "origin_5xx":
		return fmt.Sprintf("retry-after %v", s.RetryAfter)
	case "clock":
		return fmt.Sprintf("set %q drift %vppm", s.Set, s.DriftPPM)
	case "loss":
		return fmt.Sprintf("rate %.3f", s.Rate)
	case "upload":
		return fmt.Sprintf("count %d", s.Count)
	}
	return ""
}
