package sim

import (
	"errors"
	"time"

	"github.com/lomuz/lomuz/node"
	"github.com/lomuz/lomuz/player/schedule"
)

// The simulated sink performs PlayCommands in virtual time as the audio engine would: PlayNow starts at once,
// PlayNext follows the current track at its end, PlayStop silences the output; each track lasts its play length
// (the built-in jingle the selector's BuiltinLength). An asset marked undecodable fails instead of starting.

var errUndecodable = errors.New("sim: blob does not decode")

func (n *simNode) trackLength(cmd node.PlayCommand) time.Duration {
	if cmd.Builtin {
		return schedule.DefaultConfig().BuiltinLength
	}
	if l := cmd.Asset.PlayLength(); l > 0 {
		return l
	}
	return schedule.DefaultConfig().BuiltinLength
}

func (n *simNode) audio(cmd node.PlayCommand) {
	n.w.checkCommand(n, cmd)
	switch cmd.Kind {
	case node.PlayStop:
		n.queued = nil
		if n.playing == nil {
			n.w.tracef("%s audio stop", n.name)
		}
	case node.PlayNow:
		n.queued = nil
		n.start(cmd)
	case node.PlayNext:
		if n.playing == nil {
			n.start(cmd)
			return
		}
		c := cmd
		n.queued = &c
	}
}

// start begins cmd now (reported through the queue, as the engine reports from its own goroutine).
func (n *simNode) start(cmd node.PlayCommand) {
	w, gen := n.w, n.gen
	n.audioGen++
	ag := n.audioGen
	if !cmd.Builtin && w.undecodable(cmd.Asset.SHA256) {
		n.playing = nil
		w.after(0, func() {
			if n.gen == gen && n.audioGen == ag {
				n.step(node.AudioEvent{Kind: node.AudioFailed, Token: cmd.Token, Err: errUndecodable})
			}
		})
		return
	}
	c := cmd
	n.playing = &c
	length := n.trackLength(cmd)
	n.playingEnd = w.now + length
	w.checkStart(n, cmd, length)
	w.met.played(n, cmd, length)
	w.after(0, func() {
		if n.gen == gen && n.audioGen == ag {
			n.step(node.AudioEvent{Kind: node.AudioStarted, Token: cmd.Token})
		}
	})
	w.after(length, func() {
		if n.gen != gen || n.audioGen != ag {
			return
		}
		n.playing = nil
		if q := n.queued; q != nil {
			n.queued = nil
			n.start(*q) // the next track starts as this one ends; the engine reports the start first
		}
		w.after(0, func() {
			if n.gen == gen {
				n.step(node.AudioEvent{Kind: node.AudioEnded, Token: cmd.Token})
			}
		})
	})
}
